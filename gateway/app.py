"""HTTP/JSON front door: translates between HTTP and the suite's gRPC services.

App factory :func:`create_app`; ``cleanup_ctx`` owns the store (API keys) and the
gRPC channels. Every error answer has the spec's body
``{"error": {"code", "message", "request_id"}}``; a client's mistake is never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import json.encoder
import logging
import math
import re
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert import vocab
from ecert.errors import (
    EcertError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    TooLarge,
    Unauthenticated,
    Unavailable,
)
from ecert.format.jsontext import json_text
from ecert.imaging import qr, scan
from ecert.rpc.client import call
from ecert.rpc.convert import principal_to_pb
from ecert.rules import access as auth
from ecert.rules import apikeys
from ecert.rules.access import Principal
from ecert.rules.schema import check_region_code
from ecert.runtime.config import GatewayConfig
from ecert.store import Store, open_store
from ecertpb.v1 import common_pb2, issuer_pb2, registry_pb2, verifier_pb2

from . import metrics
from .clients import Backends
from .errors import CODES_BY_STATUS, error_body, http_status
from .openapi import OPENAPI

log = logging.getLogger("ecert.gateway")

CONFIG = web.AppKey("config", GatewayConfig)
STORE = web.AppKey("store", Store)
BACKENDS = web.AppKey("backends", Backends)
METRICS = web.AppKey("metrics", metrics.Metrics)
KEY_CACHE = web.AppKey("key_cache", OrderedDict)
QR_CACHE = web.AppKey("qr_cache", OrderedDict)
REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)

KEY_CACHE_TTL = 30.0
KEY_CACHE_SIZE = 10_000
QR_CACHE_SIZE = 1024
OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/scan")
IMAGE_MAX = scan.MAX_BYTES  # the image part of a multipart verification
MULTIPART_MAX = IMAGE_MAX + 64 * 1024  # the whole multipart body: the image, purpose and the framing
PURPOSE_PART_MAX = 4096
STATIC_DIR = Path(__file__).with_name("static")
_SCANNER_FILES = {"scan.js": "application/javascript", "scan.css": "text/css"}
_SCANNER_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "Permissions-Policy": "camera=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_QR_KINDS = {"png": (qr.png, "image/png"), "svg": (qr.svg, "image/svg+xml")}
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATUS_ACTIONS = {"revoke": issuer_pb2.REVOKE, "suspend": issuer_pb2.SUSPEND, "reinstate": issuer_pb2.REINSTATE}


_ISO_FAST_END = 253_402_300_800  # 10000-01-01: from here on datetime refuses the year (and fails as it did)


@functools.lru_cache(maxsize=8192)  # answers repeat the same few instants (checked_at, issued_at)
def iso(ts: int) -> str | None:
    if not ts:
        return None
    if 0 < ts < _ISO_FAST_END:  # the same text as below at half the cost: every credential has its own instants
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json_text(data), status=status, content_type="application/json")


# -- middlewares ---------------------------------------------------------------------------------

@web.middleware
async def errors_middleware(request: web.Request, handler):
    rid = request.headers.get("X-Request-Id", "")
    if not _REQUEST_ID_RE.fullmatch(rid):
        rid = uuid.uuid4().hex
    request[REQUEST_ID] = rid
    started = time.perf_counter()
    m = request.app[METRICS]
    try:
        resp = await handler(request)
    except EcertError as err:
        if http_status(err) >= 500 and not isinstance(err, Unavailable):
            log.error("request %s failed: %s", rid, err.code)
        resp = json_response(error_body(err.code, err.message, rid), http_status(err))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = CODES_BY_STATUS.get(exc.status, "HTTP_ERROR")
        resp = json_response(error_body(code, exc.reason or code, rid), exc.status)
        if exc.status == 405:
            resp.headers["Allow"] = exc.headers.get("Allow", "")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request %s: unexpected error", rid)
        resp = json_response(error_body("INTERNAL", "internal error", rid), 500)
    resp.headers["X-Request-Id"] = rid
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    m.observe(request.method, route, resp.status, time.perf_counter() - started)
    return resp


@web.middleware
async def auth_middleware(request: web.Request, handler):
    if request.path.startswith("/v1/"):
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else None
        request[PRINCIPAL] = await _authenticate(request.app, key)
    return await handler(request)


async def _authenticate(app: web.Application, key: str | None) -> Principal:
    if not key:
        raise Unauthenticated("an API key is required: Authorization: Bearer KEY")
    cache = app[KEY_CACHE]
    digest = auth.hash_key(key)
    hit = cache.get(digest)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    principal = await apikeys.authenticate(app[STORE], key)
    cache[digest] = (principal, now + KEY_CACHE_TTL)
    cache.move_to_end(digest)
    while len(cache) > KEY_CACHE_SIZE:
        cache.popitem(last=False)
    return principal


# -- helpers -------------------------------------------------------------------------------------

async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over ``limit`` bytes. (The app-wide
    ``client_max_size`` admits multipart pictures; every other body is bounded here.)"""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is over {limit} bytes")
    return bytes(body)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


