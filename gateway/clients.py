"""The gateway's gRPC clients: registry, verifier and the regional issuers found
through the registry's directory."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ecert.errors import NotFound, Unavailable
from ecert.rpc.client import ChannelPool, call, channel
from ecert.rpc.convert import service_principal_pb
from ecert.rpc.streams import StreamClient
from ecertpb.v1 import (
    issuer_pb2,
    issuer_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    verifier_pb2,
    verifier_pb2_grpc,
)

DIRECTORY_TTL = 10.0
DIRECTORY_RETRY = 3.0


@dataclass
class IssuerClient:
    """One region's issuer: unary calls on ``stub``; issuance over ``issue`` (a stream)."""

    stub: issuer_pb2_grpc.IssuerServiceStub
    issue: StreamClient


class Backends:
    def __init__(self, registry_target: str, verifier_target: str, internal_token: str):
        self.token = internal_token
        self._registry_channel = channel(registry_target, internal_token)
        self._verifier_channel = channel(verifier_target, internal_token)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self._registry_channel)
        self.verifier = verifier_pb2_grpc.VerifierServiceStub(self._verifier_channel)
        self.verifier_stream = StreamClient(self.verifier.VerifyStream, verifier_pb2.VerifyStreamRequest,
                                            verifier_pb2.VerifyStreamItem, internal_token)
        self._channels = ChannelPool(internal_token)
        self._issuers: dict[str, IssuerClient] = {}  # by endpoint
        self._endpoints: dict[str, str] = {}
        self._endpoints_at = 0.0
        self._lock = asyncio.Lock()

    async def _directory(self, force: bool = False) -> dict[str, str]:
        """Region -> issuer endpoint. While the registry is unreachable the last directory
        is used (retried at most every few seconds); with none yet, the call fails with 503."""
        async with self._lock:
            if force or time.monotonic() - self._endpoints_at > DIRECTORY_TTL:
                try:
                    resp = await call(self.registry.ListRegions(
                        registry_pb2.ListRegionsRequest(principal=service_principal_pb()), timeout=5))
                except Unavailable:
                    if not self._endpoints:
                        raise
                    self._endpoints_at = time.monotonic() - DIRECTORY_TTL + DIRECTORY_RETRY
                else:
                    self._endpoints = {r.code: r.endpoint for r in resp.regions}
                    self._endpoints_at = time.monotonic()
            return self._endpoints

    async def issuer(self, region: str) -> issuer_pb2_grpc.IssuerServiceStub:
        return (await self.issuer_client(region)).stub

    async def issuer_client(self, region: str) -> IssuerClient:
        endpoints = await self._directory()
        if region not in endpoints:
            endpoints = await self._directory(force=True)
        if region not in endpoints:
            raise NotFound(f"unknown region {region}", code="REGION_UNKNOWN")
        endpoint = endpoints[region]
        if not endpoint:
            raise Unavailable(f"region {region} has no issuer online", code="REGION_UNAVAILABLE")
        client = self._issuers.get(endpoint)
        if client is None:
            stub = issuer_pb2_grpc.IssuerServiceStub(self._channels.get(endpoint))
            client = self._issuers[endpoint] = IssuerClient(stub, StreamClient(
                stub.IssueStream, issuer_pb2.IssueStreamRequest, issuer_pb2.IssueStreamItem, self.token))
        return client

    async def issuer_regions(self) -> list[str]:
        return [code for code, ep in (await self._directory()).items() if ep]

    async def close(self) -> None:
        await self.verifier_stream.close()
        await self._registry_channel.close()
        await self._verifier_channel.close()
        for client in self._issuers.values():
            await client.issue.close()
        await self._channels.close()
