"""The gateway's gRPC clients: registry, verifier and the regional issuers found through the
registry's directory.

Every unary call has a deadline: :mod:`ecert.rpc.client` gives one of
:data:`~ecert.rpc.client.DEFAULT_TIMEOUT` seconds to a call that names none; the calls that
may take longer name their own here (:data:`IMAGE_TIMEOUT`).
"""

from __future__ import annotations

from dataclasses import dataclass

from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.errors import NotFound, Unavailable
from ecert.rpc.client import ChannelPool, call, channel
from ecert.rpc.convert import service_principal_pb
from ecert.rpc.streams import StreamClient
from ecert.runtime.refresh import Refreshed
from ecertpb.v1 import (
    issuer_pb2,
    issuer_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    verifier_pb2,
    verifier_pb2_grpc,
)

DIRECTORY_TTL = 10.0
"""Seconds the directory of regions is used before it is asked again."""
DIRECTORY_RETRY = 3.0
"""Seconds before the registry is asked again after it could not be reached."""
DIRECTORY_TIMEOUT = 5.0
IMAGE_TIMEOUT = 30.0
"""Seconds the verifier may take to read the codes in a picture (up to 40 million pixels)."""
_HEALTH_NAMES = {"registry": "ecert.v1.RegistryService", "verifier": "ecert.v1.VerifierService"}


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
        # Region -> issuer endpoint. While the registry is unreachable the last copy is used (asked
        # again every DIRECTORY_RETRY seconds); with none yet, the call fails with 503. A region
        # not in the copy makes it ask at once (force_every=0: a new region is found at once).
        self.directory: Refreshed[dict[str, str]] = Refreshed(
            self._fetch_directory, name="gateway directory of regions", every=DIRECTORY_TTL,
            retry=DIRECTORY_RETRY, force_every=0, errors=(Unavailable,))

    async def _fetch_directory(self) -> dict[str, str]:
        resp = await call(self.registry.ListRegions(
            registry_pb2.ListRegionsRequest(principal=service_principal_pb()), timeout=DIRECTORY_TIMEOUT))
        return {r.code: r.endpoint for r in resp.regions}

    async def issuer(self, region: str) -> issuer_pb2_grpc.IssuerServiceStub:
        return (await self.issuer_client(region)).stub

    async def issuer_client(self, region: str) -> IssuerClient:
        endpoints = await self.directory.get()
        if region not in endpoints:
            endpoints = await self.directory.get(force=True)
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
        """The regions that have an issuer online, as the directory says."""
        return [code for code, ep in (await self.directory.get()).items() if ep]

    async def serving(self, name: str) -> None:
        """Raise unless the ``registry`` or the ``verifier`` says it is serving (readiness)."""
        ch = self._registry_channel if name == "registry" else self._verifier_channel
        service = _HEALTH_NAMES[name]
        resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service))
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise Unavailable(service)

    async def close(self) -> None:
        await self.verifier_stream.close()
        await self._registry_channel.close()
        await self._verifier_channel.close()
        for client in self._issuers.values():
            await client.issue.close()
        await self._channels.close()
