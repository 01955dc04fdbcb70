"""The registry's gRPC entry points refuse bad input with named errors (the suite's own callers)."""

from __future__ import annotations

import pytest

from ecert.errors import InvalidRequest, NotFound, PermissionDenied, RuleViolation
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


async def test_the_recognition_rules_over_grpc(suite):
    """The gateway alone reads and changes the rules (the verifier reads them in the trust list);
    changes are an admin's, refused by name, and each is a new trust-list version."""
    gw, sh, vf = (suite.channel(suite.registry_port, "registry", who) for who in ("gateway", "issuer-CN-SH", "verifier"))
    stub, as_sh, as_vf = (registry_pb2_grpc.RegistryServiceStub(ch) for ch in (gw, sh, vf))
    get = registry_pb2.GetRecognitionRulesRequest(principal=ADMIN)

    def set_types(purpose, types, principal=ADMIN):
        return registry_pb2.SetPurposeTypesRequest(principal=principal, purpose=purpose, types=types)

    def set_regions(region, regions, principal=ADMIN):
        return registry_pb2.SetRecognitionRequest(principal=principal, region=region, recognises=regions)

    try:
        rules = await rpc_client.call(stub.GetRecognitionRules(get))
        assert rules.trust_list_version == (await stub.GetTrustList(registry_pb2.GetTrustListRequest())).version
        by_purpose = {p.purpose: list(p.types) for p in rules.purposes}
        assert by_purpose["hotel_check_in"] == ["cn.residence_permit", "cn.resident_id"]
        assert [p.purpose for p in rules.purposes] == sorted(by_purpose)
        assert {r.region: list(r.recognises) for r in rules.recognition}["*"] == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
        for other in (as_sh, as_vf):
            for call in (other.GetRecognitionRules(get), other.SetPurposeTypes(set_types("general", [])),
                         other.SetRecognition(set_regions("*", []))):
                with pytest.raises(PermissionDenied) as err:
                    await rpc_client.call(call)
                assert "may not call" in err.value.message
        with pytest.raises(PermissionDenied):
            await rpc_client.call(stub.SetPurposeTypes(set_types("general", [], common_pb2.Principal(role="hotel"))))
        with pytest.raises(InvalidRequest) as err:
            await rpc_client.call(stub.SetPurposeTypes(set_types("sightseeing", [])))
        assert err.value.code == "PURPOSE_UNKNOWN"
        with pytest.raises(RuleViolation) as err:
            await rpc_client.call(stub.SetPurposeTypes(set_types("general", ["cn.passport"])))
        assert err.value.code == "TYPE_UNKNOWN" and "cn.passport" in err.value.message
        with pytest.raises(NotFound) as err:
            await rpc_client.call(stub.SetRecognition(set_regions("CN-XX", ["CN-SH"])))
        assert err.value.code == "REGION_UNKNOWN" and "CN-XX" in err.value.message
        with pytest.raises(RuleViolation) as err:
            await rpc_client.call(stub.SetRecognition(set_regions("CN-SH", ["CN-XX"])))
        assert err.value.code == "REGION_UNKNOWN" and "CN-XX" in err.value.message
        assert (await rpc_client.call(stub.GetRecognitionRules(get))).trust_list_version == rules.trust_list_version
        original = by_purpose["business_check"]
        changed = await rpc_client.call(stub.SetPurposeTypes(set_types("business_check", [])))
        assert changed.trust_list_version == rules.trust_list_version + 1
        assert {p.purpose: list(p.types) for p in changed.purposes}["business_check"] == []
        back = await rpc_client.call(stub.SetPurposeTypes(set_types("business_check", original)))
        assert back.trust_list_version == rules.trust_list_version + 2 and back.purposes == rules.purposes
    finally:
        for ch in (gw, sh, vf):
            await ch.close()
