"""The verifier's network port over gRPC: the registry, and the regions' issuers by endpoint."""

from __future__ import annotations

from ecert.rpc.client import ChannelPool, call, channel
from ecert.rpc.convert import principal_to_pb
from ecert.rpc.links import Links
from ecert.rules.access import Principal
from ecert.runtime import pki
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc, registry_pb2, registry_pb2_grpc

from .domain import Resolved

FETCH_TIMEOUT = 3.0
"""Seconds one call to the registry or an issuer may take."""


class GrpcUpstream:
    """:class:`services.verifier.domain.Upstream` over one registry channel and one channel per issuer."""

    def __init__(self, registry_target: str, links: Links, *, timeout: float = FETCH_TIMEOUT):
        self.timeout = timeout
        self._registry_channel = channel(registry_target, links, peer=pki.REGISTRY)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._registry_channel)
        self._issuers = ChannelPool(links, peer=pki.ISSUER)

    def _issuer(self, endpoint: str) -> issuer_pb2_grpc.IssuerServiceStub:
        return issuer_pb2_grpc.IssuerServiceStub(self._issuers.get(endpoint))

    async def trust_list(self) -> bytes:
        resp = await call(self._registry.GetTrustList(registry_pb2.GetTrustListRequest(), timeout=self.timeout))
        return resp.signed

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        resp = await call(self._issuer(endpoint).GetStatusList(issuer_pb2.GetStatusListRequest(uri=uri),
                                                               timeout=self.timeout))
        return resp.signed

    async def resolve(self, endpoint: str, p: Principal, token_cti: bytes, credential_cti: bytes,
                      purpose: str) -> Resolved:
        resp = await call(self._issuer(endpoint).ResolvePresentation(issuer_pb2.ResolvePresentationRequest(
            principal=principal_to_pb(p), token_cti=token_cti, credential_cti=credential_cti, purpose=purpose),
            timeout=self.timeout))
        c = resp.credential
        return Resolved(resp.result, c.id, c.type, c.version, c.region, c.issued_at, c.expires_at, c.display_id,
                        c.fields_json)

    async def close(self) -> None:
        await self._registry_channel.close()
        await self._issuers.close()
