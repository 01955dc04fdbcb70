"""Recognition-rule routes: which certificate types each purpose accepts, which regions each region
recognises (the rules the registry signs into the trust list), and the purposes a caller may name.

The read is answered from the gateway's copy of the registry's rules (at most
:data:`~gateway.clients.REGISTRY_TTL` old; the last good one while the registry does not answer);
a change made here makes the next read ask the registry.
"""

from __future__ import annotations

from aiohttp import web

from ecert.rules.acceptance import PURPOSE_NAMES, STAR
from ecert.rules.access import parse_purpose
from ecert.rules.requests import check_rule_items
from ecert.rules.schema import check_region_code
from ecert.vocab import ROLE_PURPOSES
from ecertpb.v1 import registry_pb2

from .. import access
from ..answers import json_response
from ..clients import REGISTRY
from ..http import get, pb_principal, read_json
from ..keys import BACKENDS, PRINCIPAL

routes = web.RouteTableDef()


def rules_json(r: registry_pb2.RecognitionRules) -> dict:
    """The rules as the API answers them: the trust list's ``rules`` member and its version."""
    return {"purposes": {p.purpose: list(p.types) for p in r.purposes},
            "recognition": {e.region: list(e.recognises) for e in r.recognition},
            "trust_list_version": r.trust_list_version}


def _items(data: dict, name: str) -> list[str]:
    """The body's required rule list ``name``, bounded, each text once (what each must be, the registry says)."""
    return sorted(check_rule_items(get(data, name, list, required=True), name))


@routes.get("/v1/recognition-rules")
async def get_rules(request: web.Request) -> web.Response:
    access.check(request)
    return json_response(rules_json(await request.app[BACKENDS].rules.get()))


@routes.put("/v1/recognition-rules/purposes/{purpose}")
async def set_purpose_types(request: web.Request) -> web.Response:
    access.check(request)
    purpose = parse_purpose(request.match_info["purpose"])
    types = _items(await read_json(request), "types")
    be = request.app[BACKENDS]
    resp = await be.ask(REGISTRY, be.registry.SetPurposeTypes(registry_pb2.SetPurposeTypesRequest(
        principal=pb_principal(request), purpose=purpose.value, types=types), timeout=be.timeout))
    be.registry_changed()
    return json_response(rules_json(resp))


@routes.put("/v1/recognition-rules/regions/{region}")
async def set_recognition(request: web.Request) -> web.Response:
    access.check(request)
    region = request.match_info["region"]
    if region != STAR:
        check_region_code(region, "region")
    recognises = _items(await read_json(request), "recognises")
    be = request.app[BACKENDS]
    resp = await be.ask(REGISTRY, be.registry.SetRecognition(registry_pb2.SetRecognitionRequest(
        principal=pb_principal(request), region=region, recognises=recognises), timeout=be.timeout))
    be.registry_changed()
    return json_response(rules_json(resp))


@routes.get("/v1/purposes")
async def list_purposes(request: web.Request) -> web.Response:
    access.check(request)
    principal = request[PRINCIPAL]
    role = principal.role
    allowed = ROLE_PURPOSES.get(role, ())
    # the key's region too: the scanner page judges recognition by it when it verifies offline
    return json_response({"purposes": [{"id": p.value, "name": PURPOSE_NAMES[p], "default": i == 0}
                                       for i, p in enumerate(allowed)], "role": role,
                          "region": principal.region or None})
