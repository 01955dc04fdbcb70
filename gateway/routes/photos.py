"""The photo library's routes: an agency files a portrait in its region's library, and whoever is
shown a credential's photo fetches it through the gateway from the issuing region.

The gateway never decodes a picture: the region's issuer checks and re-encodes uploads
(``services/issuer/photos.py``). What it serves it checks first: the bytes must hash to the
digest the credential names, or nothing is served. A client that holds the picture already
(``If-None-Match`` with its ETag, which is the digest) gets 304 after the same checks.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from ecert.errors import InvalidRequest, NotFound, Unavailable, UnsupportedMedia
from ecert.format.credential import looks_like_id
from ecert.imaging import portrait
from ecert.limits import MAX_PHOTO_BYTES
from ecert.rules.requests import check_photo_digest
from ecert.rules.schema import check_region_code
from ecert.vocab import Role
from ecertpb.v1 import issuer_pb2

from .. import access
from ..answers import json_response
from ..clients import issuer_name
from ..http import judged_purpose, pb_principal, read_body
from ..keys import BACKENDS, PRINCIPAL

log = logging.getLogger("ecert.gateway")

routes = web.RouteTableDef()

MEDIA_TYPES = ("image/jpeg", "image/png")
"""What a portrait is uploaded as (the issuer reads the bytes' own type and stores JPEG)."""
CACHE_CONTROL = "private, max-age=86400, immutable"
"""A photo's bytes never change under its digest: a client may keep them a day, never a shared cache."""
_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*')


def _region(request: web.Request) -> str:
    """The library an upload goes to: the query's ``region``, or an agency's own."""
    region = request.query.get("region")
    if region is None:
        if request[PRINCIPAL].role != Role.AGENCY:
            raise InvalidRequest("region is required (?region=CN-ZJ): the library of which region", field="region")
        region = request[PRINCIPAL].region
    return check_region_code(region)


@routes.post("/v1/photos")
async def upload_photo(request: web.Request) -> web.Response:
    access.check(request)
    region = _region(request)
    access.check(request, region=region)
    if request.content_type not in MEDIA_TYPES:
        raise UnsupportedMedia("a portrait is sent as its bytes, Content-Type image/jpeg or image/png", field="image")
    image = await read_body(request, MAX_PHOTO_BYTES)
    if not image:
        raise InvalidRequest("the body is the portrait (JPEG or PNG bytes)", field="image")
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    ref = await be.ask(issuer_name(region), stub.PutPhoto(issuer_pb2.PutPhotoRequest(
        principal=pb_principal(request), image=image), timeout=be.bulk_timeout), code="REGION_UNAVAILABLE")
    return json_response({"digest": ref.digest, "region": region, "media_type": ref.media_type,
                          "width": ref.width, "height": ref.height}, 201 if ref.created else 200)


def _held(if_none_match: str | None, digest: str) -> bool:
    """Whether ``If-None-Match`` names this photo's ETag (the client holds these bytes)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any((m := _TAG.fullmatch(part)) is not None and m.group(1).lower() == digest
               for part in if_none_match.split(",")[:64])


@routes.get("/v1/photos/{digest}")
async def get_photo(request: web.Request) -> web.Response:
    access.check(request)
    digest = check_photo_digest(request.match_info["digest"])
    cred_id = request.query.get("credential")
    if not cred_id:
        raise InvalidRequest("credential is required: the credential whose photo this is", field="credential")
    if not looks_like_id(cred_id):
        raise NotFound("no such credential", field="credential")
    region = request.query.get("region")
    if region is None:
        raise InvalidRequest("region is required: the region that issued the credential", field="region")
    region = check_region_code(region)
    purpose = judged_purpose(request, request.query.get("purpose", ""))
    held = _held(request.headers.get("If-None-Match"), digest)
    be = request.app[BACKENDS]
    stub = await be.issuer(region)
    photo = await be.ask(issuer_name(region), stub.GetPhoto(issuer_pb2.GetPhotoRequest(
        principal=pb_principal(request), digest=digest, credential_id=cred_id.upper(), without_image=held,
        purpose=purpose), timeout=be.timeout), code="REGION_UNAVAILABLE")
    headers = {"ETag": f'"{digest}"', "Cache-Control": CACHE_CONTROL, "Vary": "Authorization",
               "X-Content-Type-Options": "nosniff"}
    if held:
        return web.Response(status=304, headers=headers)
    if portrait.digest(photo.image) != digest:
        log.warning("the photo of credential %s from %s does not match its digest: not served", cred_id.upper(),
                    region)
        raise Unavailable(f"the photo {region} sent does not match the digest the credential names",
                          code="PHOTO_MISMATCH")
    return web.Response(body=photo.image, content_type=photo.media_type or "image/jpeg", headers=headers)
