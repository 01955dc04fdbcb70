"""Every backend call from the gateway has a bounded, configured deadline, and a backend that does
not answer is a 503 naming it; the registry's last good copy is served where there is one.

A *paused* backend is a port that accepts connections and never answers (as a SIGSTOPped
process does). Each request is also bounded on the client side (:data:`CLIENT_BOUND`), far above
the configured deadline and far below the 10 s every call had before: a request that hangs
fails the test, and no assertion is on a duration.
"""

from __future__ import annotations

import dataclasses

import pytest
import pytest_asyncio
from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient, TestServer

from ecert.errors import ConfigError, Unavailable
from ecert.rpc import client as rpc_client
from ecert.rpc.streams import stream_failure
from ecert.runtime import pki
from ecert.runtime.config import GatewayConfig
from ecertpb.v1 import registry_pb2_grpc
from gateway.app import create_app
from gateway.clients import named
from gateway.keys import BACKENDS
from testkit.samples import driving_licence
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEADLINE = 0.4
"""The configured deadline (ECERT_BACKEND_TIMEOUT) of the apps here, seconds."""
CLIENT_BOUND = ClientTimeout(total=6)


def _config(suite, **changes) -> GatewayConfig:
    return dataclasses.replace(suite.gateway_config, backend_timeout=DEADLINE, bulk_timeout=DEADLINE, **changes)


@pytest_asyncio.fixture
async def client_for(suite):
    clients = []

    async def start(cfg: GatewayConfig) -> TestClient:
        client = TestClient(TestServer(create_app(cfg, store=suite.store)), timeout=CLIENT_BOUND)
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def test_the_deadlines_are_configured():
    env = {"ECERT_INTERNAL_TOKEN": "t", "ECERT_TLS_CA": "ca", "ECERT_TLS_CERT": "c", "ECERT_TLS_KEY": "k"}
    cfg = GatewayConfig.from_env(env)
    assert (cfg.backend_timeout, cfg.bulk_timeout) == (5.0, 30.0)
    cfg = GatewayConfig.from_env({**env, "ECERT_BACKEND_TIMEOUT": "1.5", "ECERT_BACKEND_BULK_TIMEOUT": "9"})
    assert (cfg.backend_timeout, cfg.bulk_timeout) == (1.5, 9.0)
    # a deadline that would fail every call (0, below, NaN) or none at all (inf) is refused at start
    for name in ("ECERT_BACKEND_TIMEOUT", "ECERT_BACKEND_BULK_TIMEOUT"):
        for bad in ("0", "-1", "nan", "inf", "soon"):
            with pytest.raises(ConfigError, match=name):
                GatewayConfig.from_env({**env, name: bad})
    assert GatewayConfig.from_env({**env, "ECERT_AUTH_FAILURES_PER_MINUTE": "0"}).auth_failures_per_minute == 0
    for bad in ("-5", "1.5", "x"):  # a negative count would turn the throttle off unsaid
        with pytest.raises(ConfigError, match="ECERT_AUTH_FAILURES_PER_MINUTE"):
            GatewayConfig.from_env({**env, "ECERT_AUTH_FAILURES_PER_MINUTE": bad})


async def test_a_streams_own_failure_names_the_backend_and_a_backends_answer_is_kept():
    assert named(stream_failure(late=True), "the verifier").message == "the verifier did not answer in time"
    assert named(stream_failure(late=False), "the verifier").message == "the verifier could not be reached"
    assert named(stream_failure(late=True), "the issuer of CN-ZJ", "REGION_UNAVAILABLE").code == "REGION_UNAVAILABLE"
    # a backend's own 503 is its answer, whatever its words
    own = Unavailable("the backend did not answer in time", code="BUSY")
    assert named(own, "the verifier") is own


async def test_a_paused_registry_and_verifier_are_503_naming_them(suite, keys, paused, client_for):
    http = await client_for(_config(suite, registry_target=paused, verifier_target=paused))
    h = bearer(keys["hotel"])
    for path in ("/v1/regions", "/v1/trust-list", "/v1/trust-list.cbor", "/v1/certificate-types"):
        r = await http.get(path, headers=h)
        error = (await r.json())["error"]
        assert r.status == 503 and error["code"] == "UNAVAILABLE", (path, error)
        assert error["message"] == "the registry did not answer in time", (path, error)
    for path, body in (("/v1/verifications", {"payload": "EC1:X"}), ("/v1/verifications:batch", {"payloads": ["x"]})):
        r = await http.post(path, headers=h, json=body)
        error = (await r.json())["error"]
        assert r.status == 503 and error["message"] == "the verifier did not answer in time", (path, error)
    r = await http.post("/v1/regions", headers=bearer(keys["admin"]), json={"code": "CN-QZ", "name": "x"})
    assert r.status == 503 and (await r.json())["error"]["message"] == "the registry did not answer in time"


async def test_the_last_good_copy_is_served_while_the_registry_is_paused(suite, keys, paused, client_for):
    http = await client_for(_config(suite))
    h = bearer(keys["hotel"])
    paths = ("/v1/regions", "/v1/trust-list", "/v1/trust-list.cbor", "/v1/certificate-types")
    before = {}
    for path in paths:
        r = await http.get(path, headers=h)
        assert r.status == 200, (path, await r.text())
        before[path] = await r.read()
    be = http.server.app[BACKENDS]
    live = be.registry
    channel = rpc_client.channel(paused, suite.links(), peer=pki.REGISTRY)
    be.registry = registry_pb2_grpc.RegistryServiceStub(channel)
    try:
        be.registry_changed()  # every copy is due: the registry is asked, does not answer, the copy is served
        for path in paths:
            r = await http.get(path, headers=h)
            assert r.status == 200, (path, await r.text())
            assert await r.read() == before[path], path
        assert be.regions.failures == 1 and be.trust_list.failures == 1 and be.types.failures == 1
        # a change cannot be made meanwhile, and says why
        r = await http.post("/v1/regions", headers=bearer(keys["admin"]), json={"code": "CN-QZ", "name": "x"})
        assert r.status == 503 and "the registry did not answer in time" in await r.text()
    finally:
        be.registry = live
        await channel.close()


async def test_an_admin_lookup_asks_the_regions_at_once_and_names_the_paused_one(suite, keys, paused, client_for):
    http = await client_for(_config(suite))
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    assert r.status == 201, await r.text()
    cred_id = (await r.json())["id"]
    be = http.server.app[BACKENDS]
    endpoints = dict(await be.directory.get())
    # CN-AA is asked first in the directory's order, and is paused
    be.directory.seed({"CN-AA": paused, **endpoints})
    be.directory.fetched_at = None
    be.directory._next = float("inf")  # the seeded copy stays (no refresh while the test runs)
    try:
        h = bearer(keys["admin"])
        r = await http.get(f"/v1/credentials/{cred_id}", headers=h)
        assert r.status == 200 and (await r.json())["id"] == cred_id  # found without waiting on CN-AA
        r = await http.get("/v1/credentials/" + "A" * 26, headers=h)
        error = (await r.json())["error"]
        assert r.status == 503 and error["code"] == "REGION_UNAVAILABLE", error
        assert error["message"].endswith("unreachable: CN-AA"), error
        r = await http.post("/v1/credentials", headers=h,
                            json={"region": "CN-AA", "type": "cn.driving_licence", "fields": driving_licence()})
        error = (await r.json())["error"]
        assert r.status == 503 and error == {**error, "code": "REGION_UNAVAILABLE",
                                             "message": "the issuer of CN-AA did not answer in time"}
    finally:
        be.directory.expire()
