"""Quotas: a key's requests a minute and a day, by role from the configuration or its own; 429
``QUOTA_EXCEEDED`` with ``Retry-After`` past either; counted by every gateway process together
through the store (reserved in leases: never past a limit, the store asked once per lease, not per
request); the ended windows' counters pruned; throttling in ``/metrics`` by role, never by key. Clocks are fakes: no sleeps."""

from __future__ import annotations

import contextlib
import dataclasses
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ecert.clock import FixedClock
from ecert.errors import ConfigError
from ecert.rules import apikeys
from ecert.rules.apikeys import DEFAULT_QUOTAS, Quota
from ecert.rules.document import CST_OFFSET
from ecert.runtime.config import GatewayConfig
from gateway.app import create_app
from gateway import auth
from gateway.keys import QUOTAS, STORE
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ENV = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}


@contextlib.asynccontextmanager
async def gateways(suite, n: int = 1, **quotas: Quota):
    """``n`` gateway apps over the suite's store, with ``quotas`` by role over the defaults; a fake wall
    clock 10 s into a minute: ``(clients, wall)``."""
    minute = int(time.time()) // 60 * 60
    wall = FixedClock(float(minute + 10))
    cfg = dataclasses.replace(suite.gateway_config, quotas={**DEFAULT_QUOTAS, **quotas})
    clients = [TestClient(TestServer(create_app(cfg, store=suite.store, wall=wall))) for _ in range(n)]
    for c in clients:
        await c.start_server()
    try:
        yield clients, wall
    finally:
        for c in clients:
            await c.close()


async def _call(client, key: str):
    """A keyed request that needs no backend: 200 when admitted."""
    return await client.get("/v1/purposes", headers=bearer(key))


async def _sync(*clients) -> None:
    """What each process's background does every second."""
    for c in clients:
        await c.app[QUOTAS].sync(_store(c))


def _store(client):
    return client.app[STORE]


async def test_quotas_are_configured_by_role():
    cfg = GatewayConfig.from_env(ENV)
    assert cfg.quotas["hotel"] == DEFAULT_QUOTAS["hotel"] and cfg.quotas["admin"] == Quota(0, 0)
    cfg = GatewayConfig.from_env({**ENV, "ECERT_QUOTA_HOTEL_PER_MINUTE": "5", "ECERT_QUOTA_INTEGRATOR_PER_DAY": "0"})
    assert cfg.quotas["hotel"] == Quota(5, DEFAULT_QUOTAS["hotel"].per_day)
    assert cfg.quotas["integrator"] == Quota(DEFAULT_QUOTAS["integrator"].per_minute, 0)
    for bad in ("-1", "1.5", "many"):
        with pytest.raises(ConfigError, match="ECERT_QUOTA_HOTEL_PER_MINUTE"):
            GatewayConfig.from_env({**ENV, "ECERT_QUOTA_HOTEL_PER_MINUTE": bad})


async def test_past_its_rate_a_key_gets_429_quota_exceeded_with_retry_after(suite):
    async with gateways(suite, hotel=Quota(3, 0)) as ([gw], wall):
        key, _ = await apikeys.create_api_key(suite.store, "hotel")
        other, _ = await apikeys.create_api_key(suite.store, "hotel")
        for _ in range(3):
            assert (await _call(gw, key)).status == 200
        r = await _call(gw, key)
        body = await r.json()
        assert r.status == 429 and body["error"]["code"] == "QUOTA_EXCEEDED", body
        assert r.headers["Retry-After"] == "50"  # the minute ends in 50 s
        assert {"code", "message", "request_id"} <= set(body["error"])
        assert (await _call(gw, other)).status == 200  # per key
        wall.t += 50  # the next minute
        assert (await _call(gw, key)).status == 200
        metrics = await (await gw.get("/metrics")).text()
        assert 'ecert_gateway_throttled_total{reason="per_minute",role="hotel"} 1.0' in metrics
        assert key not in metrics and apikeys.hash_key(key)[:12] not in metrics  # never a key or its id


async def test_a_daily_volume_ends_at_midnight_china_time(suite):
    async with gateways(suite, traffic_police=Quota(0, 2)) as ([gw], wall):
        key, _ = await apikeys.create_api_key(suite.store, "traffic_police", "CN-JS")
        for _ in range(2):
            assert (await _call(gw, key)).status == 200
        r = await _call(gw, key)
        midnight = (int(wall()) + CST_OFFSET) // 86400 * 86400 + 86400 - CST_OFFSET
        assert r.status == 429 and r.headers["Retry-After"] == str(midnight - int(wall()))
        metrics = await (await gw.get("/metrics")).text()
        assert 'ecert_gateway_throttled_total{reason="per_day",role="traffic_police"} 1.0' in metrics
        wall.t = midnight
        assert (await _call(gw, key)).status == 200


