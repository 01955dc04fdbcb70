"""What a page that verifies on its own needs (the scanner page, offline), and its checks back.

- ``GET /scan/root-key.pem`` (open, served with the page): the registry's root public key the
  verifier is pinned to (``ECERT_ROOT_PUBLIC_KEY``), for the page to pin the trust list to.
- ``GET /v1/trust-list/root-chain.cbor``: every root rotation's announcement, oldest first, as a
  CBOR array of the signed lists (byte strings; empty when the root never rotated), which lead
  from the pinned key to the root signing the trust list now.
- ``GET /v1/status-lists?uri=URI``: one signed status list (COSE_Sign1 bytes as its region signed
  them), ``ETag`` its iat, ``Cache-Control`` its ttl; ``If-None-Match`` with the ``ETag`` held: 304
  unless a newer one was signed since. ``?region=CODE``: every shard of the region, a CBOR array of
  the signed lists (byte strings), those signed at or after ``since=<iat>`` when named; its ``ETag``
  is the version of all the region's shards (304 to an ``If-None-Match`` while no shard was signed
  anew); ``ECert-Next-Shard`` when the size bound cut the answer short (ask again with
  ``from_shard``). A page keeping every shard asks with the ``ETag`` it holds and ``since`` the
  newest iat it holds ("at or after": a shard signed anew within that same second comes too).
- ``POST /v1/verifications:offline``: the checks the page made offline, into their regions' trails
  once each by id (:mod:`ecert.rules.offline`).

The gateway translates only: the verifier checks who asks, fetches and checks the lists, and
delivers the checks (``FetchStatusLists``, ``RecordOfflineChecks``).
"""

from __future__ import annotations

import re
from datetime import datetime

import cbor2
from aiohttp import web

from ecert.errors import InvalidRequest, NotFound
from ecert.format import keys, statuslist
from ecert.limits import MAX_CLIENT_ID, MAX_EPOCH, MAX_OFFLINE_CHECKS
from ecertpb.v1 import verifier_pb2

from .. import access
from ..answers import json_response
from ..clients import VERIFIER
from ..http import etag_matches, get, judged_purpose, pb_principal, read_json
from ..keys import BACKENDS, CONFIG

routes = web.RouteTableDef()

NEXT_SHARD = "ECert-Next-Shard"
"""The header of a region's lists cut short by the size bound: the shard to ask ``from_shard`` next."""
_CHECK_MEMBERS = frozenset({"id", "credential_id", "region", "result", "purpose", "checked_at"})
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})")
_ETAG = re.compile(r'\s*(?:W/)?"(\d{1,15})"\s*')
_MAX_TEXT = 128  # characters of a check's text members other than the id (ids and codes are far shorter)


# -- the root key the page pins ----------------------------------------------------------------------

def root_key_pem(pem: bytes) -> tuple[bytes, str]:
    """The configured root public key as SubjectPublicKeyInfo PEM, and its kid (hex)."""
    key = keys.public_from_pem(pem)
    return keys.public_pem(key), key.kid.hex()


@routes.get("/scan/root-key.pem")
async def root_key(request: web.Request) -> web.Response:
    pem = request.app[CONFIG].root_public_key_pem
    if not pem:
        raise NotFound("no root public key is configured for this gateway")
    text, kid = root_key_pem(pem)
    etag = f'"{kid}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=text, content_type="application/x-pem-file", headers=headers)


# -- the root chain --------------------------------------------------------------------------------

@routes.get("/v1/trust-list/root-chain.cbor")
async def root_chain(request: web.Request) -> web.Response:
    access.check(request)
    tl = await request.app[BACKENDS].trust_list.get()
    etag = f'"{tl.version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=cbor2.dumps(list(tl.root_chain)), content_type="application/cbor", headers=headers)


# -- status lists ----------------------------------------------------------------------------------

def _query_int(request: web.Request, name: str, high: int) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15 or int(raw) > high:
        raise InvalidRequest(f"{name} must be a whole number from 0 to {high}", field=name,
                             key="field.OUT_OF_RANGE", params={"min": 0, "max": high})
    return int(raw)


def _held_iat(request: web.Request) -> int:
    """The iat an ``If-None-Match`` names (a list's ``ETag``), 0 for none or another kind."""
    m = _ETAG.fullmatch(request.headers.get("If-None-Match", ""))
    return int(m.group(1)) if m and int(m.group(1)) <= MAX_EPOCH else 0


