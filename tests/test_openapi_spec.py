"""The OpenAPI document against the gateway's own tables, without a suite: it is a valid OpenAPI
3.1 document; every route the app registers has exactly one operation and every operation a route;
each operation's id, tag, security, roles and statuses are what the route module, the access
table and the answers table say; the limits are :mod:`ecert.limits`'."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from openapi_spec_validator import validate

from ecert.errors import InvalidRequest, Outcome
from ecert.limits import (
    MAX_BATCH,
    MAX_NAME,
    MAX_REQUEST_ID,
    MAX_RULE_ITEMS,
    MAX_SEARCH_PAGE,
    MAX_SPKI,
    MAX_TRAIL_PAGE,
    MAX_TYPE_VERSION,
    MAX_VALID_DAYS,
)
from ecert.rules.schema import check_type_id, is_region_code
from ecert.runtime.config import GatewayConfig
from gateway import openapi
from gateway.access import TABLE, roles_text, route_key
from gateway.app import create_app
from gateway.openapi import ANSWERS, OPENAPI, SCHEMAS

METHODS = ("get", "put", "post", "delete", "patch", "options", "head")
ENV = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}


def operations() -> dict[tuple[str, str], dict]:
    return {(m.upper(), path): op for path, item in OPENAPI["paths"].items() for m, op in item.items()
            if m in METHODS}


@pytest.fixture(scope="module")
def app_routes():
    """The registered routes (HEAD is GET's), by (method, canonical path)."""
    app = create_app(GatewayConfig.from_env(ENV))
    return [(route_key(r), r) for r in app.router.routes() if r.method != "HEAD"]


def test_the_document_is_valid_openapi_3_1():
    validate(OPENAPI)
    assert OPENAPI["openapi"].startswith("3.1")


def test_every_route_has_exactly_one_operation_and_every_operation_a_route(app_routes):
    registered = Counter(key for key, _ in app_routes)
    assert [k for k, n in registered.items() if n > 1] == []
    documented = set(operations())
    assert set(registered) - documented == set(), "routes without an operation"
    assert documented - set(registered) == set(), "operations without a route"


def test_each_operation_is_tagged_with_its_route_modules_area(app_routes):
    tags = {t["name"] for t in OPENAPI["tags"]}
    ops = operations()
    for key, route in app_routes:
        module = route.handler.__module__
        assert module.startswith("gateway.routes."), key
        area = module.rsplit(".", 1)[1]
        assert ops[key]["tags"] == [openapi.AREA_TAGS.get(area, area)], key
        assert ops[key]["tags"][0] in tags
    assert {t for op in ops.values() for t in op["tags"]} == tags  # no tag without an operation


def test_operation_ids_are_unique_and_stable_names():
    ids = [op["operationId"] for op in operations().values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids


def test_security_and_roles_are_the_access_tables():
    ops = operations()
    for key, rule in TABLE.items():
        op = ops[key]
        assert op["security"] == ([{"bearer": []}] if rule.key else []), key
        assert op["description"].startswith(f"Roles: {roles_text(rule)}."), key
        if rule.key:
            assert {"401", "429"} <= set(op["responses"]), key
            assert "Retry-After" in op["responses"]["429"]["headers"]
        else:
            assert not {"401", "403", "429"} & set(op["responses"]), key


def test_each_operation_lists_only_the_statuses_it_answers():
    assert set(ANSWERS) == set(TABLE)
    ops = operations()
    assert set(ops[("GET", "/healthz")]["responses"]) == {"200"}  # no 422 (nor anything else) on /healthz
    assert set(ops[("GET", "/readyz")]["responses"]) == {"200", "503"}
    assert set(ops[("GET", "/metrics")]["responses"]) == {"200"}
    assert set(ops[("GET", "/v1/regions")]["responses"]) == {"200", "401", "429", "503"}
    for key, op in ops.items():
        statuses = {int(s) for s in op["responses"]}
        assert statuses - {int(s) for s in op["responses"] if 200 <= int(s) < 300} == (
            set(ANSWERS[key]) | set(openapi.derived_answers(key, TABLE[key]))), key
        assert 500 not in statuses and 405 not in statuses, key  # never a documented answer
        if 422 in statuses:  # only where a rule of the request's content can be broken
            assert key[0] in ("POST", "PUT"), key
        if 413 in statuses and key != ("POST", "/v1/photos"):
            assert "requestBody" in op, key  # only where a body is read
        for status, answer in op["responses"].items():
            if int(status) >= 400 and key != ("GET", "/readyz"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                assert re.search(r"`[A-Z][A-Z_]+`|too large|a backend", answer["description"]), (key, status)


def test_servers_is_relative_to_where_the_document_is_served():
    assert OPENAPI["servers"] == [{"url": "/", "description": "the gateway serving this document"}]
    assert "127.0.0.1" not in str(OPENAPI) and "8080" not in str(OPENAPI)


def _param(path: str, method: str, name: str) -> dict:
    return next(p for p in OPENAPI["paths"][path][method]["parameters"] if p["name"] == name)["schema"]


def test_the_limits_the_gateway_enforces_are_stated():
    issue = SCHEMAS["IssueRequest"]["properties"]
    assert (issue["valid_days"]["minimum"], issue["valid_days"]["maximum"]) == (1, MAX_VALID_DAYS)
    assert issue["version"]["maximum"] == MAX_TYPE_VERSION
    assert issue["request_id"]["maxLength"] == MAX_REQUEST_ID
    batch = OPENAPI["paths"]["/v1/verifications:batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["properties"]["payloads"]["maxItems"] == MAX_BATCH
    rules = OPENAPI["paths"]["/v1/recognition-rules/purposes/{purpose}"]["put"]["requestBody"]
    assert rules["content"]["application/json"]["schema"]["properties"]["types"]["maxItems"] == MAX_RULE_ITEMS
    region = OPENAPI["paths"]["/v1/regions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert region["properties"]["name"]["maxLength"] == MAX_NAME
    key = OPENAPI["paths"]["/v1/regions/{code}/keys"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert key["properties"]["spki"]["maxLength"] == (MAX_SPKI + 2) // 3 * 4
    assert SCHEMAS["CertificateTypeRequest"]["properties"]["name"]["maxLength"] == MAX_NAME
    assert _param("/v1/credentials/{id}/access-log", "get", "limit")["maximum"] == MAX_TRAIL_PAGE
    assert _param("/v1/credentials", "get", "limit")["maximum"] == MAX_SEARCH_PAGE
    rotate = OPENAPI["paths"]["/v1/regions/{code}/signing-key:rotate"]["post"]["requestBody"]
    assert rotate["content"]["application/json"]["schema"]["properties"]["request_id"]["maxLength"] == MAX_REQUEST_ID


def test_the_patterns_are_the_checks():
    region = re.compile(openapi.REGION_PATTERN)
    for text in ("CN-ZJ", "CN-11", "US-CA", "CN-ABC", "cn-zj", "CN-ABCD", "CNZJ", "C-ZJ", "CN-", "CN-Z1", " CN-ZJ"):
        assert (region.search(text) is not None) == is_region_code(text), text
    type_id = re.compile(openapi.TYPE_ID_PATTERN)
    for text in ("cn.driving_licence", "cn.x", "a.b.c", "cn", ".cn.x", "cn.x.", "CN.x", "cn..x", "cn.x-y", "c.d_9"):
        try:
            ok = check_type_id(text) == text
        except InvalidRequest:
            ok = False
        assert (type_id.search(text) is not None and 3 <= len(text) <= 64) == ok, text


def test_the_verification_answer_is_described_in_full():
    v = SCHEMAS["Verification"]
    assert v["properties"]["result"]["enum"] == [o.value for o in Outcome]
    for member in ("detail", "warnings", "status", "status_as_of", "trust_list_stale", "trust_list_as_of",
                   "checked_at", "purpose", "document", "code_sha256", "results"):
        assert member in v["properties"], member
    credential = v["properties"]["credential"]["oneOf"][1]
    assert "display_id" in credential["properties"]
    assert {"result", "credential", "fields", "warnings", "status_checked", "trust_list_version",
            "checked_at"} <= set(v["required"])


def test_times_and_key_ids_are_described_as_answered():
    key = SCHEMAS["Key"]["properties"]
    assert key["kid"]["pattern"] == "^[0-9a-f]{16}$"
    assert key["nbf"]["format"] == key["exp"]["format"] == "date-time"
    trust = OPENAPI["paths"]["/v1/trust-list"]["get"]["description"]
    assert "base64" in trust and "epoch seconds" in trust  # the signed payload's encoding, said where it is kept