async def test_a_key_of_its_own_quota_and_an_unlimited_one(suite, keys):
    async with gateways(suite, integrator=Quota(2, 0)) as ([gw], _):
        made = await (await gw.post("/v1/api-keys", json={"role": "integrator", "quota": {"per_minute": 4}},
                                    headers=bearer(keys["admin"]))).json()
        unlimited, _ = await apikeys.create_api_key(suite.store, "integrator", quota={"per_minute": 0})
        assert [(await _call(gw, made["key"])).status for _ in range(5)] == [200] * 4 + [429]
        assert [(await _call(gw, unlimited)).status for _ in range(10)] == [200] * 10
        assert [(await _call(gw, keys["admin"])).status for _ in range(10)] == [200] * 10  # admin: none by default


async def test_two_processes_share_one_quota_through_the_store(suite):
    async with gateways(suite, 2, hotel=Quota(5, 0)) as ([a, b], wall):
        key, doc = await apikeys.create_api_key(suite.store, "hotel")
        for _ in range(3):
            assert (await _call(a, key)).status == 200
        assert (await _call(b, key)).status == 200
        assert (await _call(b, key)).status == 200
        assert (await _call(b, key)).status == 429  # 5 in all, not 5 each
        assert (await _call(a, key)).status == 429  # and a, too
        name = f"{doc['key_id']}:m:{int(wall()) // 60}"
        assert (await suite.store.get_counts([name]))[name] >= 5
        # the ended windows' counters are removed from the store
        wall.t += 3600
        await _sync(a, b)
        await a.app[QUOTAS].prune(_store(a))
        assert await suite.store.get_counts([name]) == {}
        assert len(a.app[QUOTAS]) == 0  # and forgotten in memory


async def test_a_burst_over_two_processes_never_passes_the_limit(suite):
    """Requests as fast as they come, alternately to two processes, with no background round between:
    exactly the limit is admitted, however the leases fall."""
    async with gateways(suite, 2, hotel=Quota(600, 0)) as ([a, b], _):
        key, _ = await apikeys.create_api_key(suite.store, "hotel")
        statuses = [(await _call((a, b)[i % 2], key)).status for i in range(700)]
        admitted = statuses.count(200)
        assert statuses.count(429) == 700 - admitted
        assert 600 - 2 * 30 <= admitted <= 600  # never past the limit; at most each one's unused lease short


async def test_counting_asks_the_store_once_per_lease_not_per_request(suite, monkeypatch):
    async with gateways(suite, hotel=Quota(100, 1000)) as ([gw], _):
        key, _ = await apikeys.create_api_key(suite.store, "hotel")
        assert (await _call(gw, key)).status == 200  # the key's grant held, its first leases taken
        writes = []
        store = _store(gw)
        for name in ("add_counts", "update_apikey", "get_counts"):
            original = getattr(store, name)

            async def counted(*args, _name=name, _original=original, **kw):
                writes.append(_name)
                return await _original(*args, **kw)

            monkeypatch.setattr(store, name, counted)
        monkeypatch.setattr(auth, "upkeep_once", _no_upkeep)  # no background round in between
        for _ in range(20):
            assert (await _call(gw, key)).status == 200
        # leases of 1, 2, 4, then 5 (100 // 20) a minute, 1, 2, 4, 8, ... a day: a few store calls for
        # 20 requests, fewer and fewer as the leases grow
        assert 0 < len(writes) <= 10 and set(writes) == {"add_counts"}
        before = len(writes)
        for _ in range(20):
            assert (await _call(gw, key)).status == 200
        assert len(writes) - before <= 5  # leases of 5 a minute (and 16, 32 a day)


async def test_a_process_that_stops_gives_back_its_unused_leases(suite):
    async with gateways(suite, hotel=Quota(1000, 0)) as ([gw], wall):
        key, doc = await apikeys.create_api_key(suite.store, "hotel")
        for _ in range(10):  # leases of 1, 2, 4, 8: 15 reserved, 10 used
            assert (await _call(gw, key)).status == 200
        name = f"{doc['key_id']}:m:{int(wall()) // 60}"
        assert (await suite.store.get_counts([name]))[name] == 15
    assert (await suite.store.get_counts([name]))[name] == 10  # the app closed: 5 given back


async def test_with_the_store_away_each_process_counts_alone(suite, monkeypatch):
    async with gateways(suite, hotel=Quota(3, 0)) as ([gw], _):
        key, _ = await apikeys.create_api_key(suite.store, "hotel")
        assert (await _call(gw, key)).status == 200  # the grant held

        async def away(*args, **kw):
            raise OSError("the store is restarting")

        monkeypatch.setattr(_store(gw), "add_counts", away)
        assert [(await _call(gw, key)).status for _ in range(4)] == [200, 200, 429, 429]


async def _no_upkeep(app) -> None:
    return None


async def test_the_failed_authentication_limit_is_counted_by_address_not_by_key(suite, keys):
    cfg = dataclasses.replace(suite.gateway_config, auth_failures_per_minute=1)
    client = TestClient(TestServer(create_app(cfg, store=suite.store)))
    await client.start_server()
    try:
        assert (await _call(client, "ek_" + "w" * 43)).status == 401
        r = await _call(client, keys["hotel"])
        assert r.status == 429 and (await r.json())["error"]["code"] == "TOO_MANY_REQUESTS"
        metrics = await (await client.get("/metrics")).text()
        assert 'ecert_gateway_throttled_total{reason="auth_failures",role="unknown"} 1.0' in metrics
    finally:
        await client.close()
