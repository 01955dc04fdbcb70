"""The issuer's registry port over gRPC: every call as this region's own service principal."""

from __future__ import annotations

import json

import grpc

from ecert.rpc.client import call
from ecert.rpc.convert import service_principal_pb
from ecert.rules.acceptance import Rules
from ecert.rules.schema import TypeSchema
from ecertpb.v1 import registry_pb2, registry_pb2_grpc

from .signing import RegionKey

TIMEOUT = 5.0
"""Seconds one call to the registry may take."""


class RegistryClient:
    """:class:`services.issuer.domain.RegistryPort` for ``region``, over a registry channel."""

    def __init__(self, channel: grpc.aio.Channel, region: str):
        self.stub = registry_pb2_grpc.RegistryServiceStub(channel)
        self.region = region

    async def certificate_types(self) -> list[TypeSchema]:
        resp = await call(self.stub.ListCertificateTypes(
            registry_pb2.ListCertificateTypesRequest(principal=service_principal_pb(self.region)), timeout=TIMEOUT))
        return [TypeSchema(t.id, t.version, t.name, t.schema_json, json.loads(t.disclosure_json or "{}"))
                for t in resp.types]

    async def recognition_rules(self) -> Rules:
        resp = await call(self.stub.GetRecognitionRules(
            registry_pb2.GetRecognitionRulesRequest(principal=service_principal_pb(self.region)), timeout=TIMEOUT))
        return Rules({p.purpose: p.types for p in resp.purposes}, {r.region: r.recognises for r in resp.recognition})

    async def register_key(self, alg: str, spki: bytes, nbf: int = 0, exp: int = 0) -> str:
        resp = await call(self.stub.RegisterKey(registry_pb2.RegisterKeyRequest(
            principal=service_principal_pb(self.region), region=self.region, alg=alg, spki=spki, nbf=nbf, exp=exp),
            timeout=TIMEOUT))
        return resp.kid

    async def retire_key(self, kid: str) -> None:
        await call(self.stub.RetireKey(registry_pb2.KeyRef(principal=service_principal_pb(self.region),
                                                           region=self.region, kid=kid), timeout=TIMEOUT))

    async def region_keys(self) -> list[RegionKey]:
        resp = await call(self.stub.ListRegions(
            registry_pb2.ListRegionsRequest(principal=service_principal_pb(self.region)), timeout=TIMEOUT))
        return [RegionKey(k.kid, k.status, k.nbf, k.exp) for r in resp.regions if r.code == self.region
                for k in r.keys]

    async def set_endpoint(self, endpoint: str) -> None:
        await call(self.stub.SetRegionEndpoint(registry_pb2.SetRegionEndpointRequest(
            principal=service_principal_pb(self.region), code=self.region, endpoint=endpoint), timeout=TIMEOUT))
