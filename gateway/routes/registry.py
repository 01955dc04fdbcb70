"""Registry routes: regions and their keys, certificate types, the trust list, key rotation.

The reads are answered from the gateway's copies of what the registry publishes (at most
:data:`~gateway.clients.REGISTRY_TTL` old; the last good one while the registry does not answer);
a change made here makes the next read ask the registry.

A region's signing key is rotated by its issuer (which holds the private keys: it makes the new
one, registers it and retires the old one); the root key by the registry. After a key is revoked
the region's issuer is told at once (``RefreshKeys``), so it stops signing with it before its own
refresh would notice.

Times are RFC 3339 text (a key's ``nbf``, ``exp``, ``revoked_at``; 0, none: null) and key ids hex,
as in every other answer; a registration's ``nbf``/``exp`` may be RFC 3339 text or, as before,
epoch seconds. ``GET /v1/trust-list`` alone keeps the signed payload's encoding (base64 bytes,
epoch seconds), as the contract has it."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import datetime

from aiohttp import web

from ecert.errors import EcertError, InvalidRequest
from ecert.limits import MAX_EPOCH, MAX_TYPE_VERSION
from ecert.rules.requests import check_request_id
from ecert.rules.schema import check_region_code
from ecertpb.v1 import common_pb2, issuer_pb2, registry_pb2

from .. import access
from ..answers import iso, json_response
from ..clients import REGISTRY, issuer_name
from ..http import get, get_int, pb_principal, read_json
from ..keys import BACKENDS

log = logging.getLogger("ecert.gateway")

routes = web.RouteTableDef()
_KID = re.compile(r"[0-9a-f]{16}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})")
REFRESH_KEYS_TIMEOUT = 2.0
"""Seconds the revocation's answer waits for the region's issuer to read its keys again (at most the
backend deadline); an issuer that does not answer in time learns it on its own refresh."""


@routes.get("/v1/regions")
async def list_regions(request: web.Request) -> web.Response:
    access.check(request)
    resp = await request.app[BACKENDS].regions.get()  # the last good copy while the registry does not answer
    return json_response({"regions": [
        {"code": r.code, "name": r.name,
         "keys": [key_json(k) for k in r.keys]}
        for r in resp.regions]})


def key_json(k: registry_pb2.KeyInfo) -> dict:
    """A key as the regions' listing answers it: hex kid, its window as RFC 3339."""
    return {"kid": k.kid, "alg": k.alg, "status": k.status, "nbf": iso(k.nbf), "exp": iso(k.exp)}


def get_instant(data: dict, name: str) -> int:
    """The optional instant ``name`` as epoch seconds (absent, null: 0, the registry's default): RFC
    3339 text with its offset, or (as before) an integer from 0 to 2^40; else 400 naming it."""
    value = data.get(name)
    if isinstance(value, str):
        try:
            if not _RFC3339.fullmatch(value):
                raise ValueError(value)
            seconds = int(datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp())
        except (ValueError, OverflowError, OSError) as err:
            raise InvalidRequest(f"{name} must be an RFC 3339 time (2026-01-01T00:00:00Z) or epoch seconds",
                                 field=name) from err
        if not 0 <= seconds <= MAX_EPOCH:
            raise InvalidRequest(f"{name} must be from 1970 to epoch second {MAX_EPOCH}", field=name)
        return seconds
    return get_int(data, name, 0, 0, MAX_EPOCH)


@routes.post("/v1/regions")
async def create_region(request: web.Request) -> web.Response:
    access.check(request)
    data = await read_json(request)
    code = check_region_code(get(data, "code", str, required=True), "code")
    name = get(data, "name", str, required=True)
    be = request.app[BACKENDS]
    r = await be.ask(REGISTRY, be.registry.CreateRegion(
        registry_pb2.CreateRegionRequest(principal=pb_principal(request), code=code, name=name), timeout=be.timeout))
    be.registry_changed()
    return json_response({"code": r.code, "name": r.name, "keys": []}, 201)


@routes.post("/v1/regions/{code}/keys")
async def register_key(request: web.Request) -> web.Response:
    code = check_region_code(request.match_info["code"])
    access.check(request, region=code)
    data = await read_json(request)
    alg = get(data, "alg", str, required=True)
    try:
        spki = base64.b64decode(get(data, "spki", str, required=True), validate=True)
    except ValueError as err:
        raise InvalidRequest("spki must be base64 DER", field="spki") from err
    nbf = get_instant(data, "nbf")
    exp = get_instant(data, "exp")
    be = request.app[BACKENDS]
    resp = await be.ask(REGISTRY, be.registry.RegisterKey(registry_pb2.RegisterKeyRequest(
        principal=pb_principal(request), region=code, alg=alg, spki=spki, nbf=nbf, exp=exp), timeout=be.timeout))
    be.registry_changed()
    return json_response({"kid": resp.kid}, 201 if resp.created else 200)