async def read_json(request: web.Request) -> dict:
    body = await read_body(request, request.app[CONFIG].max_body)
    if not body:
        raise InvalidRequest("a JSON body is required")
    try:
        data = json.loads(body, parse_float=_finite_float, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidRequest(f"malformed JSON: {err}", code="MALFORMED_JSON") from err
    except RecursionError as err:
        raise InvalidRequest("malformed JSON: nested too deeply", code="MALFORMED_JSON") from err
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object", code="MALFORMED_JSON")
    return data


def _get(data: dict, name: str, kind: type | tuple, default: Any = None, required: bool = False) -> Any:
    value = data.get(name, default)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required", field=name)
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidRequest(f"{name} has the wrong type", field=name)
    return value


MAX_EPOCH = 2**40  # epoch seconds far beyond any key's life, well inside int64


def _int(data: dict, name: str, default: int, low: int, high: int) -> int:
    """An optional integer field within ``[low, high]`` (absent: ``default``)."""
    value = _get(data, name, int, None)
    if value is None:
        return default
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be from {low} to {high}", field=name)
    return value


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def pb_principal(request: web.Request) -> common_pb2.Principal:
    return principal_to_pb(principal(request))


def credential_json(c) -> dict:
    out = {"id": c.id, "region": c.region, "type": c.type, "version": c.version, "qr_text": c.qr_text,
           "issued_at": iso(c.issued_at), "expires_at": iso(c.expires_at), "status": c.status,
           "fields": json.loads(c.fields_json or "{}"), "kid": c.kid}
    if c.display_id:
        out["display_id"] = c.display_id
    return out


# -- registry routes -----------------------------------------------------------------------------

async def list_regions(request: web.Request) -> web.Response:
    be = request.app[BACKENDS]
    resp = await call(be.registry.ListRegions(registry_pb2.ListRegionsRequest(principal=pb_principal(request))))
    return json_response({"regions": [
        {"code": r.code, "name": r.name,
         "keys": [{"kid": k.kid, "alg": k.alg, "status": k.status, "nbf": k.nbf, "exp": k.exp} for k in r.keys]}
        for r in resp.regions]})


async def create_region(request: web.Request) -> web.Response:
    auth.require_role(principal(request), "admin")
    data = await read_json(request)
    code = check_region_code(_get(data, "code", str, required=True), "code")
    name = _get(data, "name", str, required=True)
    r = await call(request.app[BACKENDS].registry.CreateRegion(
        registry_pb2.CreateRegionRequest(principal=pb_principal(request), code=code, name=name)))
    return json_response({"code": r.code, "name": r.name, "keys": []}, 201)


async def register_key(request: web.Request) -> web.Response:
    code = check_region_code(request.match_info["code"])
    auth.require_region(principal(request), code)
    data = await read_json(request)
    alg = _get(data, "alg", str, required=True)
    try:
        spki = base64.b64decode(_get(data, "spki", str, required=True), validate=True)
    except ValueError as err:
        raise InvalidRequest("spki must be base64 DER", field="spki") from err
    nbf = _int(data, "nbf", 0, 0, MAX_EPOCH)
    exp = _int(data, "exp", 0, 0, MAX_EPOCH)
    resp = await call(request.app[BACKENDS].registry.RegisterKey(registry_pb2.RegisterKeyRequest(
        principal=pb_principal(request), region=code, alg=alg, spki=spki, nbf=nbf, exp=exp)))
    return json_response({"kid": resp.kid}, 201 if resp.created else 200)


async def revoke_key(request: web.Request) -> web.Response:
    code = check_region_code(request.match_info["code"])
    auth.require_role(principal(request), "admin")
    kid = request.match_info["kid"].lower()
    if not re.fullmatch(r"[0-9a-f]{16}", kid):
        raise InvalidRequest("kid must be 16 hex digits", field="kid")
    k = await call(request.app[BACKENDS].registry.RevokeKey(
        registry_pb2.KeyRef(principal=pb_principal(request), region=code, kid=kid)))
    return json_response({"kid": k.kid, "alg": k.alg, "status": k.status, "nbf": k.nbf, "exp": k.exp,
                          "revoked_at": k.revoked_at or None})


def _type_json(t) -> dict:
    return {"id": t.id, "version": t.version, "name": t.name, "schema": json.loads(t.schema_json),
            "disclosure": json.loads(t.disclosure_json or "{}")}


async def list_types(request: web.Request) -> web.Response:
    resp = await call(request.app[BACKENDS].registry.ListCertificateTypes(
        registry_pb2.ListCertificateTypesRequest(principal=pb_principal(request))))
    return json_response({"types": [_type_json(t) for t in resp.types]})


async def publish_type(request: web.Request) -> web.Response:
    auth.require_role(principal(request), "admin")
    data = await read_json(request)
    schema = data.get("schema")
    if not isinstance(schema, (dict, str)):
        raise InvalidRequest("schema must be a JSON Schema object", code="SCHEMA_MALFORMED", field="schema")
    disclosure = _get(data, "disclosure", dict, {})
    t = common_pb2.CertificateType(
        id=_get(data, "id", str, required=True), version=_int(data, "version", 1, 1, 10_000),
        name=_get(data, "name", str, required=True),
        schema_json=schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False),
        disclosure_json=json.dumps(disclosure, ensure_ascii=False))
    resp = await call(request.app[BACKENDS].registry.PublishCertificateType(
        registry_pb2.PublishCertificateTypeRequest(principal=pb_principal(request), type=t)))
    return json_response(_type_json(resp), 201)


