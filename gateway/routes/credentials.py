"""Credential routes: issuing, records and their QR codes, status changes, the region's search.

Who may read which record is the core's rule (:func:`ecert.rules.access.record_regions`,
through :func:`gateway.access.readable_regions`); this module only asks those regions' issuers.
A search (``GET /v1/credentials``) goes to the one region it names (an agency's own when it names
none; an admin names one): its issuer checks the filters again, hashes the holder's ID number,
pages and records the search in the trail (:mod:`services.issuer.search`); the gateway reads the
query, refuses what is malformed and writes the answer.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from datetime import datetime

from aiohttp import web

from ecert.errors import InvalidRequest, NotFound, Unavailable
from ecert.format.credential import looks_like_id
from ecert.imaging import qr
from ecert.limits import MAX_CURSOR, MAX_HOLDER_ID, MAX_PURPOSE, MAX_SEARCH_PAGE, MAX_TYPE_VERSION
from ecert.rules import search
from ecert.rules.requests import check_valid_days
from ecert.rules.schema import check_region_code
from ecert.vocab import Role, StatusAction
from ecertpb.v1 import issuer_pb2

from .. import access
from ..answers import credential_json, iso, json_response
from ..clients import issuer_name
from ..http import get, get_int, judged_purpose, pb_principal, read_json
from ..keys import BACKENDS, PRINCIPAL, QR_CACHE

routes = web.RouteTableDef()
_QR_KINDS = {"png": (qr.png, "image/png"), "svg": (qr.svg, "image/svg+xml")}
_STATUS_ACTIONS = {StatusAction.REVOKE: issuer_pb2.REVOKE, StatusAction.SUSPEND: issuer_pb2.SUSPEND,
                   StatusAction.REINSTATE: issuer_pb2.REINSTATE}


@routes.post("/v1/credentials")
async def issue_credential(request: web.Request) -> web.Response:
    access.check(request)
    data = await read_json(request)
    region = check_region_code(get(data, "region", str, required=True))
    access.check(request, region=region)
    fields = get(data, "fields", dict, required=True)
    req = issuer_pb2.IssueCredentialRequest(
        principal=pb_principal(request), type=get(data, "type", str, required=True),
        version=get_int(data, "version", 0, 0, MAX_TYPE_VERSION), fields_json=json.dumps(fields, ensure_ascii=False),
        valid_days=_valid_days(data), request_id=get(data, "request_id", str, ""))
    be = request.app[BACKENDS]
    issuer = await be.issuer_client(region)
    c = await be.ask(issuer_name(region), issuer.issue.call(req), code="REGION_UNAVAILABLE")
    return json_response(credential_json(c), 201)


def _valid_days(data: dict) -> int:
    days = get(data, "valid_days", int)
    return 0 if days is None else check_valid_days(days)  # 0: the issuer's default


async def _find_credential(request: web.Request, cred_id: str):
    """The region holding ``cred_id`` and the record, among the regions the caller may read: all
    of them asked at once, each call within the backends' deadline; the first to hold it answers."""
    be = request.app[BACKENDS]
    if not looks_like_id(cred_id):
        raise NotFound("no such credential")
    regions = await access.readable_regions(request, be.issuer_regions)
    ref = issuer_pb2.CredentialRef(principal=pb_principal(request), id=cred_id.upper())

    async def ask(region: str):
        stub = await be.issuer(region)
        return region, await be.ask(issuer_name(region), stub.GetCredential(ref, timeout=be.timeout),
                                    code="REGION_UNAVAILABLE")

    pending = {asyncio.ensure_future(ask(region)): region for region in regions}
    unreachable = []
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                region = pending.pop(task)
                try:
                    return task.result()
                except NotFound:
                    continue
                except Unavailable:
                    unreachable.append(region)  # it may be there: say so rather than "not found"
    finally:
        for task in pending:
            task.cancel()
    if unreachable:
        unreachable.sort()
        raise Unavailable(f"not found in the regions reachable now; unreachable: {', '.join(unreachable)}",
                          code="REGION_UNAVAILABLE")
    raise NotFound("no such credential")


