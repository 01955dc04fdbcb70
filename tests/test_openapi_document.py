"""The OpenAPI document and the error table of docs/gateway-api.md against what the gateway does:
every member an answer has is described (and every required one is there), the request schemas
accept what the handlers accept, /readyz's 503 has the contract's error body, and every error
code the code can answer with has its row in the table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ecert.errors import Unavailable
from ecert.format.keys import SigningKey
from gateway.app import create_app
from gateway.errors import CODES_BY_STATUS
from gateway.openapi import OPENAPI, SCHEMAS
from testkit.samples import SAMPLES, driving_licence
from tests import forge
from tests.conftest import bearer

session_loop = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parent.parent
NOT_HTTP = {
    "CONFIG_INVALID": "a process's configuration: it refuses to start",
    "FORMAT_INVALID": "FormatError's default; it is always raised with an outcome code as its code",
    "STATUS_LIST_INVALID": "the verifier's check of a fetched status list (an outcome, never an HTTP error)",
    "TRUST_LIST_INVALID": "the verifier's check of a fetched trust list (an outcome, never an HTTP error)",
}
"""Codes in the source that never reach an HTTP client, each with the reason."""


class Down:
    """Backends none of which is serving."""

    async def serving(self, name: str) -> None:
        raise Unavailable(f"{name} is down")


def _resolved(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def undescribed(value, schema: dict, path: str = "$") -> list[str]:
    """The members of ``value`` that ``schema`` does not describe, and the required ones missing."""
    schema = _resolved(schema)
    if isinstance(value, dict):
        for alt in schema.get("oneOf", ()):
            if _resolved(alt).get("type") == "object":
                schema = _resolved(alt)
        props = schema.get("properties")
        if props is None:  # a free object (a credential's fields)
            return []
        out = [f"{path}.{k} (required, missing)" for k in schema.get("required", ()) if k not in value]
        out += [f"{path}.{k} (not described)" for k in value if k not in props]
        return out + [p for k, v in value.items() if k in props for p in undescribed(v, props[k], f"{path}.{k}")]
    if isinstance(value, list) and "items" in schema:
        return [p for i, v in enumerate(value) for p in undescribed(v, schema["items"], f"{path}[{i}]")]
    return []


def _answer_schema(path: str, method: str, status: int) -> dict:
    return OPENAPI["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


@session_loop
async def test_credential_and_verification_answers_are_described(http, keys):
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    cred = await r.json()
    assert r.status == 201, cred
    assert "kid" in cred and "display_id" in cred
    assert undescribed(cred, _answer_schema("/v1/credentials", "post", 201)) == []
    r = await http.post("/v1/verifications", headers=bearer(keys["police"]), json={"payload": cred["qr_text"]})
    answer = await r.json()
    assert r.status == 200 and answer["result"] == "VALID", answer
    assert "display_id" in answer["credential"]
    assert undescribed(answer, _answer_schema("/v1/verifications", "post", 200)) == []
    r = await http.post("/v1/verifications:batch", headers=bearer(keys["hotel"]),
                        json={"payloads": [cred["qr_text"], "nonsense"]})
    batch = await r.json()
    assert r.status == 200, batch
    assert undescribed(batch, _answer_schema("/v1/verifications:batch", "post", 200)) == []
    assert [a["purpose"] for a in batch["results"]] == ["hotel_check_in"] * 2  # always there: required


@session_loop
async def test_an_answer_the_documents_own_date_decided_is_described(http, keys, suite):
    key = SigningKey.generate()  # signed as before the issuer checked the document's dates
    r = await http.post("/v1/regions/CN-ZJ/keys", headers=bearer(keys["agency_zj"]),
                        json={"alg": "ES256", "spki": forge.spki_b64(key)})
    assert r.status == 201, await r.text()
    await suite.refresh()
    fields = {**SAMPLES["cn.resident_id"], "valid_from": "2005-01-01", "valid_until": "2015-01-01"}
    text = forge.sign(key, forge.claims("CN-ZJ", type_id="cn.resident_id", fields=fields))
    r = await http.post("/v1/verifications", headers=bearer(keys["police"]), json={"payload": text})
    answer = await r.json()
    assert r.status == 200 and answer["document"] == {"field": "valid_until", "date": "2015-01-01"}, answer
    schema = _answer_schema("/v1/verifications", "post", 200)
    assert undescribed(answer, schema) == []
    jsonschema.validate(answer["document"], _resolved(schema)["properties"]["document"],
                        format_checker=jsonschema.FormatChecker())


def test_a_type_is_published_as_the_handler_reads_it():
    schema = {**OPENAPI["paths"]["/v1/certificate-types"]["post"]["requestBody"]["content"]["application/json"][
        "schema"], "components": OPENAPI["components"]}
    check = jsonschema.Draft202012Validator(schema).is_valid
    assert check({"id": "cn.x", "name": "x", "schema": {"type": "object"}})  # version defaults to 1
    assert check({"id": "cn.x", "version": 2, "name": "x", "schema": json.dumps({"type": "object"})})  # JSON text
    assert not check({"id": "cn.x", "version": 0, "name": "x", "schema": {}})
    assert not check({"id": "cn.x", "name": "x"})


def test_a_repeated_key_and_a_key_in_use_are_documented():
    responses = OPENAPI["paths"]["/v1/regions/{code}/keys"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)
    assert "KEY_IN_USE" in responses["409"]["description"]


@session_loop
async def test_readyz_answers_the_document_ready_and_not(suite, http):
    r = await http.get("/readyz")
    assert r.status == 200
    jsonschema.validate(await r.json(), _answer_schema("/readyz", "get", 200))
    app = create_app(suite.gateway_config, store=suite.store, backends=Down())
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/readyz", headers={"X-Request-Id": "probe-1"})
        body = await r.json()
    assert r.status == 503
    jsonschema.validate(body, _answer_schema("/readyz", "get", 503))
    assert body["error"] == {"code": "UNAVAILABLE", "message": "not ready: registry, verifier",
                             "request_id": "probe-1"}
    assert body["status"] == "not ready" and body["checks"]["store"] == "ok"
    assert body["checks"]["registry"] == "unavailable: Unavailable"


def _codes_in_source() -> set[str]:
    codes = set(CODES_BY_STATUS.values())
    for folder in ("gateway", "services", "ecert"):
        for f in (ROOT / folder).rglob("*.py"):
            text = f.read_text(encoding="utf-8")
            codes.update(re.findall(r'\bcode="([A-Z][A-Z0-9_]+)"', text))
            codes.update(re.findall(r'^\s+code = "([A-Z][A-Z0-9_]+)"', text, re.M))
    return codes


def test_every_error_code_has_its_row_in_the_table():
    doc = (ROOT / "docs" / "gateway-api.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| \d{3} \| `([A-Z][A-Z0-9_]+)` \|", doc, re.M))
    raised = _codes_in_source()
    assert raised - table - set(NOT_HTTP) == set()  # a code a client can get, with no row
    assert table - raised == set()  # a row for a code nothing gives
    assert set(NOT_HTTP) <= raised


def test_a_portrait_is_documented_as_the_route_takes_it():
    from ecert.imaging.portrait import UPLOAD_TYPES
    op = OPENAPI["paths"]["/v1/photos"]["post"]
    assert set(op["requestBody"]["content"]) == set(UPLOAD_TYPES)
    assert "BUSY" in op["responses"]["503"]["description"]
    get = OPENAPI["paths"]["/v1/photos/{digest}"]["get"]
    assert {p["name"]: p["required"] for p in get["parameters"] if p["in"] == "query"} == {
        "credential": False, "region": False, "purpose": False}  # the contract's call has none of them
