"""Show codes (EP1): made by the issuing agency on the holder's behalf, and drawn as QR codes.

``POST /v1/credentials/{id}/presentations`` asks the credential's issuer for a single-use code,
valid at most 300 s, optionally limited to the purpose the holder chose; the issuer keeps its
text while it is live, so ``GET …/presentations/{token_id}/qr.png`` draws it (fetched with the
key, never cached: the code is a live credential). Verifying one is ``POST /v1/verifications``
like any payload: the verifier checks it offline and has the issuing region resolve it, once.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ecert.errors import NotFound
from ecert.format.presentation import looks_like_token_id
from ecert.imaging import qr
from ecert.rules.requests import check_shown_purpose
from ecertpb.v1 import issuer_pb2

from .. import access
from ..answers import iso, json_response
from ..clients import issuer_name
from ..http import get, pb_principal, read_json
from ..keys import BACKENDS
from .credentials import credential_id, record_region

routes = web.RouteTableDef()
NO_STORE = {"Cache-Control": "no-store"}
"""A show code is a live credential: no copy of it is kept anywhere on the way."""


def presentation_json(p: issuer_pb2.Presentation) -> dict:
    out = {"token": p.token, "token_id": p.token_id, "credential_id": p.credential_id,
           "issued_at": iso(p.issued_at), "expires_at": iso(p.expires_at),
           "expires_in": max(0, p.expires_at - p.issued_at),
           "qr_png_url": f"/v1/credentials/{p.credential_id}/presentations/{p.token_id}/qr.png"}
    if p.purpose:
        out["purpose"] = p.purpose
    return out


@routes.post("/v1/credentials/{id:[^/:]+}/presentations")
async def create_presentation(request: web.Request) -> web.Response:
    access.check(request)
    cred_id = credential_id(request)
    data = await read_json(request) if request.body_exists else {}
    purpose = check_shown_purpose(get(data, "purpose", str, ""))
    region = await record_region(request, cred_id)
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    shown = await be.ask(issuer_name(region), stub.CreatePresentation(issuer_pb2.CreatePresentationRequest(
        principal=pb_principal(request), id=cred_id, purpose=purpose), timeout=be.timeout), code="REGION_UNAVAILABLE")
    resp = json_response(presentation_json(shown), 201)
    resp.headers.update(NO_STORE)
    return resp


@routes.get("/v1/credentials/{id:[^/:]+}/presentations/{token_id:[^/]+}/qr.png")
async def presentation_qr(request: web.Request) -> web.Response:
    """A live show code as a PNG QR code, drawn off the event loop; 404 once it is used or expired."""
    access.check(request)
    cred_id = credential_id(request)
    token_id = request.match_info["token_id"]
    if not looks_like_token_id(token_id):
        raise NotFound("no such show code")
    region = await record_region(request, cred_id)
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    shown = await be.ask(issuer_name(region), stub.GetPresentation(issuer_pb2.PresentationRef(
        principal=pb_principal(request), id=cred_id, token_id=token_id.lower()), timeout=be.timeout),
        code="REGION_UNAVAILABLE")
    image = await asyncio.get_running_loop().run_in_executor(None, qr.png, shown.token)
    return web.Response(body=image, content_type="image/png", headers=NO_STORE)