def credential_id(request: web.Request) -> str:
    """The path's credential id, upper-case; any text that is not one is 404, as an unknown id is."""
    cred_id = request.match_info["id"]
    if not looks_like_id(cred_id):
        raise NotFound("no such credential")
    return cred_id.upper()


async def record_region(request: web.Request, cred_id: str) -> str:
    """The region whose issuer holds ``cred_id``, among those the caller may read: an agency's own
    (its issuer says whether it holds it), else the one that answers for it (:func:`_find_credential`)."""
    regions = await access.readable_regions(request, request.app[BACKENDS].issuer_regions)
    if len(regions) == 1:
        return regions[0]
    region, _ = await _find_credential(request, cred_id)
    return region


@routes.get("/v1/credentials/{id:[^/]+}")  # a ":" too: no credential id has one (404, never 405)
async def get_credential(request: web.Request) -> web.Response:
    _, c = await _find_credential(request, request.match_info["id"])
    return json_response(credential_json(c))


@routes.get("/v1/credentials/{id:[^/:]+}/qr.{kind:png|svg}")
async def credential_qr(request: web.Request) -> web.Response:
    """The credential's QR code as PNG or SVG, drawn on first request (off the event loop) and kept."""
    kind = request.match_info["kind"]
    draw, content_type = _QR_KINDS[kind]
    _, c = await _find_credential(request, request.match_info["id"])
    cache = request.app[QR_CACHE]
    image = cache.get((c.id, kind))
    if image is None:
        image = await asyncio.get_running_loop().run_in_executor(None, draw, c.qr_text)
        cache.put((c.id, kind), image)
    return web.Response(body=image, content_type=content_type, headers={"Cache-Control": "private, max-age=300"})


