"""Who checked my licence: a credential's access log, read from its issuing region's trail.

``GET /v1/credentials/{id}/access-log?after=<seq>&limit=<n>`` (the issuing agency, on the holder's
behalf, and admin): the credential's entries oldest first, as the region recorded them (a check at
a verifier that could not reach the region for a while comes when it was delivered, with its own
time), each with the organisation, role and place (region) of whoever used it, the purpose, the
outcome and the chain's two hashes; never a key, never another credential. ``next`` is the ``seq``
to ask ``after`` for the next page, null after the last.
"""

from __future__ import annotations

from aiohttp import web

from ecert.errors import InvalidRequest
from ecert.limits import DEFAULT_TRAIL_PAGE, MAX_EPOCH, MAX_TRAIL_PAGE
from ecert.rules.trail import HOLDER_KEYS
from ecertpb.v1 import issuer_pb2

from ..answers import iso, json_response
from ..clients import issuer_name
from ..http import pb_principal
from ..keys import BACKENDS
from .credentials import credential_id, record_region

routes = web.RouteTableDef()
PRIVATE = {"Cache-Control": "no-store"}
"""A holder's access log is theirs: no copy kept on the way."""


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15 or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def entry_json(e: issuer_pb2.TrailEntry) -> dict:
    """An entry as the holder sees it (:data:`ecert.rules.trail.HOLDER_KEYS`), its time as RFC 3339."""
    return {key: getattr(e, key) for key in HOLDER_KEYS} | {"at": iso(e.at)}


@routes.get("/v1/credentials/{id:[^/:]+}/access-log")
async def access_log(request: web.Request) -> web.Response:
    cred_id = credential_id(request)
    after = _query_int(request, "after", 0, 0, MAX_EPOCH)
    limit = _query_int(request, "limit", DEFAULT_TRAIL_PAGE, 1, MAX_TRAIL_PAGE)
    region = await record_region(request, cred_id)
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    resp = await be.ask(issuer_name(region), stub.ListAccess(issuer_pb2.ListAccessRequest(
        principal=pb_principal(request), credential_id=cred_id, after=after, limit=limit), timeout=be.timeout),
        code="REGION_UNAVAILABLE")
    body = {"credential_id": cred_id, "region": region, "entries": [entry_json(e) for e in resp.entries],
            "next": resp.next if resp.more else None}
    answer = json_response(body)
    answer.headers.update(PRIVATE)
    return answer