async def trust_list_json(request: web.Request) -> web.Response:
    tl = await call(request.app[BACKENDS].registry.GetTrustList(registry_pb2.GetTrustListRequest()))
    return web.Response(text=tl.json, content_type="application/json")


async def trust_list_cbor(request: web.Request) -> web.Response:
    tl = await call(request.app[BACKENDS].registry.GetTrustList(registry_pb2.GetTrustListRequest()))
    return web.Response(body=tl.signed, content_type="application/cose")


# -- credential routes ---------------------------------------------------------------------------

async def issue_credential(request: web.Request) -> web.Response:
    auth.require_role(principal(request), "agency", "admin")
    data = await read_json(request)
    region = check_region_code(_get(data, "region", str, required=True))
    auth.require_region(principal(request), region)
    fields = _get(data, "fields", dict, required=True)
    req = issuer_pb2.IssueCredentialRequest(
        principal=pb_principal(request), type=_get(data, "type", str, required=True),
        version=_int(data, "version", 0, 1, 10_000), fields_json=json.dumps(fields, ensure_ascii=False),
        valid_days=_int(data, "valid_days", 0, 1, 100 * 366), request_id=_get(data, "request_id", str, ""))
    issuer = await request.app[BACKENDS].issuer_client(region)
    c = await issuer.issue.call(req)
    return json_response(credential_json(c), 201)


async def _find_credential(request: web.Request, cred_id: str):
    """The issuer holding ``cred_id``: the agency's own region, or (admin) any region."""
    p = principal(request)
    be = request.app[BACKENDS]
    if not re.fullmatch(r"[A-Za-z2-7]{26}", cred_id):
        raise NotFound("no such credential")
    if p.role == "agency":
        regions = [p.region]
    elif p.role == "admin":
        regions = await be.issuer_regions()
    else:
        raise PermissionDenied(f"role {p.role} may not read credential records")
    ref = issuer_pb2.CredentialRef(principal=pb_principal(request), id=cred_id.upper())
    unreachable = []
    for region in regions:
        try:
            stub = await be.issuer(region)
            return stub, await call(stub.GetCredential(ref))
        except NotFound:
            continue
        except Unavailable:
            unreachable.append(region)  # it may be there: say so rather than "not found"
    if unreachable:
        raise Unavailable(f"not found in the regions reachable now; unreachable: {', '.join(unreachable)}",
                          code="REGION_UNAVAILABLE")
    raise NotFound("no such credential")


