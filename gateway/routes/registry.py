"""Registry routes: regions and their keys, certificate types, the trust list.

The reads are answered from the gateway's copies of what the registry publishes (at most
:data:`~gateway.clients.REGISTRY_TTL` old; the last good one while the registry does not answer);
a change made here makes the next read ask the registry."""

from __future__ import annotations

import base64
import json
import re

from aiohttp import web

from ecert.errors import InvalidRequest
from ecert.limits import MAX_EPOCH, MAX_TYPE_VERSION
from ecert.rules.schema import check_region_code
from ecertpb.v1 import common_pb2, registry_pb2

from .. import access
from ..answers import json_response
from ..clients import REGISTRY
from ..http import get, get_int, pb_principal, read_json
from ..keys import BACKENDS

routes = web.RouteTableDef()
_KID = re.compile(r"[0-9a-f]{16}")


@routes.get("/v1/regions")
async def list_regions(request: web.Request) -> web.Response:
    access.check(request)
    resp = await request.app[BACKENDS].regions.get()  # the last good copy while the registry does not answer
    return json_response({"regions": [
        {"code": r.code, "name": r.name,
         "keys": [{"kid": k.kid, "alg": k.alg, "status": k.status, "nbf": k.nbf, "exp": k.exp} for k in r.keys]}
        for r in resp.regions]})


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
    nbf = get_int(data, "nbf", 0, 0, MAX_EPOCH)
    exp = get_int(data, "exp", 0, 0, MAX_EPOCH)
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
    be.registry_changed()
    return json_response({"kid": k.kid, "alg": k.alg, "status": k.status, "nbf": k.nbf, "exp": k.exp,
                          "revoked_at": k.revoked_at or None})


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
