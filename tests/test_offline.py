"""Keep working when the network is down: the verifier from its cached trust list, the
gateway from its last directory."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from ecert.errors import Unavailable
from ecert.rpc import client as rpc_client
from ecert.rpc import server as rpc_server
from ecert.rpc.convert import service_principal_pb
from ecert.rules.access import Principal
from ecertpb.v1 import registry_pb2_grpc
from gateway.clients import Backends
from services.issuer.upstream import RegistryClient
from services.verifier import servicer as verifier_servicer
from testkit.samples import driving_licence
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def dead_target() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


async def test_verifier_restarts_offline_from_its_cached_trust_list(suite, http, keys):
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    text = (await r.json())["qr_text"]
    await suite.refresh()  # the running verifier has written the current list to var/verifier/
    cfg = dataclasses.replace(suite.verifier_config, registry_target=dead_target(), listen="127.0.0.1:0")
    verifier, server, _ = await verifier_servicer.build(cfg)
    try:
        assert verifier.cache.trust is not None  # from disk, the registry being unreachable
        res = await verifier.verify(Principal("traffic_police"), text)
        assert res.res.outcome == "VALID" and res.version == verifier.cache.trust.version
        assert await verifier.cache.refresh_trust_soon(0) is False  # registry down: keeps what it has
    finally:
        await verifier.cache.close()
        await rpc_server.stop(server, 0)


async def test_verifier_without_any_trust_list_says_so(suite, tmp_path):
    cfg = dataclasses.replace(suite.verifier_config, registry_target=dead_target(), listen="127.0.0.1:0",
                              var_dir=tmp_path)
    verifier, server, _ = await verifier_servicer.build(cfg)
    try:
        res = (await verifier.verify(Principal("traffic_police"), "EC1:ABC")).res
        assert res.outcome == "REGION_UNAVAILABLE" and "trust list" in res.detail
    finally:
        await verifier.cache.close()
        await rpc_server.stop(server, 0)


async def test_gateway_uses_its_last_directory_while_the_registry_is_down(suite):
    backends = Backends(dead_target(), dead_target(), suite.links())
    try:
        with pytest.raises(Unavailable):  # nothing known yet
            await backends.issuer_regions()
        backends.directory.seed({"CN-ZJ": f"127.0.0.1:{suite.issuer_ports['CN-ZJ']}"})
        backends.directory.expire()  # a refresh is due, and fails
        assert await backends.issuer_regions() == ["CN-ZJ"]
        client = await backends.issuer_client("CN-ZJ")
        assert client is await backends.issuer_client("CN-ZJ")  # one client per endpoint
    finally:
        await backends.close()


async def test_issuer_keeps_issuing_with_known_types_while_the_registry_is_down(suite, http, keys):
    issuer = suite.issuers["CN-ZJ"]
    registry, dead = issuer.registry, rpc_client.channel(dead_target(), suite.links("issuer-CN-ZJ"), peer="registry")
    issuer.registry = RegistryClient(dead, "CN-ZJ")
    try:
        issuer.expire_types()  # a refresh is due, and fails
        r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                            json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
        assert r.status == 201, await r.text()
        r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                            json={"region": "CN-ZJ", "type": "cn.unknown_type", "fields": {}})
        assert r.status == 422  # unknown types are still refused, without waiting on the registry
    finally:
        issuer.registry = registry
        await dead.close()
        issuer.expire_types()


async def test_admin_lookup_says_when_a_region_could_not_be_asked(suite, http, keys):
    from ecertpb.v1 import registry_pb2
    from gateway.app import BACKENDS
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    cred_id = (await r.json())["id"]
    registry_channel = suite.channel(suite.registry_port, "registry", "issuer-CN-AH")  # as CN-AH's issuer
    servicer_registry = registry_pb2_grpc.RegistryServiceStub(registry_channel)
    await rpc_client.call(servicer_registry.SetRegionEndpoint(
        registry_pb2.SetRegionEndpointRequest(principal=service_principal_pb("CN-AH"), code="CN-AH",
                                              endpoint=dead_target())))
    backends = http.server.app[BACKENDS]
    try:
        await backends.directory.refresh()
        r = await http.get(f"/v1/credentials/{cred_id}", headers=bearer(keys["admin"]))
        assert r.status == 200  # found in a region that answered
        r = await http.get("/v1/credentials/" + "A" * 26, headers=bearer(keys["admin"]))
        body = await r.json()
        assert r.status == 503 and body["error"]["code"] == "REGION_UNAVAILABLE" and "CN-AH" in body["error"]["message"]
    finally:
        await rpc_client.call(servicer_registry.SetRegionEndpoint(
            registry_pb2.SetRegionEndpointRequest(principal=service_principal_pb("CN-AH"), code="CN-AH",
                                                  endpoint="")))
        await backends.directory.refresh()
        await registry_channel.close()