@routes.get("/v1/status-lists")
async def status_lists(request: web.Request) -> web.Response:
    access.check(request)
    uri, region = request.query.get("uri", ""), request.query.get("region", "")
    if len(uri) > statuslist.MAX_URI:
        raise InvalidRequest(f"uri has at most {statuslist.MAX_URI} characters", field="uri",
                             key="field.TOO_LONG", params={"max": statuslist.MAX_URI})
    if len(region) > 64:
        raise InvalidRequest("region must be a region code such as CN-ZJ", field="region", key="field.REGION_FORMAT")
    since = max(_query_int(request, "since", MAX_EPOCH) - 1, 0)  # "at or after" as the services' "after"
    if uri:
        since = max(since, _held_iat(request))  # the iat held: only a newer one
    from_shard = _query_int(request, "from_shard", statuslist.MAX_SHARD)
    be = request.app[BACKENDS]
    got = await be.ask(VERIFIER, be.verifier.FetchStatusLists(verifier_pb2.FetchStatusListsRequest(
        principal=pb_principal(request), uri=uri, region=region, since=since, from_shard=from_shard),
        timeout=be.bulk_timeout))
    lists = got.lists
    if uri:
        if not lists:  # the one held is the newest
            return web.Response(status=304, headers={"ETag": request.headers.get("If-None-Match", f'"{since}"'),
                                                     "Cache-Control": "private, no-cache"})
        s = lists[0]
        return web.Response(body=s.signed, content_type="application/cose", headers={
            "ETag": f'"{s.iat}"', "Cache-Control": f"private, max-age={s.ttl}"})
    headers = {"Cache-Control": f"private, max-age={min(s.ttl for s in lists)}" if lists else "private, no-cache"}
    if got.next_shard:
        headers[NEXT_SHARD] = str(got.next_shard)  # the rest to come: no validator for a part
    else:
        etag = f'"v{got.version}"'  # every shard's uri and iat: the same while none is signed anew
        headers["ETag"] = etag
        if etag_matches(request, etag):
            return web.Response(status=304, headers=headers | {"Cache-Control": "private, no-cache"})
    return web.Response(body=cbor2.dumps([s.signed for s in lists]), content_type="application/cbor",
                        headers=headers)


# -- checks made offline ---------------------------------------------------------------------------

def _instant(value: str, field: str) -> int:
    """RFC 3339 text with its offset as epoch seconds, else 400 naming ``field``."""
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError(value)
        seconds = int(datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp())
    except (ValueError, OverflowError, OSError) as err:
        raise InvalidRequest(f"{field} must be an RFC 3339 time (2026-01-01T08:00:00+08:00)", field=field,
                             key="field.FORMAT", params={"format": "RFC 3339 time"}) from err
    if not 0 <= seconds <= MAX_EPOCH:
        raise InvalidRequest(f"{field} must be from 1970 to epoch second {MAX_EPOCH}", field=field,
                             key="field.FORMAT", params={"format": "RFC 3339 time"})
    return seconds


def _check(request: web.Request, i: int, item: object) -> verifier_pb2.OfflineCheck:
    name = f"checks[{i}]"
    if not isinstance(item, dict):
        raise InvalidRequest(f"{name} must be an object", field=name, key="field.WRONG_TYPE",
                             params={"type": "object"})
    if not _CHECK_MEMBERS.issuperset(item):
        raise InvalidRequest(f"{name} holds a member other than {', '.join(sorted(_CHECK_MEMBERS))}", field=name,
                             key="field.INVALID")
    texts = {}
    for member in ("id", "credential_id", "region", "result", "checked_at", "purpose"):
        value = item.get(member)
        field = f"{name}.{member}"
        if value is None and member == "purpose":
            value = ""
        elif value is None:
            raise InvalidRequest(f"{field} is required", field=field, key="field.REQUIRED")
        if not isinstance(value, str):
            raise InvalidRequest(f"{field} has the wrong type", field=field, key="field.WRONG_TYPE",
                                 params={"type": "string"})
        limit = MAX_CLIENT_ID if member == "id" else _MAX_TEXT
        if len(value) > limit:
            raise InvalidRequest(f"{field} is over {limit} characters", field=field, key="field.TOO_LONG",
                                 params={"max": limit})
        texts[member] = value
    try:
        purpose = judged_purpose(request, texts["purpose"])  # the key's own purposes (a key narrowed to some)
    except InvalidRequest as err:
        raise InvalidRequest(str(err), code=err.code, field=f"{name}.purpose", key=err.key,
                             params=err.params) from err
    return verifier_pb2.OfflineCheck(id=texts["id"], credential_id=texts["credential_id"], region=texts["region"],
                                     result=texts["result"], purpose=purpose,
                                     checked_at=_instant(texts["checked_at"], f"{name}.checked_at"))


@routes.post("/v1/verifications:offline")
async def offline_checks(request: web.Request) -> web.Response:
    access.check(request)
    data = await read_json(request)
    items = get(data, "checks", list, required=True)
    if not items:
        raise InvalidRequest("checks must hold at least one check", field="checks", key="field.REQUIRED")
    if len(items) > MAX_OFFLINE_CHECKS:
        raise InvalidRequest(f"at most {MAX_OFFLINE_CHECKS} checks in one call", field="checks",
                             key="field.TOO_MANY", params={"max": MAX_OFFLINE_CHECKS})
    checks = [_check(request, i, item) for i, item in enumerate(items)]
    be = request.app[BACKENDS]
    got = await be.ask(VERIFIER, be.verifier.RecordOfflineChecks(verifier_pb2.RecordOfflineChecksRequest(
        principal=pb_principal(request), checks=checks), timeout=be.bulk_timeout))
    return json_response({"accepted": got.accepted, "duplicates": got.duplicates, "ignored": got.ignored})
