"""The gateway's real answers against its OpenAPI document.

An own suite (what the calls create, rotate or revoke touches no other test), its gateway with a
middleware that records every answer, and a set of calls that reaches every operation, for its
success and for the errors a client meets (each call says the status it must get). Then: every
answer's status is one its operation documents, with a documented content type, and a JSON body
that validates against the documented schema and has no member the schema does not describe; every
operation was answered; and the examples in the document (``gateway/openapi_examples.json``) are
real answers: each validates against its schema and has the shape of an answer recorded here.
``ECERT_WRITE_OPENAPI_EXAMPLES=1`` writes them again from this run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict

import jsonschema
import pytest
import pytest_asyncio
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer

from ecert.errors import Unavailable
from ecert.format.keys import SigningKey
from gateway.access import route_key
from gateway.answers import iso
from gateway.app import create_app
from gateway.openapi import EXAMPLES_FILE, OPENAPI
from testkit import photos
from testkit.samples import SAMPLES, driving_licence
from tests import forge
from tests.harness import start_suite

session_loop = pytest.mark.asyncio(loop_scope="session")

METHODS = ("get", "put", "post", "delete")
EXAMPLE_BYTES = 6000
"""An answer longer than this as JSON text (after lists are cut to two items) gives no example."""
HOLDER = {**SAMPLES["cn.resident_id"], "name": "沈嘉怡", "sex": "女", "birth_date": "1988-05-12",
          "id_number": "33010619880512442X", "address": "浙江省杭州市西湖区文三路100号",
          "issuing_authority": "杭州市公安局西湖分局"}


@dataclasses.dataclass
class Answer:
    method: str
    route: tuple[str, str] | None  # (method, path) as the document and the access table key it; None: no route
    status: int
    content_type: str
    body: bytes
    language: str | None = None  # its Content-Language


class Down:
    """Backends none of which is serving (for /readyz's 503)."""

    async def serving(self, name: str) -> None:
        raise Unavailable(f"{name} is down")


def recorder(answers: list[Answer]):
    @web.middleware
    async def record(request: web.Request, handler):
        resp = await handler(request)
        route = request.match_info.route
        key = route_key(route) if route.resource is not None else None
        body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b""
        answers.append(Answer(request.method, key, resp.status, resp.content_type, body,
                              resp.headers.get("Content-Language")))
        return resp

    return record


def recorded_app(cfg, store, answers: list[Answer], **options) -> web.Application:
    app = create_app(cfg, store=store, **options)
    app.middlewares.insert(0, recorder(answers))
    return app


class Calls:
    """Calls that must get the status they say (any of them, for a tuple)."""

    def __init__(self, http: TestClient, keys: dict[str, str]):
        self.http, self.keys = http, keys

    async def __call__(self, method: str, path: str, status, key: str | None = None, **kw):
        headers = dict(kw.pop("headers", {}))
        if key:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        r = await self.http.request(method, path, headers=headers, **kw)
        body = await r.read()
        wanted = status if isinstance(status, tuple) else (status,)
        assert r.status in wanted, (method, path, r.status, body[:300])
        return json.loads(body) if r.content_type == "application/json" else body


async def scenario(call: Calls, suite) -> None:
    # operations and the scanner page
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/scan", "/scan/scan.js", "/scan/scan.css"):
        await call("GET", path, 200)
    await call("GET", "/scan/nothing.txt", 404)
    # registry
    await call("GET", "/v1/regions", 200, "hotel")
    await call("GET", "/v1/regions", 401)
    await call("GET", "/v1/regions", 401, "ek_not_a_key")
    await call("GET", "/v1/regions", 401, "ek_not_a_key", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    await call("POST", "/v1/regions", 201, "admin", json={"code": "CN-XZ", "name": "西藏自治区"})
    await call("POST", "/v1/regions", 409, "admin", json={"code": "CN-XZ", "name": "西藏自治区"})
    await call("POST", "/v1/regions", 403, "hotel", json={"code": "CN-QH", "name": "青海省"})
    await call("POST", "/v1/regions", 400, "admin", json={"code": "tibet", "name": "x"})
    await call("POST", "/v1/regions", 400, "admin", data=b"{not json", headers={"Content-Type": "application/json"})
    key = SigningKey.generate()
    body = {"alg": "ES256", "spki": forge.spki_b64(key), "nbf": "2026-01-01T00:00:00Z", "exp": 2_000_000_000}
    kid = (await call("POST", "/v1/regions/CN-XZ/keys", 201, "admin", json=body))["kid"]
    await call("POST", "/v1/regions/CN-XZ/keys", 200, "admin", json=body)
    await call("POST", "/v1/regions/CN-SH/keys", 409, "admin", json=body)
    await call("POST", "/v1/regions/CN-QQ/keys", 404, "admin", json={**body, "spki": forge.spki_b64(
        SigningKey.generate())})
    await call("POST", "/v1/regions/CN-XZ/keys", 400, "admin", json={"alg": "ES256", "spki": "!!"})
    await call("POST", "/v1/regions/CN-XZ/keys", 400, "admin", json={**body, "nbf": "next tuesday"})
    await call("POST", "/v1/regions/CN-XZ/keys", 403, "agency_zj", json=body)
    await call("POST", f"/v1/regions/CN-XZ/keys/{kid}:revoke", 403, "agency_zj")
    await call("POST", f"/v1/regions/CN-XZ/keys/{kid}:revoke", 200, "admin")
    await call("POST", "/v1/regions/CN-XZ/keys/not-hex:revoke", 400, "admin")
    await call("POST", "/v1/regions/CN-XZ/keys/0123456789abcdef:revoke", 404, "admin")
    await call("POST", "/v1/regions/CN-SH/signing-key:rotate", 201, "agency_sh", json={"request_id": "rotate-1"})
    await call("POST", "/v1/regions/CN-SH/signing-key:rotate", 403, "agency_zj")
    await call("POST", "/v1/regions/CN-QQ/signing-key:rotate", (404, 503), "admin")
    await call("GET", "/v1/certificate-types", 200, "integrator")
    pass_type = {"id": "cn.test_pass", "name": "测试通行证", "schema": {
        "type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 50}}},
        "disclosure": {"hotel": ["name"]}}
    await call("POST", "/v1/certificate-types", 201, "admin", json=pass_type)
    await call("POST", "/v1/certificate-types", 409, "admin", json={**pass_type, "name": "another"})
    await call("POST", "/v1/certificate-types", 400, "admin", json={"id": "cn.test_pass", "name": "x"})
    await call("POST", "/v1/certificate-types", 403, "agency_zj", json=pass_type)
    await call("GET", "/v1/trust-list", 200, "hotel")
    await call("GET", "/v1/trust-list.cbor", 200, "hotel")
    # recognition rules
    rules = await call("GET", "/v1/recognition-rules", 200, "hotel")
    general = rules["purposes"].get("general", [])
    await call("PUT", "/v1/recognition-rules/purposes/general", 200, "admin", json={"types": general})
    await call("PUT", "/v1/recognition-rules/purposes/sightseeing", 400, "admin", json={"types": []})
    await call("PUT", "/v1/recognition-rules/purposes/general", 422, "admin", json={"types": ["cn.no_such"]})
    await call("PUT", "/v1/recognition-rules/purposes/general", 403, "agency_zj", json={"types": general})
    star = rules["recognition"].get("*", [])
    await call("PUT", "/v1/recognition-rules/regions/*", 200, "admin", json={"recognises": star})
    await call("PUT", "/v1/recognition-rules/regions/CN-QQ", 404, "admin", json={"recognises": []})
    await call("PUT", "/v1/recognition-rules/regions/CN-ZJ", 422, "admin", json={"recognises": ["CN-QQ"]})
    await call("GET", "/v1/purposes", 200, "police")
    await suite.refresh()
    # credentials
    issue = {"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(), "request_id": "dl-1"}
    cred = await call("POST", "/v1/credentials", 201, "agency_zj", json=issue)
    await call("POST", "/v1/credentials", 201, "agency_zj", json=issue)  # the same request again
    await call("POST", "/v1/credentials", 422, "agency_zj", json={**issue, "request_id": "dl-2", "fields": {}})
    await call("POST", "/v1/credentials", 400, "agency_zj", json={**issue, "valid_days": 0})
    await call("POST", "/v1/credentials", 403, "hotel", json=issue)
    await call("POST", "/v1/credentials", 403, "agency_sh", json=issue)
    await call("POST", "/v1/credentials", 413, "agency_zj", data=b"{" + b" " * (1 << 20) + b"}",
               headers={"Content-Type": "application/json"})
    await call("GET", "/v1/credentials", 200, "agency_zj", params={"type": "cn.driving_licence", "limit": "5"})
    await call("GET", "/v1/credentials", 400, "agency_zj", params={"colour": "red"})
    await call("GET", "/v1/credentials", 403, "hotel")
    cid = cred["id"]
    await call("GET", f"/v1/credentials/{cid}", 200, "agency_zj")
    await call("GET", "/v1/credentials/abc:def", 404, "agency_zj")  # a ":" in an id: 404, never 405
    await call("GET", f"/v1/credentials/{cid}", 403, "hotel")
    await call("GET", f"/v1/credentials/{cid}/qr.png", 200, "agency_zj")
    await call("GET", f"/v1/credentials/{cid}/qr.svg", 200, "agency_zj")
    await call("POST", f"/v1/credentials/{cid}:suspend", 200, "agency_zj")
    await call("POST", f"/v1/credentials/{cid}:reinstate", 200, "agency_zj")
    await call("POST", f"/v1/credentials/{cid}:frobnicate", 404, "agency_zj")
    shown = await call("POST", f"/v1/credentials/{cid}/presentations", 201, "agency_zj",
                       json={"purpose": "hotel_check_in"})
    await call("POST", f"/v1/credentials/{cid}/presentations", 400, "agency_zj", json={"purpose": "sightseeing"})
    await call("GET", f"/v1/credentials/{cid}/presentations/{shown['token_id']}/qr.png", 200, "agency_zj")
    await call("GET", f"/v1/credentials/{cid}/presentations/{'0' * 32}/qr.png", 404, "agency_zj")
    await call("GET", f"/v1/credentials/{cid}/access-log", 200, "agency_zj", params={"limit": "10"})
    await call("GET", f"/v1/credentials/{cid}/access-log", 400, "agency_zj", params={"limit": "0"})
    # photos
    picture = photos.portrait(7)
    jpeg = {"Content-Type": "image/jpeg"}
    photo = await call("POST", "/v1/photos", 201, "agency_zj", data=picture, headers=jpeg)
    await call("POST", "/v1/photos", 200, "agency_zj", data=picture, headers=jpeg)
    await call("POST", "/v1/photos", 415, "agency_zj", data=b"hello", headers={"Content-Type": "text/plain"})
    await call("POST", "/v1/photos", 400, "admin", data=picture, headers=jpeg)  # which region's library?
    await call("POST", "/v1/photos", 422, "agency_zj", data=photos.portrait(8, size=(400, 200)), headers=jpeg)
    card = await call("POST", "/v1/credentials", 201, "agency_zj", json={
        "region": "CN-ZJ", "type": "cn.resident_id", "fields": {**HOLDER, "photo": photo["digest"]}})
    where = {"credential": card["id"], "region": "CN-ZJ"}
    await call("GET", f"/v1/photos/{photo['digest']}", 200, "police", params=where)
    await call("GET", f"/v1/photos/{photo['digest']}", 304, "police", params=where,
               headers={"If-None-Match": f'"{photo["digest"]}"'})
    await call("GET", "/v1/photos/not-a-digest", 400, "police")
    await call("GET", f"/v1/photos/{'ab' * 32}", 404, "police")
    # verifications
    await suite.refresh()
    await call("POST", "/v1/verifications", 200, "police", json={"payload": cred["qr_text"]})
    await call("POST", "/v1/verifications", 200, "hotel", json={"payload": shown["token"]})
    await call("POST", "/v1/verifications", 200, "hotel", json={"payload": "EC1:NOTHING"})
    await call("POST", "/v1/verifications", 403, "hotel", json={"payload": cred["qr_text"],
                                                             "purpose": "roadside_driver_check"})
    await call("POST", "/v1/verifications", 400, "police", json={"payload": 5})
    await call("POST", "/v1/verifications", 400, "police", json={"payload": cred["qr_text"], "purpose": "fun"})
    qr_png = await call("GET", f"/v1/credentials/{cid}/qr.png", 200, "agency_zj")
    form = FormData()
    form.add_field("image", qr_png, filename="code.png", content_type="image/png")
    await call("POST", "/v1/verifications", 200, "police", data=form)
    form = FormData()
    form.add_field("image", b"GIF89a not really", filename="x.gif", content_type="image/gif")
    await call("POST", "/v1/verifications", (400, 415), "police", data=form)
    await call("POST", "/v1/verifications:batch", 200, "hotel", json={"payloads": [cred["qr_text"], "nonsense"]})
    await call("POST", "/v1/verifications:batch", 400, "hotel", json={"payloads": ["EC1:"] * 1001})
    # what the scanner page needs to verify on its own, and its offline checks back
    await call("GET", "/scan/root-key.pem", 200)
    chain = await call("GET", "/v1/trust-list/root-chain.cbor", 200, "hotel")
    assert chain == b"\x80"  # an empty CBOR array: the root has not rotated yet
    uri = "urn:ecert:status:CN-ZJ:1"
    await call("GET", "/v1/status-lists", 200, "police", params={"uri": uri})
    await call("GET", "/v1/status-lists", 200, "police", params={"region": "CN-ZJ"})
    await call("GET", "/v1/status-lists", 400, "police", params={"uri": "nonsense"})
    await call("GET", "/v1/status-lists", 404, "police", params={"region": "CN-QQ"})
    offline = {"id": "5b0c1f4e-8a4e-4d5e-9a77-3f1c2b7d9e01", "credential_id": cid, "region": "CN-ZJ",
               "result": "VALID", "purpose": "roadside_driver_check", "checked_at": iso(int(suite.verifier.now()))}
    await call("POST", "/v1/verifications:offline", 200, "police", json={"checks": [offline]})
    await call("POST", "/v1/verifications:offline", 400, "police", json={"checks": [{**offline, "id": "x"}]})
    await call("POST", "/v1/verifications:offline", 403, "hotel", json={"checks": [offline]})
    # API keys
    made = await call("POST", "/v1/api-keys", 201, "admin", json={"role": "hotel", "org": "西湖大酒店",
                                                                   "label": "front desk"})
    await call("POST", "/v1/api-keys", 400, "admin", json={"role": "emperor"})
    await call("POST", "/v1/api-keys", 403, "hotel", json={"role": "hotel"})
    await call("GET", "/v1/api-keys", 200, "admin", params={"limit": "2"})
    # every key too: the page of two above is two random ids (keys list in id order), with or without
    # a region, and the example's members must be of types some answer of every run gives them
    await call("GET", "/v1/api-keys", 200, "admin")
    await call("GET", "/v1/api-keys", 400, "admin", params={"limit": "0"})
    kid = made["id"]
    await call("POST", f"/v1/api-keys/{kid}:disable", 200, "admin")
    await call("POST", f"/v1/api-keys/{kid}:enable", 200, "admin")
    await call("POST", f"/v1/api-keys/{kid}:rotate", 201, "admin")
    await call("POST", f"/v1/api-keys/{kid}:frobnicate", 404, "admin")
    await call("DELETE", f"/v1/api-keys/{kid}", 204, "admin")
    await call("DELETE", f"/v1/api-keys/{kid}", 404, "admin")
    # last: a status that cannot change, the root key
    await call("POST", f"/v1/credentials/{cid}:revoke", 200, "agency_zj")
    await call("POST", f"/v1/credentials/{cid}:reinstate", 409, "agency_zj")
    await call("POST", "/v1/trust-list/root-key:rotate", 403, "agency_zj")
    await call("POST", "/v1/trust-list/root-key:rotate", 201, "admin")


@dataclasses.dataclass
class Run:
    answers: list[Answer]
    document: dict


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def run(tmp_path_factory):
    suite = await start_suite(tmp_path_factory.mktemp("openapi-answers"))
    answers: list[Answer] = []
    try:
        keys = {"admin": await suite.api_key("admin"), "agency_zj": await suite.api_key("agency", "CN-ZJ"),
                "agency_sh": await suite.api_key("agency", "CN-SH"), "hotel": await suite.api_key("hotel"),
                "police": await suite.api_key("traffic_police", "CN-JS"),
                "integrator": await suite.api_key("integrator")}
        async with TestClient(TestServer(recorded_app(suite.gateway_config, suite.store, answers))) as http:
            await scenario(Calls(http, keys), suite)
            document = await (await http.get("/openapi.json")).json()
        locked = dataclasses.replace(suite.gateway_config, auth_failures_per_minute=1)
        async with TestClient(TestServer(recorded_app(locked, suite.store, answers))) as http:
            call = Calls(http, keys)
            await call("GET", "/v1/purposes", 401, "ek_wrong")
            await call("GET", "/v1/purposes", 429, "ek_wrong")
        async with TestClient(TestServer(recorded_app(suite.gateway_config, suite.store, answers,
                                                      backends=Down()))) as http:
            await Calls(http, keys)("GET", "/readyz", 503)
        yield Run(answers, document)
    finally:
        await suite.close()


def operations() -> dict[tuple[str, str], dict]:
    return {(m.upper(), p): op for p, item in OPENAPI["paths"].items() for m, op in item.items() if m in METHODS}


def _validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": OPENAPI["components"]},
                                           format_checker=jsonschema.FormatChecker())


def _resolved(schema: dict) -> dict:
    while "$ref" in schema:
        schema = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _object_schema(value, schema: dict) -> dict:
    """The alternative of ``schema`` (``oneOf``/``allOf``) that describes the object ``value``."""
    schema = _resolved(schema)
    for alt in schema.get("oneOf", ()):
        if _resolved(alt).get("type") == "object":
            return _resolved(alt)
    return schema


def undescribed(value, schema: dict, path: str = "$") -> list[str]:
    """The members of ``value`` that ``schema`` does not describe (a free object describes any)."""
    if isinstance(value, dict):
        schema = _object_schema(value, schema)
        props = schema.get("properties")
        if props is None:
            return []
        out = [f"{path}.{k}" for k in value if k not in props]
        return out + [p for k, v in value.items() if k in props for p in undescribed(v, props[k], f"{path}.{k}")]
    if isinstance(value, list) and "items" in _resolved(schema):
        return [p for i, v in enumerate(value) for p in undescribed(v, _resolved(schema)["items"], f"{path}[{i}]")]
    return []


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}[type(value)]


def shape(value, schema: dict, path: str = "$") -> frozenset[tuple[str, str]]:
    """The members of ``value`` with their JSON types, as far as ``schema`` describes them (a free
    object, such as a credential's fields, is one member), a list's items as one."""
    out = {(path, _json_type(value))}
    if isinstance(value, dict):
        props = _object_schema(value, schema).get("properties")
        for k, v in value.items() if props else ():
            out |= shape(v, props.get(k, {}), f"{path}.{k}")
    elif isinstance(value, list):
        items = _resolved(schema).get("items", {})
        for v in value:
            out |= shape(v, items, f"{path}[]")
    return frozenset(out)


SECRETS = ("key", "secret")
"""Members that hold an API key's secret: an example shows a made-up one."""


def _cut(value):
    """``value`` with every list cut to its two fullest items (an example, not a dump), in order."""
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        fullest = sorted(range(len(value)), key=lambda i: -len(json.dumps(value[i])))[:2]
        return [_cut(value[i]) for i in sorted(fullest)]
    return value


def _made_up_secrets(value: dict) -> dict:
    return {k: "ek_" + "EXAMPLE" * 6 + "x" if k in SECRETS and isinstance(v, str) else v for k, v in value.items()}


def _answer_schema(op: dict, status: int, content_type: str) -> dict | None:
    answer = op["responses"][str(status)]
    return answer.get("content", {}).get(content_type, {}).get("schema")


def test_the_served_document_is_this_one(run):
    assert run.document == json.loads(json.dumps(OPENAPI))
    assert run.document["servers"] == [{"url": "/", "description": "the gateway serving this document"}]


def test_every_answer_is_documented_and_matches_its_schema(run):
    ops = operations()
    problems = []
    for a in run.answers:
        if a.route is None:  # no route: the router's 404 (or an unknown /v1/ path's 401), the error body
            _validator(OPENAPI["components"]["schemas"]["Error"]).validate(json.loads(a.body))
            continue
        op = ops[a.route]
        label = f"{a.route[0]} {a.route[1]} -> {a.status}"
        if str(a.status) not in op["responses"]:
            problems.append(f"{label}: status not documented")
            continue
        content = op["responses"][str(a.status)].get("content", {})
        said = op["responses"][str(a.status)].get("headers", {}).get("Content-Language")
        if a.language is not None and (said is None or a.language not in said["schema"].get("enum", [a.language])):
            problems.append(f"{label}: Content-Language {a.language} not documented")
        if not a.body:
            continue
        if a.content_type not in content:
            problems.append(f"{label}: content type {a.content_type} not documented")
            continue
        schema = content[a.content_type].get("schema")
        if a.content_type == "application/json" and schema is not None:
            body = json.loads(a.body)
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                      for e in _validator(schema).iter_errors(body)]
            problems += [f"{label}: {e}" for e in errors]
            problems += [f"{label}: {m} not described" for m in undescribed(body, schema)]
    assert problems == []


def test_every_operation_was_answered_and_succeeded(run):
    succeeded = {a.route for a in run.answers if a.route and 200 <= a.status < 300}
    assert set(operations()) - succeeded == set()
    seen = {(a.route, a.status) for a in run.answers if a.route}
    assert ((("GET", "/readyz"), 503) in seen and (("GET", "/v1/purposes"), 429) in seen
            and (("GET", "/v1/photos/{digest}"), 304) in seen)


def _recorded(run: Run) -> dict[tuple[str, str], list[dict]]:
    """Recorded JSON answers by (operationId, status)."""
    ids = {key: op["operationId"] for key, op in operations().items()}
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for a in run.answers:
        if a.route and a.body and a.content_type == "application/json":
            out[ids[a.route], str(a.status)].append(json.loads(a.body))
    return out


def _write_examples(run: Run) -> None:
    examples: dict[str, dict] = {}
    for (op_id, status), bodies in sorted(_recorded(run).items()):
        if status.startswith("2"):
            example = _made_up_secrets(_cut(bodies[0]))
            if len(json.dumps(example, ensure_ascii=False)) <= EXAMPLE_BYTES:
                examples.setdefault(op_id, {})[status] = example
    EXAMPLES_FILE.write_text(json.dumps(examples, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")


def test_the_examples_are_real_answers(run):
    writing = bool(os.environ.get("ECERT_WRITE_OPENAPI_EXAMPLES"))
    if writing:
        _write_examples(run)  # the document loaded before: it holds them from the next run on
    examples = json.loads(EXAMPLES_FILE.read_text(encoding="utf-8"))
    by_id = {op["operationId"]: op for op in operations().values()}
    recorded = _recorded(run)
    for op_id, answers in examples.items():
        for status, example in answers.items():
            schema = _answer_schema(by_id[op_id], int(status), "application/json")
            _validator(schema).validate(example)
            assert undescribed(example, schema) == [], (op_id, status)
            real = [shape(_cut(b), schema) for b in recorded[op_id, status]]
            mine = shape(example, schema)
            # the members of an answer given now, each of a type some answer gives it now (null or not)
            assert {p for p, _ in mine} in [{p for p, _ in r} for r in real], f"{op_id} {status}: members differ"
            assert mine <= frozenset().union(*real), f"{op_id} {status}: {sorted(mine - frozenset().union(*real))}"
            assert writing or by_id[op_id]["responses"][status]["content"]["application/json"]["example"] == example
    for op_id in ("issueCredential", "getCredential", "verify", "verifyBatch", "listRegions", "searchCredentials",
                  "createApiKey", "listApiKeys", "createPresentation", "getAccessLog", "rotateSigningKey"):
        assert op_id in examples, f"{op_id} has no example"
