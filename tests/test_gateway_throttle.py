"""Failed authentications are counted per client address; past the configured rate the address
gets 429 with ``Retry-After`` (a correct key too) before any key is looked at, and the event is
logged once per window, without the key. Time is a fake clock: no sleeps."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from ecert.rules import apikeys
from ecert.runtime.config import GatewayConfig
from gateway.app import create_app
from gateway.throttle import AuthThrottle
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIMIT = 3
WRONG = "ek_" + "w" * 43


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest_asyncio.fixture
async def guarded(suite, monkeypatch):
    """A gateway limited to LIMIT failed keys a minute, on a fake clock; and how often the store
    was asked for a key."""
    clock, asked = Clock(), []
    grant = apikeys.grant

    async def counting(store, key, **options):
        asked.append(key)
        return await grant(store, key, **options)

    monkeypatch.setattr(apikeys, "grant", counting)
    cfg = dataclasses.replace(suite.gateway_config, auth_failures_per_minute=LIMIT)
    client = TestClient(TestServer(create_app(cfg, store=suite.store, clock=clock)))
    await client.start_server()
    yield client, clock, asked
    await client.close()


async def _past_auth(client, key: str) -> int:
    """The status of a keyed request that, once authenticated, is a 400 without any backend."""
    r = await client.post("/v1/verifications", data=b"{}", headers={**bearer(key), "Content-Type": "application/json"})
    return r.status


async def test_the_limit_is_configured():
    env = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}
    assert GatewayConfig.from_env(env).auth_failures_per_minute == 30
    assert GatewayConfig.from_env({**env, "ECERT_AUTH_FAILURES_PER_MINUTE": "0"}).auth_failures_per_minute == 0


async def test_past_the_limit_an_address_gets_429_with_retry_after_even_with_a_good_key(guarded, keys, caplog):
    client, clock, asked = guarded
    caplog.set_level(logging.INFO)
    assert await _past_auth(client, keys["hotel"]) == 400  # a good key: past authentication
    for _ in range(LIMIT):
        assert await _past_auth(client, WRONG) == 401
    asked.clear()
    clock.t += 20
    for key in (WRONG, keys["hotel"], "ek_another_guess"):
        r = await client.post("/v1/verifications", json={}, headers=bearer(key))
        body = await r.json()
        assert r.status == 429 and body["error"]["code"] == "TOO_MANY_REQUESTS", body
        assert r.headers["Retry-After"] == "40"  # the window opened by the first failure ends in 40 s
        assert set(body["error"]) == {"code", "message", "request_id"}
    assert asked == []  # refused before any key was looked at
    r = await client.get("/healthz")
    assert r.status == 200  # the open routes need no key and are not limited
    warnings = [r for r in caplog.records if "failed keys" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING  # once per window
    assert not [r for r in caplog.records if WRONG in r.getMessage() or "another_guess" in r.getMessage()]
    clock.t += 40  # the window is over
    assert await _past_auth(client, keys["hotel"]) == 400
    assert await _past_auth(client, WRONG) == 401  # a new window


async def test_missing_keys_are_not_counted(guarded, keys):
    client, _, _ = guarded
    for _ in range(LIMIT * 3):
        assert (await client.get("/v1/regions")).status == 401
    assert await _past_auth(client, keys["hotel"]) == 400


async def test_failures_are_counted_per_address_in_bounded_memory():
    clock = Clock()
    t = AuthThrottle(2, size=3, clock=clock)
    for _ in range(2):
        t.failed("10.0.0.1")
    assert t.retry_after("10.0.0.1") == 60 and t.retry_after("10.0.0.2") is None
    t.failed("10.0.0.2")
    assert t.retry_after("10.0.0.2") is None  # one failure is under the limit
    for address in ("10.0.0.3", "10.0.0.4", "10.0.0.5"):  # more addresses than are followed
        t.failed(address)
    assert len(t._seen) == 3
    clock.t += 60
    assert t.retry_after("10.0.0.1") is None  # forgotten with its window
    off = AuthThrottle(0, clock=clock)
    for _ in range(1000):
        off.failed("10.0.0.1")
    assert off.retry_after("10.0.0.1") is None and len(off._seen) == 0