async def get_credential(request: web.Request) -> web.Response:
    _, c = await _find_credential(request, request.match_info["id"])
    return json_response(credential_json(c))


async def credential_qr(request: web.Request) -> web.Response:
    """The credential's QR code as PNG or SVG, drawn on first request (off the event loop) and kept."""
    draw, content_type = _QR_KINDS[request.match_info["kind"]]
    _, c = await _find_credential(request, request.match_info["id"])
    cache = request.app[QR_CACHE]
    key = (c.id, request.match_info["kind"])
    image = cache.get(key)
    if image is None:
        image = await asyncio.get_running_loop().run_in_executor(None, draw, c.qr_text)
        cache[key] = image
        while len(cache) > QR_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return web.Response(body=image, content_type=content_type, headers={"Cache-Control": "private, max-age=300"})


async def change_status(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    if action not in _STATUS_ACTIONS:
        raise NotFound(f"unknown action :{action}")
    auth.require_role(principal(request), "agency", "admin")
    stub, c = await _find_credential(request, request.match_info["id"])
    c = await call(stub.ChangeStatus(issuer_pb2.ChangeStatusRequest(
        principal=pb_principal(request), id=c.id, action=_STATUS_ACTIONS[action])))
    return json_response({"id": c.id, "status": c.status})


# -- verification routes -------------------------------------------------------------------------

_js = json.encoder.encode_basestring  # a str as json.dumps(..., ensure_ascii=False) writes it, quotes included


@functools.lru_cache(maxsize=8192)
def _iso_text(ts: int) -> str:
    """``iso(ts)`` as JSON text: a quoted instant, or null."""
    text = iso(ts)
    return "null" if text is None else f'"{text}"'


def _fields_text(fields_json: str) -> str:
    """The verifier's ``fields_json`` as it goes into an answer. The verifier (trusted, like the
    issuer whose text it may pass on) writes it with ``json.dumps(..., ensure_ascii=False)``,
    so parsing it and writing it again would only give back the same text: an object's text is
    used as it is. Anything else takes the parse-and-write path (and fails as it did)."""
    if fields_json[:1] == "{" and fields_json[-1:] == "}":
        return fields_json
    return json_text(json.loads(fields_json or "{}"))


def verification_text(r) -> str:
    """One verification answer (the spec's shape) as JSON text, written directly.

    A batch answer holds up to 1,000 of these: building dicts, parsing ``fields_json`` and
    encoding it all again cost about 9 µs a result; this costs about 3. The text is what
    ``json.dumps(..., ensure_ascii=False)`` gives for the answer's dict: same keys, order,
    separators and escaping (``tests/test_verification_text.py`` holds the two to each other).
    """
    if r.HasField("credential"):
        c = r.credential
        display_id = c.display_id
        cred = (f'{{"id": {_js(c.id)}, "type": {_js(c.type)}, "version": {c.version}, "region": {_js(c.region)}, '
                f'"issued_at": {_iso_text(c.issued_at)}, "expires_at": {_iso_text(c.expires_at)}'
                f'{_DISPLAY_ID + _js(display_id) if display_id else ""}}}')
    else:
        cred = "null"
    detail, code_sha256 = r.detail, r.code_sha256
    return (f'{{"result": {_js(r.result)}, "credential": {cred}, "fields": {_fields_text(r.fields_json)}, '
            f'"status_checked": {"true" if r.status_checked else "false"}, '
            f'"trust_list_version": {r.trust_list_version}, "checked_at": {_iso_text(r.checked_at)}'
            f'{_DETAIL + _js(detail) if detail else ""}{_CODE_SHA256 + _js(code_sha256) if code_sha256 else ""}}}')


_DISPLAY_ID, _DETAIL, _CODE_SHA256 = ', "display_id": ', ', "detail": ', ', "code_sha256": '


def verifications_response(results) -> web.Response:
    """``{"results": [...]}`` as :func:`json_response` would write it, each result by
    :func:`verification_text`."""
    body = '{"results": [' + ", ".join(map(verification_text, results)) + "]}"
    return web.Response(text=body, content_type="application/json")


def first_and_all_response(results) -> web.Response:
    """``{**first, "results": [...]}`` for a picture's answers (at least one): the first answer's
    members at the top level, as for a single verification, then all of them in reading order."""
    texts = [verification_text(r) for r in results]
    body = texts[0][:-1] + ', "results": [' + ", ".join(texts) + "]}"
    return web.Response(text=body, content_type="application/json")


def _purpose(data: dict) -> str:
    purpose = _get(data, "purpose", str, "")
    if len(purpose) > 200:
        raise InvalidRequest("purpose is over 200 characters", field="purpose")
    return purpose


async def _read_part(part, limit: int, total: list[int], keep: bool = True) -> bytes:
    """One multipart part, at most ``limit`` bytes, counting toward the body's total."""
    data = bytearray()
    seen = 0
    while chunk := await part.read_chunk(64 * 1024):
        seen += len(chunk)
        total[0] += len(chunk)
        if keep:
            data += chunk
        if seen > limit:
            raise TooLarge(f"the {part.name or 'unnamed'} part is over {limit} bytes", field=part.name)
        if total[0] > MULTIPART_MAX:
            raise TooLarge(f"the body is over {MULTIPART_MAX} bytes")
    return bytes(data)


async def read_image_form(request: web.Request) -> tuple[bytes, str]:
    """The ``image`` and optional ``purpose`` parts of a multipart/form-data body, each bounded."""
    if request.content_length is not None and request.content_length > MULTIPART_MAX:
        raise TooLarge(f"the body is over {MULTIPART_MAX} bytes (a picture may be up to {IMAGE_MAX})")
    image: bytes | None = None
    purpose = b""
    total = [0]
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("nested multipart bodies are not accepted")
            if part.name == "image" and image is None:
                image = await _read_part(part, IMAGE_MAX, total)
            elif part.name == "purpose":
                purpose = await _read_part(part, PURPOSE_PART_MAX, total)
            else:
                await _read_part(part, MULTIPART_MAX, total, keep=False)  # dropped, but counted
    except (ValueError, AssertionError, RuntimeError, LookupError) as err:
        raise InvalidRequest(f"malformed multipart body: {err}", code="MALFORMED_MULTIPART") from err
    if image is None:
        raise InvalidRequest("a multipart verification needs a part named image", field="image")
    try:
        text = purpose.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidRequest("purpose must be UTF-8 text", field="purpose") from err
    return image, _purpose({"purpose": text})


async def verify_image(request: web.Request) -> web.Response:
    """A picture in, one verification per code in it: the first at the top level (the spec's shape)
    and all of them, in reading order, in ``results``."""
    image, purpose = await read_image_form(request)
    resp = await call(request.app[BACKENDS].verifier.VerifyImage(verifier_pb2.VerifyImageRequest(
        principal=pb_principal(request), image=image, purpose=purpose)))
    if not resp.results:
        raise Unavailable("the verifier gave no answer for the picture")
    request.app[METRICS].verifications_by(r.result for r in resp.results)
    return first_and_all_response(resp.results)


async def verify(request: web.Request) -> web.Response:
    auth.require_role(principal(request), *vocab.VERIFY_ROLES)
    if request.content_type == "multipart/form-data":
        return await verify_image(request)
    data = await read_json(request)
    payload = _get(data, "payload", str, required=True)
    r = await request.app[BACKENDS].verifier_stream.call(verifier_pb2.VerifyRequest(
        principal=pb_principal(request), payload=payload, purpose=_purpose(data)))
    request.app[METRICS].verification(r.result)
    return web.Response(text=verification_text(r), content_type="application/json")


async def verify_batch(request: web.Request) -> web.Response:
    auth.require_role(principal(request), *vocab.VERIFY_ROLES)
    data = await read_json(request)
    payloads = _get(data, "payloads", list, required=True)
    if len(payloads) > 1000:
        raise InvalidRequest("at most 1,000 payloads per batch", field="payloads")
    if not all(isinstance(p, str) for p in payloads):
        raise InvalidRequest("payloads must be strings", field="payloads")
    resp = await call(request.app[BACKENDS].verifier.VerifyBatch(verifier_pb2.VerifyBatchRequest(
        principal=pb_principal(request), payloads=payloads, purpose=_purpose(data))))
    results = resp.results
    request.app[METRICS].verifications_by(r.result for r in results)
    return verifications_response(results)


# -- scanner page (open: the page asks for the operator's key and keeps it in sessionStorage) -----

async def scanner_page(request: web.Request) -> web.Response:
    return _static("scan.html", "text/html", "no-cache")


async def scanner_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _SCANNER_FILES:
        raise NotFound("no such file")
    return _static(name, _SCANNER_FILES[name], "no-cache")


_STATIC_CACHE: dict[str, bytes] = {}


def _static(name: str, content_type: str, cache: str) -> web.Response:
    body = _STATIC_CACHE.get(name)
    if body is None:
        body = _STATIC_CACHE[name] = (STATIC_DIR / name).read_bytes()  # a few KiB, read once
    return web.Response(body=body, content_type=content_type, charset="utf-8",
                        headers={**_SCANNER_HEADERS, "Cache-Control": cache})


# -- operations ----------------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    be = request.app[BACKENDS]
    checks: dict[str, str] = {}

    async def probe(name: str, coro) -> None:
        try:
            await asyncio.wait_for(coro, 2.0)
            checks[name] = "ok"
        except Exception as err:  # any failure means "not ready", with its name
            checks[name] = f"unavailable: {type(err).__name__}"

    async def health(ch, service: str):
        resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service))
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise Unavailable(service)

    await asyncio.gather(
        probe("store", request.app[STORE].ping()),
        probe("registry", health(be._registry_channel, "ecert.v1.RegistryService")),
        probe("verifier", health(be._verifier_channel, "ecert.v1.VerifierService")))
    ready = all(v == "ok" for v in checks.values())
    return json_response({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)


async def metrics_route(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": content_type})


async def openapi(request: web.Request) -> web.Response:
    return json_response(OPENAPI)


def create_app(cfg: GatewayConfig, *, store: Store | None = None, backends: Backends | None = None) -> web.Application:
    """The gateway application. ``store`` and ``backends`` may be passed in (tests); otherwise
    they are opened from ``cfg`` and closed with the app."""
    # client_max_size is app-wide: it admits a multipart picture, and read_json bounds JSON to cfg.max_body.
    app = web.Application(middlewares=[errors_middleware, auth_middleware],
                          client_max_size=max(cfg.max_body, MULTIPART_MAX))
    app[CONFIG] = cfg
    app[METRICS] = metrics.Metrics()
    app[KEY_CACHE] = OrderedDict()
    app[QR_CACHE] = OrderedDict()

    async def resources(app: web.Application):
        app[STORE] = store or await open_store(cfg.store_uri)
        app[BACKENDS] = backends or Backends(cfg.registry_target, cfg.verifier_target, cfg.internal_token)
        yield
        if backends is None:
            await app[BACKENDS].close()
        if store is None:
            await app[STORE].close()

    app.cleanup_ctx.append(resources)
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/readyz", readyz)
    r.add_get("/metrics", metrics_route)
    r.add_get("/openapi.json", openapi)
    r.add_get("/scan", scanner_page)
    r.add_get("/scan/{name}", scanner_asset)
    r.add_get("/v1/regions", list_regions)
    r.add_post("/v1/regions", create_region)
    r.add_post("/v1/regions/{code}/keys", register_key)
    r.add_post("/v1/regions/{code}/keys/{kid:[^/:]+}:revoke", revoke_key)
    r.add_get("/v1/certificate-types", list_types)
    r.add_post("/v1/certificate-types", publish_type)
    r.add_get("/v1/trust-list", trust_list_json)
    r.add_get("/v1/trust-list.cbor", trust_list_cbor)
    r.add_post("/v1/credentials", issue_credential)
    r.add_get("/v1/credentials/{id:[^/:]+}", get_credential)
    r.add_get("/v1/credentials/{id:[^/:]+}/qr.{kind:png|svg}", credential_qr)
    r.add_post("/v1/credentials/{id:[^/:]+}:{action}", change_status)
    r.add_post("/v1/verifications", verify)
    r.add_post("/v1/verifications:batch", verify_batch)
    return app
