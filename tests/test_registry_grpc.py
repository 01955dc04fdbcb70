"""The registry's gRPC entry points refuse bad input with named errors (the suite's own callers)."""

from __future__ import annotations

import pytest

from ecert.errors import InvalidRequest, NotFound, PermissionDenied
from ecert.rpc import client as rpc_client
from ecert.rpc.convert import service_principal_pb as service_principal
from ecertpb.v1 import common_pb2, registry_pb2, registry_pb2_grpc

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_bad_registry_requests(suite):
    ch = rpc_client.channel(f"127.0.0.1:{suite.registry_port}", suite.token)
    stub = registry_pb2_grpc.RegistryServiceStub(ch)
    try:
        for endpoint in ("no-port", "http://x:1", "a b:1", "x" * 300 + ":1"):
            with pytest.raises(InvalidRequest):
                await rpc_client.call(stub.SetRegionEndpoint(
                    registry_pb2.SetRegionEndpointRequest(code="CN-SH", endpoint=endpoint)))
        with pytest.raises(NotFound):
            await rpc_client.call(stub.SetRegionEndpoint(
                registry_pb2.SetRegionEndpointRequest(code="CN-XX", endpoint="127.0.0.1:1")))
        before = (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version
        sh = next(r for r in (await stub.ListRegions(registry_pb2.ListRegionsRequest())).regions
                  if r.code == "CN-SH")
        await rpc_client.call(stub.SetRegionEndpoint(  # the same endpoint again: no new version
            registry_pb2.SetRegionEndpointRequest(code="CN-SH", endpoint=sh.endpoint)))
        assert (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version == before
        with pytest.raises(InvalidRequest):
            await rpc_client.call(stub.RegisterKey(registry_pb2.RegisterKeyRequest(
                principal=service_principal("CN-SH"), region="CN-SH", alg="ES256", spki=b"\x30" * 5000)))
        with pytest.raises(PermissionDenied):
            await rpc_client.call(stub.RegisterKey(registry_pb2.RegisterKeyRequest(
                principal=service_principal("CN-ZJ"), region="CN-SH", alg="ES256", spki=b"\x30")))
        with pytest.raises(InvalidRequest):
            await rpc_client.call(stub.PublishCertificateType(registry_pb2.PublishCertificateTypeRequest(
                principal=common_pb2.Principal(role="admin"),
                type=common_pb2.CertificateType(id="cn.x", version=1, name="x", schema_json="[" * 100_000))))
    finally:
        await ch.close()
