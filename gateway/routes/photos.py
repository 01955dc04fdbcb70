"""The photo library's routes: an agency files a portrait in its region's library, and whoever is
shown a credential's photo fetches it through the gateway from the issuing region.

The gateway never decodes a picture: the region's issuer checks and re-encodes uploads
(``services/issuer/photos.py``), judging a picture by its own magic bytes. A photo is fetched by
its digest alone, as the shared contract has it: every region's issuer is asked at once and the
first to serve it answers. A client that knows the credential and its region (the scanner page,
after a verification) names them (``?credential=&region=``), and only that region is asked, for
that credential. What the gateway serves it checks first: the bytes must hash to the digest, or
nothing is served. A client that holds the picture already (``If-None-Match`` with its ETag, which
is the digest) gets 304 after the same checks.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web

from ecert.errors import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Unavailable,
    UnsupportedMedia,
)
from ecert.format.credential import looks_like_id
from ecert.imaging import portrait
from ecert.limits import MAX_PHOTO_BYTES
from ecert.rules.requests import check_photo_digest
from ecert.rules.schema import check_region_code
from ecert.vocab import Role
from ecertpb.v1 import issuer_pb2

from .. import access
from ..answers import json_response
from ..clients import Backends, issuer_name
from ..http import judged_purpose, pb_principal, read_body
from ..keys import BACKENDS, PRINCIPAL

log = logging.getLogger("ecert.gateway")

routes = web.RouteTableDef()

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
    if request.content_type not in portrait.UPLOAD_TYPES:
        raise UnsupportedMedia(f"a portrait is sent as its bytes, Content-Type {', '.join(portrait.UPLOAD_TYPES)}",
                               field="image")
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
    cred_id = request.query.get("credential", "")
    if cred_id and not looks_like_id(cred_id):
        raise NotFound("no such credential", field="credential")
    region = request.query.get("region")
    purpose = judged_purpose(request, request.query.get("purpose", ""))
    held = _held(request.headers.get("If-None-Match"), digest)
    ask = issuer_pb2.GetPhotoRequest(principal=pb_principal(request), digest=digest, credential_id=cred_id.upper(),
                                     without_image=held, purpose=purpose)
    be = request.app[BACKENDS]
    photo = await (_first_served(be, ask) if region is None else _served(be, check_region_code(region), ask))
    headers = {"ETag": f'"{digest}"', "Cache-Control": CACHE_CONTROL, "Vary": "Authorization",
               "X-Content-Type-Options": "nosniff"}
    if held:
        return web.Response(status=304, headers=headers)
    return web.Response(body=photo.image, content_type=photo.media_type or "image/jpeg", headers=headers)


async def _served(be: Backends, region: str, ask: issuer_pb2.GetPhotoRequest) -> issuer_pb2.Photo:
    """The photo as ``region``'s issuer serves it, its bytes hashing to the digest asked for (else
    503 ``PHOTO_MISMATCH``: nothing is served)."""
    stub = await be.issuer(region)
    photo = await be.ask(issuer_name(region), stub.GetPhoto(ask, timeout=be.timeout), code="REGION_UNAVAILABLE")
    if not ask.without_image and portrait.digest(photo.image) != ask.digest:
        log.warning("a photo from %s (credential %s) does not match its digest: not served", region,
                    ask.credential_id or "not named")
        raise Unavailable(f"the photo {region} sent does not match its digest", code="PHOTO_MISMATCH")
    return photo


async def _first_served(be: Backends, ask: issuer_pb2.GetPhotoRequest) -> issuer_pb2.Photo:
    """The photo from the first region to serve it: every region of the directory asked at once,
    each within the backends' deadline. When none serves: 403 if one refused the caller, else 503 if
    one could not answer (its own error when it is the only one), else 404."""
    pending = {asyncio.ensure_future(_served(be, region, ask)): region for region in await be.issuer_regions()}
    refused: PermissionDenied | None = None
    failed: dict[str, Unavailable] = {}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            served = None
            for task in done:
                region = pending.pop(task)
                try:
                    photo = task.result()
                except NotFound:
                    continue
                except PermissionDenied as err:
                    refused = refused or err
                except Unavailable as err:
                    failed[region] = err
                else:
                    served = photo if served is None else served
            if served is not None:
                return served
    finally:
        for task in pending:
            task.cancel()
    if refused is not None:
        raise refused
    if len(failed) == 1:
        raise next(iter(failed.values()))
    if failed:
        raise Unavailable(f"the photo was not found in the regions reachable now; unreachable: "
                          f"{', '.join(sorted(failed))}", code="REGION_UNAVAILABLE")
    raise NotFound("no region holds a credential naming the photo", field="digest")
