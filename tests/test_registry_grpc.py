"""The registry's gRPC entry points refuse bad input with named errors (the suite's own callers)."""

from __future__ import annotations

import pytest

from ecert.errors import InvalidRequest, NotFound, PermissionDenied
from ecert.rpc import client as rpc_client
from ecert.rpc.convert import service_principal_pb as service_principal
from ecertpb.v1 import common_pb2, registry_pb2, registry_pb2_grpc

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = common_pb2.Principal(role="admin")


async def test_bad_registry_requests(suite):
    ch = rpc_client.channel(f"127.0.0.1:{suite.registry_port}", suite.token)
    stub = registry_pb2_grpc.RegistryServiceStub(ch)
    try:
        for endpoint in ("no-port", "http://x:1", "a b:1", "x" * 300 + ":1"):
            with pytest.raises(InvalidRequest):
                await rpc_client.call(stub.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                    principal=service_principal("CN-SH"), code="CN-SH", endpoint=endpoint)))
        with pytest.raises(NotFound):
            await rpc_client.call(stub.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                principal=ADMIN, code="CN-XX", endpoint="127.0.0.1:1")))
        before = (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version
        sh = next(r for r in (await stub.ListRegions(registry_pb2.ListRegionsRequest())).regions
                  if r.code == "CN-SH")
        await rpc_client.call(stub.SetRegionEndpoint(  # the same endpoint again: no new version
            registry_pb2.SetRegionEndpointRequest(principal=service_principal("CN-SH"), code="CN-SH",
                                                  endpoint=sh.endpoint)))
        assert (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version == before
        with pytest.raises(InvalidRequest):
            await rpc_client.call(stub.RegisterKey(registry_pb2.RegisterKeyRequest(
                principal=service_principal("CN-SH"), region="CN-SH", alg="ES256", spki=b"\x30" * 5000)))
        with pytest.raises(PermissionDenied):
            await rpc_client.call(stub.RegisterKey(registry_pb2.RegisterKeyRequest(
                principal=service_principal("CN-ZJ"), region="CN-SH", alg="ES256", spki=b"\x30")))
        with pytest.raises(InvalidRequest):
            await rpc_client.call(stub.PublishCertificateType(registry_pb2.PublishCertificateTypeRequest(
                principal=ADMIN,
                type=common_pb2.CertificateType(id="cn.x", version=1, name="x", schema_json="[" * 100_000))))
    finally:
        await ch.close()


async def test_only_the_region_or_an_admin_sets_its_endpoint(suite):
    ch = rpc_client.channel(f"127.0.0.1:{suite.registry_port}", suite.token)
    stub = registry_pb2_grpc.RegistryServiceStub(ch)
    try:
        sh = next(r for r in (await stub.ListRegions(registry_pb2.ListRegionsRequest())).regions
                  if r.code == "CN-SH")
        before = (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version
        for principal in (None, service_principal("CN-ZJ"), common_pb2.Principal(role="agency", region="CN-ZJ"),
                          common_pb2.Principal(role="hotel"), common_pb2.Principal(role="service")):
            with pytest.raises(PermissionDenied) as err:
                await rpc_client.call(stub.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                    principal=principal, code="CN-SH", endpoint="127.0.0.1:1")))
            assert err.value.code == "FORBIDDEN"
        with pytest.raises(PermissionDenied):  # refused before saying whether the region exists
            await rpc_client.call(stub.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                principal=service_principal("CN-ZJ"), code="CN-XX", endpoint="127.0.0.1:1")))
        assert (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version == before
        for principal in (ADMIN, common_pb2.Principal(role="agency", region="CN-SH"), service_principal("CN-SH")):
            region = await rpc_client.call(stub.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                principal=principal, code="CN-SH", endpoint=sh.endpoint)))
            assert region.endpoint == sh.endpoint
    finally:
        await ch.close()