@routes.post("/v1/credentials/{id:[^/:]+}:{action}")
async def change_status(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in _STATUS_ACTIONS:
        raise NotFound(f"unknown action :{action}")
    access.check(request)
    region, c = await _find_credential(request, request.match_info["id"])
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    c = await be.ask(issuer_name(region), stub.ChangeStatus(issuer_pb2.ChangeStatusRequest(
        principal=pb_principal(request), id=c.id, action=_STATUS_ACTIONS[action]), timeout=be.timeout),
        code="REGION_UNAVAILABLE")
    return json_response({"id": c.id, "status": c.status})


# -- the region's search -------------------------------------------------------------------------

SEARCH_PARAMETERS = ("region", "type", "status", "issued_after", "issued_before", "holder_id", "limit", "cursor",
                     "purpose")
"""What ``GET /v1/credentials`` takes in its query; any other parameter is 400 (a misspelt filter
would otherwise answer every credential)."""
_PARAMETER_LENGTHS = {"region": 16, "type": 64, "status": 16, "issued_after": 40, "issued_before": 40,
                      "holder_id": MAX_HOLDER_ID, "limit": 8, "cursor": MAX_CURSOR, "purpose": MAX_PURPOSE}
_NAME = re.compile(r"[a-z_]{1,32}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?(?:[Zz]|[+-]\d{2}:\d{2})")
PRIVATE = {"Cache-Control": "no-store"}
"""A search names a region's holders' credentials: no copy kept on the way."""


def _query(request: web.Request) -> dict[str, str]:
    """The search's parameters, each given once and within its length, else 400 naming it."""
    out: dict[str, str] = {}
    for name in request.query:
        if name not in SEARCH_PARAMETERS:
            raise InvalidRequest(f"unknown query parameter: a search takes {', '.join(SEARCH_PARAMETERS)}",
                                 field=name if _NAME.fullmatch(name) else None)
        values = request.query.getall(name)
        if len(values) > 1:
            raise InvalidRequest(f"{name} is given more than once", field=name)
        if len(values[0]) > _PARAMETER_LENGTHS[name]:
            raise InvalidRequest(f"{name} is over {_PARAMETER_LENGTHS[name]} characters", field=name)
        out[name] = values[0]
    return out


def parse_instant(text: str, name: str) -> int:
    """An RFC 3339 time with its offset (``2026-01-01T00:00:00Z``) as epoch seconds, rounded up (a
    bound in a fraction of a second takes the next whole one: issue times are whole seconds); ``""``:
    0 (no bound). 400 naming ``name`` for any other text, or a time before 1970-01-01T00:00:01Z."""
    if not text:
        return 0
    m = _RFC3339.fullmatch(text)
    try:
        if m is None:
            raise ValueError
        fraction = m[1] or ""
        whole = text[:m.start(1) - 1] + text[m.end(1):] if fraction else text
        instant = datetime.fromisoformat(whole.upper().replace("Z", "+00:00").replace(" ", "T")).timestamp()
        seconds = math.ceil(instant + (int(fraction) / 10 ** len(fraction) if fraction else 0))
    except (ValueError, OverflowError, OSError) as err:
        raise InvalidRequest(f"{name} must be an RFC 3339 time with its offset, e.g. 2026-01-01T00:00:00Z",
                             field=name) from err
    if seconds <= 0:
        raise InvalidRequest(f"{name} must be after 1970-01-01T00:00:00Z", field=name)
    return seconds


def _search_region(request: web.Request, q: dict[str, str]) -> str:
    """The region searched: the query's ``region``, or an agency's own; an admin names one."""
    region = q.get("region")
    if region is None:
        if request[PRINCIPAL].role != Role.AGENCY:
            raise InvalidRequest("region is required (?region=CN-ZJ): the credentials of which region",
                                 field="region")
        region = request[PRINCIPAL].region
    return check_region_code(region)


def _search_limit(text: str | None) -> int:
    if text is None or text == "":
        return search.check_limit(0)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_SEARCH_PAGE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_SEARCH_PAGE}", field="limit")
    return int(text)


def summary_json(c: issuer_pb2.CredentialSummary) -> dict:
    """A credential as a search answers it: no field of the document, no QR text."""
    out = {"id": c.id, "region": c.region, "type": c.type, "version": c.version, "status": c.status,
           "issued_at": iso(c.issued_at), "expires_at": iso(c.expires_at)}
    if c.display_id:
        out["display_id"] = c.display_id
    return out


@routes.get("/v1/credentials")
async def list_credentials(request: web.Request) -> web.Response:
    """The region's credentials matching the filters, newest first, a page at a time."""
    access.check(request)
    q = _query(request)
    region = _search_region(request, q)
    access.check(request, region=region)
    issued_from, issued_before = search.check_issued(parse_instant(q.get("issued_after", ""), "issued_after"),
                                                     parse_instant(q.get("issued_before", ""), "issued_before"))
    holder_id = q.get("holder_id", "")
    if holder_id:
        search.normalise_holder_id(holder_id)  # refused here, hashed by the issuer only
    req = issuer_pb2.ListCredentialsRequest(
        principal=pb_principal(request), type=search.check_type_filter(q.get("type", "")),
        status=search.check_status_filter(q.get("status", "")), issued_from=issued_from,
        issued_before=issued_before, holder_id=holder_id, limit=_search_limit(q.get("limit")),
        cursor=q.get("cursor", ""), purpose=judged_purpose(request, q.get("purpose", "")))
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    page = await be.ask(issuer_name(region), stub.ListCredentials(req, timeout=be.timeout), code="REGION_UNAVAILABLE")
    answer = json_response({"items": [summary_json(c) for c in page.credentials],
                            "next_cursor": page.next_cursor or None})
    answer.headers.update(PRIVATE)
    return answer
