"""CORS (gateway/cors.py): a page from a configured origin (ECERT_CORS_ORIGINS) may call the
gateway; its preflights are answered without a key; an origin not configured gets no CORS header."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ecert.errors import ConfigError
from ecert.runtime.config import GatewayConfig
from gateway.app import create_app
from tests.conftest import bearer

session_loop = pytest.mark.asyncio(loop_scope="session")

DESK = "https://desk.hotel.example.cn"
OTHER = "https://evil.example.com"
CORS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
        "Access-Control-Max-Age", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials")


@contextlib.asynccontextmanager
async def gateway(suite, *origins: str, **changes):
    cfg = dataclasses.replace(suite.gateway_config, cors_origins=origins, **changes)
    async with TestClient(TestServer(create_app(cfg, store=suite.store))) as client:
        yield client


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


def _listed(value: str | None) -> set[str]:
    return {v.strip().lower() for v in (value or "").split(",") if v.strip()}


def no_cors(headers) -> bool:
    return not any(name in headers for name in CORS)


@session_loop
async def test_a_preflight_from_a_configured_origin_is_answered_without_a_key(suite):
    async with gateway(suite, DESK, "http://localhost:3000") as http:
        for path in ("/v1/verifications", "/v1/credentials/ABC:revoke", "/v1/no-such-route", "/healthz"):
            r = await http.options(path, headers=preflight(DESK))
            assert r.status == 204, (path, await r.text())
            assert r.headers["Access-Control-Allow-Origin"] == DESK
            assert {"get", "post", "put", "delete"} <= _listed(r.headers["Access-Control-Allow-Methods"])
            assert {"authorization", "content-type", "x-request-id", "accept-language"} <= _listed(
                r.headers["Access-Control-Allow-Headers"])
            assert int(r.headers["Access-Control-Max-Age"]) > 0
            assert "origin" in _listed(r.headers["Vary"])
            assert "Access-Control-Allow-Credentials" not in r.headers  # the key is a header, not a cookie
            assert r.headers["X-Request-Id"]


@session_loop
async def test_answers_to_a_configured_origin_say_so_errors_included(suite, keys):
    async with gateway(suite, DESK) as http:
        r = await http.get("/v1/regions", headers={**bearer(keys["hotel"]), "Origin": DESK})
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == DESK
        assert {"x-request-id", "retry-after"} <= _listed(r.headers["Access-Control-Expose-Headers"])
        assert "origin" in _listed(r.headers["Vary"])
        r = await http.get("/v1/regions", headers={"Origin": DESK})  # no key: the page can read the 401
        assert r.status == 401 and r.headers["Access-Control-Allow-Origin"] == DESK
        assert (await r.json())["error"]["code"] == "UNAUTHENTICATED"
        r = await http.get("/openapi.json", headers={"Origin": DESK})
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == DESK


@session_loop
async def test_a_lockout_answer_shows_a_page_its_retry_after(suite):
    async with gateway(suite, DESK, auth_failures_per_minute=1) as http:
        r = await http.get("/v1/regions", headers={**bearer("ek_wrong"), "Origin": DESK})
        assert r.status == 401
        r = await http.get("/v1/regions", headers={**bearer("ek_wrong"), "Origin": DESK})
        assert r.status == 429 and r.headers["Retry-After"]
        assert r.headers["Access-Control-Allow-Origin"] == DESK
        assert "retry-after" in _listed(r.headers["Access-Control-Expose-Headers"])


@session_loop
async def test_an_origin_not_configured_gets_no_cors_header(suite, keys):
    async with gateway(suite, DESK) as http:
        r = await http.options("/v1/verifications", headers=preflight(OTHER))
        assert r.status == 204 and no_cors(r.headers)
        r = await http.get("/v1/regions", headers={**bearer(keys["hotel"]), "Origin": OTHER})
        assert r.status == 200 and no_cors(r.headers)
        assert "origin" in _listed(r.headers["Vary"])  # the answer depends on the origin: caches must know
        r = await http.get("/v1/regions", headers={**bearer(keys["hotel"]), "Origin": DESK + ".evil.example.com"})
        assert no_cors(r.headers)


@session_loop
async def test_with_no_origin_configured_nothing_changes_but_preflights_are_not_refused(http, keys):
    r = await http.options("/v1/verifications", headers=preflight(DESK))
    assert r.status == 204 and no_cors(r.headers)
    r = await http.get("/v1/regions", headers={**bearer(keys["hotel"]), "Origin": DESK})
    assert r.status == 200 and no_cors(r.headers)
    assert "origin" not in _listed(r.headers.get("Vary"))
    r = await http.options("/v1/verifications")  # not a preflight: no Origin
    assert r.status == 401


def test_the_origins_are_read_from_the_environment_and_checked():
    base = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}
    assert GatewayConfig.from_env(base).cors_origins == ()
    cfg = GatewayConfig.from_env({**base, "ECERT_CORS_ORIGINS": f" {DESK.upper()}, http://localhost:3000 ,"})
    assert cfg.cors_origins == (DESK, "http://localhost:3000")
    for bad in ("*", f"{DESK}/scan", "ftp://desk.example.cn", "desk.example.cn", "https://a b"):
        with pytest.raises(ConfigError, match="ECERT_CORS_ORIGINS"):
            GatewayConfig.from_env({**base, "ECERT_CORS_ORIGINS": bad})
