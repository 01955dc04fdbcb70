"""Verification routes: one payload (JSON) or a picture of codes (multipart), and batches.

The hot path: the answers are written directly as text (:mod:`gateway.answers`)."""

from __future__ import annotations

from aiohttp import web

from ecert.errors import InvalidRequest, Unavailable
from ecert.rules.requests import check_batch
from ecertpb.v1 import verifier_pb2

from .. import access
from ..answers import first_and_all_response, verification_text, verifications_response
from ..clients import VERIFIER
from ..http import get, get_purpose, pb_principal, read_image_form, read_json
from ..keys import BACKENDS, METRICS

routes = web.RouteTableDef()


async def verify_image(request: web.Request) -> web.Response:
    """A picture in, one verification per code in it: the first at the top level (the spec's shape)
    and all of them, in reading order, in ``results``."""
    image, purpose = await read_image_form(request)
    be = request.app[BACKENDS]
    resp = await be.ask(VERIFIER, be.verifier.VerifyImage(verifier_pb2.VerifyImageRequest(
        principal=pb_principal(request), image=image, purpose=purpose), timeout=be.bulk_timeout))
    if not resp.results:
        raise Unavailable("the verifier gave no answer for the picture")
    request.app[METRICS].answered(resp.results)
    return first_and_all_response(resp.results)


@routes.post("/v1/verifications")
async def verify(request: web.Request) -> web.Response:
    access.check(request)
    if request.content_type == "multipart/form-data":
        return await verify_image(request)
    data = await read_json(request)
    payload = get(data, "payload", str, required=True)
    be = request.app[BACKENDS]
    r = await be.ask(VERIFIER, be.verifier_stream.call(verifier_pb2.VerifyRequest(
        principal=pb_principal(request), payload=payload, purpose=get_purpose(request, data))))
    request.app[METRICS].answered((r,))
    return web.Response(text=verification_text(r), content_type="application/json")


@routes.post("/v1/verifications:batch")
async def verify_batch(request: web.Request) -> web.Response:
    access.check(request)
    data = await read_json(request)
    payloads = check_batch(get(data, "payloads", list, required=True))
    if not all(isinstance(p, str) for p in payloads):
        raise InvalidRequest("payloads must be strings", field="payloads")
    be = request.app[BACKENDS]
    resp = await be.ask(VERIFIER, be.verifier.VerifyBatch(verifier_pb2.VerifyBatchRequest(
        principal=pb_principal(request), payloads=payloads, purpose=get_purpose(request, data)), timeout=be.bulk_timeout))
    results = resp.results
    request.app[METRICS].answered(results)
    return verifications_response(results)
