"""The gateway's one access table (gateway.access.TABLE): it covers every route the app has and
nothing else, the OpenAPI document's ``Roles:`` and ``security`` come from it, and a role
outside it is answered 403 before any backend is asked."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from ecert.errors import Unavailable
from ecert.format.keys import SigningKey
from ecert.vocab import KEY_ROLES
from gateway import access
from gateway.app import create_app
from gateway.keys import ACCESS
from gateway.openapi import OPENAPI
from tests import forge
from tests.conftest import bearer

session_loop = pytest.mark.asyncio(loop_scope="session")


class Tripwire:
    """Backends that must not be asked: every call is recorded and answered 503 (``Unavailable``,
    which the gateway answers without a stack trace)."""

    def __init__(self, calls: list[str] | None = None, name: str = ""):
        self._calls = [] if calls is None else calls
        self._name = name

    def __getattr__(self, name: str) -> Tripwire:
        return Tripwire(self._calls, f"{self._name}.{name}".lstrip("."))

    def __call__(self, *args, **kwargs):
        self._calls.append(self._name)
        raise Unavailable(f"backend {self._name} was called")

    @property
    def calls(self) -> list[str]:
        return self._calls


@pytest.fixture(scope="module")
def app(suite):
    return create_app(suite.gateway_config, store=suite.store, backends=Tripwire())


@pytest.fixture
async def guarded(suite):
    """A client for an app whose backends are a fresh :class:`Tripwire`, and that tripwire."""
    wire = Tripwire()
    client = TestClient(TestServer(create_app(suite.gateway_config, store=suite.store, backends=wire)))
    await client.start_server()
    yield client, wire
    await client.close()


# -- the table and the routes --------------------------------------------------------------------

def test_the_table_covers_every_route_and_nothing_else(app):
    registered = {access.route_key(r) for r in app.router.routes()}
    assert registered == set(access.TABLE)
    for route in app.router.routes():  # each route has its rule; a HEAD route has its GET's
        assert app[ACCESS][route] is access.TABLE[access.route_key(route)]
    assert {r.method for r in app.router.routes()} == {"GET", "HEAD", "POST", "PUT", "DELETE"}


def test_a_route_without_a_rule_or_a_rule_without_a_route_stops_the_app(suite, monkeypatch):
    extra = create_app(suite.gateway_config, store=suite.store, backends=Tripwire())
    async def unlisted(request: web.Request) -> web.Response:
        return web.Response()

    extra.router.add_post("/v1/unlisted", unlisted)
    with pytest.raises(LookupError, match="not in the access table"):
        access.bind(extra.router)
    monkeypatch.setitem(access.TABLE, ("GET", "/v1/nowhere"), access.ANY)
    with pytest.raises(LookupError, match="which no route has"):
        create_app(suite.gateway_config, store=suite.store, backends=Tripwire())


def test_a_key_is_needed_exactly_under_v1():
    for (_, path), rule in access.TABLE.items():
        assert rule.key == path.startswith(access.KEYED_PREFIX), path


# -- the document --------------------------------------------------------------------------------

@session_loop
async def test_the_documents_roles_and_security_come_from_the_table(app):
    documented = set()
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            match = await app.router.resolve(make_mocked_request(method.upper(), _path(path), app=app))
            assert match.http_exception is None, (method, path)
            rule = app[ACCESS][match.route]
            documented.add(access.route_key(match.route))
            assert op["description"].startswith(f"Roles: {access.roles_text(rule)}."), (method, path)
            assert (op.get("security") == []) == (not rule.key), (method, path)
    assert set(access.TABLE) - documented == set()  # every route, the page's own files too


def test_the_roles_text_says_who_and_for_which_region():
    t = access.TABLE
    assert access.roles_text(t["GET", "/healthz"]) == "none"
    assert access.roles_text(t["GET", "/scan"]) == "none (the page's own calls carry the operator's key)"
    assert access.roles_text(t["GET", "/v1/regions"]) == "any"
    assert access.roles_text(t["POST", "/v1/regions"]) == "admin"
    assert access.roles_text(t["POST", "/v1/regions/{code}/keys"]) == "admin, agency of the region"
    assert access.roles_text(t["POST", "/v1/credentials"]) == "agency of the region, admin"
    assert access.roles_text(t["GET", "/v1/credentials/{id}"]) == "issuing agency, admin"
    assert access.roles_text(t["POST", "/v1/verifications"]) == "hotel, traffic_police, integrator, agency, admin"
    assert access.roles_text(t["GET", "/v1/recognition-rules"]) == "any"
    assert access.roles_text(t["PUT", "/v1/recognition-rules/regions/{region}"]) == "admin"
    assert access.roles_text(t["GET", "/v1/purposes"]) == "any (those of the caller's role)"


# -- the checks ----------------------------------------------------------------------------------

_PATH_VALUES = {"{code}": "CN-SH", "{kid}": "0123456789abcdef", "{id}": "A" * 26, "{kind}": "png",
                "{action}": "revoke", "{purpose}": "hotel_check_in", "{region}": "CN-SH",
                "{token_id}": "0" * 32, "{digest}": "0" * 64, "{name}": "scan.js"}


def _path(template: str) -> str:
    for name, value in _PATH_VALUES.items():
        template = template.replace(name, value)
    return template


def _body(path: str, region: str = "CN-SH") -> dict | None:
    """A body good enough to reach the backend (for the roles that may)."""
    return {
        "/v1/regions": {"code": "CN-QQ", "name": "nowhere"},
        "/v1/regions/{code}/keys": {"alg": "ES256", "spki": forge.spki_b64(SigningKey.generate())},
        "/v1/certificate-types": {"id": "cn.nothing", "name": "nothing", "schema": {"type": "object"}},
        "/v1/credentials": {"region": region, "type": "cn.driving_licence", "fields": {}},
        "/v1/verifications": {"payload": "EC1:X"},
        "/v1/verifications:batch": {"payloads": ["EC1:X"]},
        "/v1/verifications:offline": {"checks": [{"id": "5b0c1f4e-8a4e-4d5e-9a77-3f1c2b7d9e01", "credential_id": "A" * 26,
                                                  "region": region, "result": "VALID",
                                                  "checked_at": "2026-01-01T00:00:00Z"}]},
        "/v1/recognition-rules/purposes/{purpose}": {"types": ["cn.resident_id"]},
        "/v1/recognition-rules/regions/{region}": {"recognises": ["CN-SH"]},
    }.get(path)


def _sent(path: str, region: str = "CN-SH", method: str = "") -> dict:
    """The request's body (JSON, or a picture's bytes) and query, good enough to reach the backend."""
    if method == "GET" and path == "/v1/credentials":  # a search: the region is the query's
        return {"params": {"region": region}}
    if path == "/v1/photos":
        return {"data": b"\xff\xd8\xff", "headers": {"Content-Type": "image/jpeg"}, "params": {"region": region}}
    if path == "/v1/photos/{digest}":
        return {"params": {"credential": "A" * 26, "region": region}}
    return {"json": _body(path, region)}


def _role_keys(keys) -> dict[str, str]:
    """One key per role (the agency's is CN-SH's, the region the requests name)."""
    return {"admin": keys["admin"], "agency": keys["agency_sh"], "hotel": keys["hotel"],
            "traffic_police": keys["police"], "integrator": keys["integrator"]}


RESTRICTED = [(method, path) for (method, path), rule in access.TABLE.items() if rule.key and rule.roles]


@session_loop
@pytest.mark.parametrize("method,path", RESTRICTED)
async def test_a_role_outside_the_table_is_403_before_any_backend(guarded, keys, method, path):
    client, wire = guarded
    rule = access.TABLE[method, path]
    outside = [role for role in KEY_ROLES if role not in rule.roles]
    assert outside or set(rule.roles) == set(KEY_ROLES)
    for role in outside:
        r = await client.request(method, _path(path), json=_body(path), headers=bearer(_role_keys(keys)[role]))
        body = await r.json()
        assert r.status == 403 and body["error"]["code"] == "FORBIDDEN", (role, body)
        assert wire.calls == [], (role, wire.calls)


@session_loop
@pytest.mark.parametrize("method,path", [(m, p) for m, p in RESTRICTED if not p.startswith("/v1/api-keys")])
async def test_a_role_in_the_table_gets_past_the_check(guarded, keys, method, path):
    """(The API key routes ask no backend, only the store: tests/test_apikey_lifecycle.py.)"""
    client, wire = guarded
    for role in access.TABLE[method, path].roles:
        sent = _sent(path, method=method)
        headers = {**sent.pop("headers", {}), **bearer(_role_keys(keys)[role])}
        r = await client.request(method, _path(path), **sent, headers=headers)
        assert r.status == 503, (role, await r.text())  # the tripwire's answer: the backend was asked
        assert wire.calls, role
        wire.calls.clear()


@session_loop
@pytest.mark.parametrize("method,path", [(m, p) for (m, p), rule in access.TABLE.items()
                                         if rule.region in (access.PATH, access.BODY, access.QUERY)])
async def test_an_agency_of_another_region_is_403_before_any_backend(guarded, keys, method, path):
    client, wire = guarded
    sent = _sent(path, region="CN-SH", method=method)
    headers = {**sent.pop("headers", {}), **bearer(keys["agency_zj"])}
    r = await client.request(method, _path(path), **sent, headers=headers)
    body = await r.json()
    assert r.status == 403 and "CN-SH" in body["error"]["message"], body
    assert wire.calls == []


@session_loop
async def test_head_is_checked_as_get(guarded):
    client, wire = guarded
    assert (await client.head("/v1/regions")).status == 401
    assert (await client.head("/healthz")).status == 200
    assert wire.calls == []
