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
    gw, sh, zj, xx = (suite.channel(suite.registry_port, "registry", who)
                      for who in ("gateway", "issuer-CN-SH", "issuer-CN-ZJ", "issuer-CN-XX"))
    stub, as_sh, as_zj, as_xx = (registry_pb2_grpc.RegistryServiceStub(ch) for ch in (gw, sh, zj, xx))
    try:
        for endpoint in ("no-port", "http://x:1", "a b:1", "x" * 300 + ":1"):
            with pytest.raises(InvalidRequest):
                await rpc_client.call(as_sh.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                    principal=service_principal("CN-SH"), code="CN-SH", endpoint=endpoint)))
        with pytest.raises(NotFound):
            await rpc_client.call(as_xx.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
                principal=service_principal("CN-XX"), code="CN-XX", endpoint="127.0.0.1:1")))
        before = (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version
        sh_region = next(r for r in (await stub.ListRegions(registry_pb2.ListRegionsRequest())).regions
                         if r.code == "CN-SH")
        await rpc_client.call(as_sh.SetRegionEndpoint(  # the same endpoint again: no new version
            registry_pb2.SetRegionEndpointRequest(principal=service_principal("CN-SH"), code="CN-SH",
                                                  endpoint=sh_region.endpoint)))
        assert (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version == before
        with pytest.raises(InvalidRequest):
            await rpc_client.call(as_sh.RegisterKey(registry_pb2.RegisterKeyRequest(
                principal=service_principal("CN-SH"), region="CN-SH", alg="ES256", spki=b"\x30" * 5000)))
        with pytest.raises(PermissionDenied):
            await rpc_client.call(as_zj.RegisterKey(registry_pb2.RegisterKeyRequest(
                principal=service_principal("CN-ZJ"), region="CN-SH", alg="ES256", spki=b"\x30")))
        with pytest.raises(InvalidRequest):
            await rpc_client.call(stub.PublishCertificateType(registry_pb2.PublishCertificateTypeRequest(
                principal=ADMIN,
                type=common_pb2.CertificateType(id="cn.x", version=1, name="x", schema_json="[" * 100_000))))
    finally:
        for ch in (gw, sh, zj, xx):
            await ch.close()


async def test_only_the_regions_own_issuer_sets_its_endpoint(suite):
    """The directory entry decides where the gateway sends a region's issuance: only that region's
    issuer (its certificate, and its own service principal) may change it."""
    gw, zj, sh = (suite.channel(suite.registry_port, "registry", who) for who in ("gateway", "issuer-CN-ZJ",
                                                                                 "issuer-CN-SH"))
    stub, as_zj, as_sh = (registry_pb2_grpc.RegistryServiceStub(ch) for ch in (gw, zj, sh))

    def set_sh(principal, endpoint="127.0.0.1:1", code="CN-SH"):
        return registry_pb2.SetRegionEndpointRequest(principal=principal, code=code, endpoint=endpoint)

    try:
        sh_region = next(r for r in (await stub.ListRegions(registry_pb2.ListRegionsRequest())).regions
                         if r.code == "CN-SH")
        before = (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version
        # the gateway has no business here, whatever principal it names (the registry itself would let an admin)
        for principal in (ADMIN, common_pb2.Principal(role="agency", region="CN-SH"), service_principal("CN-SH")):
            with pytest.raises(PermissionDenied) as err:
                await rpc_client.call(stub.SetRegionEndpoint(set_sh(principal)))
            assert "may not call SetRegionEndpoint" in err.value.message
        # another region's issuer: neither as that region nor as anyone else
        for principal in (None, service_principal("CN-SH"), ADMIN, common_pb2.Principal(role="agency", region="CN-SH"),
                          common_pb2.Principal(role="hotel"), common_pb2.Principal(role="service")):
            with pytest.raises(PermissionDenied):
                await rpc_client.call(as_zj.SetRegionEndpoint(set_sh(principal)))
        with pytest.raises(PermissionDenied) as err:  # as itself: the registry's own rule
            await rpc_client.call(as_zj.SetRegionEndpoint(set_sh(service_principal("CN-ZJ"))))
        assert err.value.code == "FORBIDDEN"
        with pytest.raises(PermissionDenied):  # refused before saying whether the region exists
            await rpc_client.call(as_zj.SetRegionEndpoint(set_sh(service_principal("CN-ZJ"), code="CN-XX")))
        assert (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version == before
        region = await rpc_client.call(as_sh.SetRegionEndpoint(set_sh(service_principal("CN-SH"),
                                                                      endpoint=sh_region.endpoint)))
        assert region.endpoint == sh_region.endpoint
    finally:
        for ch in (gw, zj, sh):
            await ch.close()