@routes.post("/v1/regions/{code}/keys/{kid:[^/:]+}:revoke")
async def revoke_key(request: web.Request) -> web.Response:
    code = check_region_code(request.match_info["code"])
    access.check(request)
    kid = request.match_info["kid"].lower()
    if not _KID.fullmatch(kid):
        raise InvalidRequest("kid must be 16 hex digits", field="kid")
    be = request.app[BACKENDS]
    k = await be.ask(REGISTRY, be.registry.RevokeKey(
        registry_pb2.KeyRef(principal=pb_principal(request), region=code, kid=kid), timeout=be.timeout))
    await _tell_issuer(request, code)
    be.registry_changed()  # the revocation, and the key the issuer may have rotated to
    return json_response({**key_json(k), "revoked_at": iso(k.revoked_at)})


async def _tell_issuer(request: web.Request, region: str) -> None:
    """Best effort: the region's issuer reads its keys from the registry again now, so a revoked
    current key is replaced (or signing stops) at once. Never fails the revocation, which is done:
    a region without an issuer here (its keys held by another system), one that is down or slow
    learns it on its own refresh."""
    be = request.app[BACKENDS]
    try:
        issuer = await be.issuer(region)
        info = await be.ask(issuer_name(region), issuer.RefreshKeys(
            issuer_pb2.RefreshKeysRequest(principal=pb_principal(request)),
            timeout=min(REFRESH_KEYS_TIMEOUT, be.timeout)))
    except EcertError as err:
        log.warning("after a key revocation, the issuer of %s did not confirm it read its keys again (%s): "
                    "it learns it on its own refresh", region, err.code)
        return
    if not info.kid:
        log.warning("after a key revocation, the issuer of %s has no key to sign with", region)


@routes.post("/v1/regions/{code}/signing-key:rotate")
async def rotate_signing_key(request: web.Request) -> web.Response:
    """The region's issuer makes a new signing key, registers it, signs with it from now on and
    retires the old one. 201 ``{"kid", "retired_kid", "nbf", "exp"}``; the same ``request_id``
    again answers the same rotation."""
    code = check_region_code(request.match_info["code"])
    access.check(request, region=code)
    data = await read_json(request) if request.body_exists else {}  # every member optional
    request_id = check_request_id(get(data, "request_id", str, ""))
    be = request.app[BACKENDS]
    issuer = await be.issuer(code)
    info = await be.ask(issuer_name(code), issuer.RotateSigningKey(issuer_pb2.RotateSigningKeyRequest(
        principal=pb_principal(request), region=code, request_id=request_id), timeout=be.timeout),
        code="REGION_UNAVAILABLE")
    be.registry_changed()
    return json_response({"kid": info.kid, "retired_kid": info.retired_kid or None,
                          "nbf": iso(info.nbf), "exp": iso(info.exp)}, 201)


@routes.post("/v1/trust-list/root-key:rotate")
async def rotate_root_key(request: web.Request) -> web.Response:
    """The registry's root key is replaced: one last list signed by the old root announces the new
    one (``next_root``), and every list after is signed by the new root. 201 ``{"kid",
    "previous_kid", "trust_list_version", "alg", "spki"}`` (``spki``: base64 DER, to pin)."""
    access.check(request)
    be = request.app[BACKENDS]
    root = await be.ask(REGISTRY, be.registry.RotateRootKey(
        registry_pb2.RotateRootKeyRequest(principal=pb_principal(request)), timeout=be.timeout))
    be.registry_changed()
    return json_response({"kid": root.kid, "previous_kid": root.previous_kid,
                          "trust_list_version": root.trust_list_version, "alg": root.alg,
                          "spki": base64.b64encode(root.spki).decode("ascii")}, 201)


def _type_json(t) -> dict:
    return {"id": t.id, "version": t.version, "name": t.name, "schema": json.loads(t.schema_json),
            "disclosure": json.loads(t.disclosure_json or "{}")}


@routes.get("/v1/certificate-types")
async def list_types(request: web.Request) -> web.Response:
    access.check(request)
    resp = await request.app[BACKENDS].types.get()
    return json_response({"types": [_type_json(t) for t in resp.types]})


@routes.post("/v1/certificate-types")
async def publish_type(request: web.Request) -> web.Response:
    access.check(request)
    data = await read_json(request)
    schema = data.get("schema")
    if not isinstance(schema, (dict, str)):
        raise InvalidRequest("schema must be a JSON Schema object", code="SCHEMA_MALFORMED", field="schema")
    disclosure = get(data, "disclosure", dict, {})
    t = common_pb2.CertificateType(
        id=get(data, "id", str, required=True), version=get_int(data, "version", 1, 1, MAX_TYPE_VERSION),
        name=get(data, "name", str, required=True),
        schema_json=schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False),
        disclosure_json=json.dumps(disclosure, ensure_ascii=False))
    be = request.app[BACKENDS]
    resp = await be.ask(REGISTRY, be.registry.PublishCertificateType(
        registry_pb2.PublishCertificateTypeRequest(principal=pb_principal(request), type=t), timeout=be.timeout))
    be.registry_changed()
    return json_response(_type_json(resp), 201)


@routes.get("/v1/trust-list")
async def trust_list_json(request: web.Request) -> web.Response:
    access.check(request)
    tl = await request.app[BACKENDS].trust_list.get()
    return web.Response(text=tl.json, content_type="application/json")


@routes.get("/v1/trust-list.cbor")
async def trust_list_cbor(request: web.Request) -> web.Response:
    access.check(request)
    tl = await request.app[BACKENDS].trust_list.get()
    return web.Response(body=tl.signed, content_type="application/cose")
