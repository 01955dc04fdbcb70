"""Credential routes: issuing, records and their QR codes, status changes.

Who may read which record is the core's rule (:func:`ecert.rules.access.record_regions`,
through :func:`gateway.access.readable_regions`); this module only asks those regions' issuers.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from ecert.errors import NotFound, Unavailable
from ecert.format.credential import looks_like_id
from ecert.imaging import qr
from ecert.limits import MAX_TYPE_VERSION
from ecert.rules.requests import check_valid_days
from ecert.rules.schema import check_region_code
from ecert.vocab import StatusAction
from ecertpb.v1 import issuer_pb2

from .. import access
from ..answers import credential_json, json_response
from ..clients import issuer_name
from ..http import get, get_int, pb_principal, read_json
from ..keys import BACKENDS, QR_CACHE

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


@routes.get("/v1/credentials/{id:[^/:]+}")
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
