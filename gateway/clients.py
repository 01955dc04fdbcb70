"""The gateway's gRPC clients: registry, verifier and the regional issuers found through the
registry's directory.

Every call has a deadline: :attr:`Backends.timeout` (``ECERT_BACKEND_TIMEOUT``) for each
unary call and each request on a stream, :attr:`Backends.bulk_timeout`
(``ECERT_BACKEND_BULK_TIMEOUT``) for the calls that may take longer (a batch, a picture). A
backend that does not answer in time, or cannot be reached, is a 503 naming it
(:meth:`Backends.ask`). What the registry publishes (its directory of regions, the regions
with their keys, the certificate types, the trust list) is kept as a last good copy
(:class:`~ecert.runtime.refresh.Refreshed`) and served from it while the registry does not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.errors import NotFound, Unavailable
from ecert.rpc.client import ChannelPool, call, channel
from ecert.rpc.convert import service_principal_pb
from ecert.rpc.links import Links
from ecert.rpc.status import CODE_TRAILER
from ecert.rpc.streams import StreamClient
from ecert.runtime import pki
from ecert.runtime.refresh import Refreshed
from ecertpb.v1 import (
    issuer_pb2,
    issuer_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    verifier_pb2,
)

from . import replicas

T = TypeVar("T")

BACKEND_TIMEOUT = 5.0
"""Seconds one call to a backend may take unless configured otherwise (``ECERT_BACKEND_TIMEOUT``)."""
BULK_TIMEOUT = 30.0
"""Seconds a batch or a picture (up to 40 million pixels) may take (``ECERT_BACKEND_BULK_TIMEOUT``)."""
DIRECTORY_TTL = 10.0
"""Seconds the directory of regions is used before it is asked again."""
REGISTRY_TTL = 1.0
"""Seconds a copy of the regions, the types, the trust list or the recognition rules is served before
the registry is asked again (at once after a change made through this gateway:
:meth:`Backends.registry_changed`)."""
REGISTRY_RETRY = 3.0
"""Seconds before the registry is asked again after it could not be reached (meanwhile: the copy)."""
PROBE_EVERY = 1.0
"""Seconds between two health checks of each verifier replica (``ECERT_VERIFIER_PROBE_EVERY``); one that
fails, or a call that loses its connection, takes the replica out until a check passes again."""
PROBE_TIMEOUT = 1.0
"""Seconds a verifier replica's health check may take (at most the backend deadline)."""
STATE_TIMEOUT = 1.0
"""Seconds the verifier's cache state is waited for (``/metrics``; at most the backend deadline)."""
REGISTRY = "the registry"
VERIFIER = "the verifier"
_HEALTH_NAMES = {"registry": "ecert.v1.RegistryService", "verifier": "ecert.v1.VerifierService"}


@dataclass
class IssuerClient:
    """One region's issuer: unary calls on ``stub``; issuance over ``issue`` (a stream)."""

    stub: issuer_pb2_grpc.IssuerServiceStub
    issue: StreamClient


def issuer_name(region: str) -> str:
    return f"the issuer of {region}"


def named(err: Unavailable, backend: str, code: str | None = None) -> Unavailable:
    """``err`` as the caller should read it: the transport's own failure (no answer in time, no
    connection) names ``backend``; a backend's own answer (BUSY, REGION_UNAVAILABLE, ...) is kept."""
    cause = err.__cause__
    if isinstance(cause, grpc.aio.AioRpcError):
        if any(k == CODE_TRAILER for k, _ in cause.trailing_metadata() or ()):
            return err  # the servicer's own answer
        late = cause.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    elif isinstance(cause, (TimeoutError, ConnectionError)):  # a stream's own failure (streams.stream_failure)
        late = isinstance(cause, TimeoutError)
    else:
        return err
    message = f"{backend} did not answer in time" if late else f"{backend} could not be reached"
    return Unavailable(message, code=code or err.code)


def _retrieved(task: asyncio.Future) -> None:
    """Mark a shared call's failure as seen (every caller may have given up before it ended)."""
    if not task.cancelled():
        task.exception()


class Backends:
    """The backends, every call to them with a deadline: ``timeout`` seconds, ``bulk_timeout`` for
    a batch or a picture."""

    def __init__(self, registry_target: str, verifier_target: str, links: Links, *,
                 timeout: float = BACKEND_TIMEOUT, bulk_timeout: float = BULK_TIMEOUT,
                 probe_every: float = PROBE_EVERY):
        self.links = links  # the internal token and this process's TLS material
        self.timeout = timeout
        self.bulk_timeout = bulk_timeout
        self._registry_channel = channel(registry_target, links, peer=pki.REGISTRY)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self._registry_channel)
        # Every verifier replica the target names (a list, or a dns: name), each call to the next
        # healthy one, a verification that lost its connection made again on another (gateway.replicas).
        self.verifiers = replicas.verifiers(verifier_target, links, timeout=timeout, every=probe_every,
                                            probe_timeout=min(PROBE_TIMEOUT, timeout))
        self.verifier = replicas.VerifierStub(self.verifiers)
        self.verifier_stream = replicas.VerifierStream(self.verifiers)
        self._channels = ChannelPool(links, peer=pki.ISSUER)
        self._issuers: dict[str, IssuerClient] = {}  # by endpoint
        self._cache_state: asyncio.Future[verifier_pb2.CacheState] | None = None  # the one call in flight
        # Region -> issuer endpoint. While the registry is unreachable the last copy is used (asked
        # again every REGISTRY_RETRY seconds); with none yet, the call fails with 503. A region
        # not in the copy makes it ask at once (force_every=0: a new region is found at once).
        self.directory: Refreshed[dict[str, str]] = Refreshed(
            self._fetch_directory, name="gateway directory of regions", every=DIRECTORY_TTL,
            retry=REGISTRY_RETRY, force_every=0, errors=(Unavailable,))
        # What the registry publishes, as its last good copies (the messages as the registry sent them).
        self.regions: Refreshed[registry_pb2.ListRegionsResponse] = self._copy(
            "regions", lambda: self.registry.ListRegions(
                registry_pb2.ListRegionsRequest(principal=service_principal_pb()), timeout=self.timeout))
        self.types: Refreshed[registry_pb2.ListCertificateTypesResponse] = self._copy(
            "certificate types", lambda: self.registry.ListCertificateTypes(
                registry_pb2.ListCertificateTypesRequest(principal=service_principal_pb()), timeout=self.timeout))
        self.trust_list: Refreshed[registry_pb2.TrustList] = self._copy(
            "trust list", lambda: self.registry.GetTrustList(registry_pb2.GetTrustListRequest(), timeout=self.timeout))
        self.rules: Refreshed[registry_pb2.RecognitionRules] = self._copy(
            "recognition rules", lambda: self.registry.GetRecognitionRules(
                registry_pb2.GetRecognitionRulesRequest(principal=service_principal_pb()), timeout=self.timeout))

    def _copy(self, what: str, rpc) -> Refreshed:
        async def fetch():
            return await self.ask(REGISTRY, rpc())
        return Refreshed(fetch, name=f"gateway copy of the registry's {what}", every=REGISTRY_TTL,
                         retry=REGISTRY_RETRY, errors=(Unavailable,))

    def registry_changed(self) -> None:
        """A change was made through this gateway: the next read of a copy asks the registry."""
        for copy in (self.regions, self.types, self.trust_list, self.rules):
            copy.expire()

    async def ask(self, backend: str, rpc: Awaitable[T], *, code: str | None = None) -> T:
        """Await a call to ``backend`` (a unary call made with a deadline, or a stream request):
        its failure is the domain error it stands for, a transport failure named (:func:`named`)."""
        try:
            return await call(rpc)
        except Unavailable as err:
            raise named(err, backend, code) from err

    async def cache_state(self) -> verifier_pb2.CacheState:
        """The verifier's cache state, within :data:`STATE_TIMEOUT`: one call in flight at a time,
        its answer (or failure) shared by everyone who asks meanwhile, so scrapes that come
        together ask the verifier once, and one that gives up (its client gone) does not cancel the
        call for the others."""
        pending = self._cache_state
        if pending is None or pending.done():
            pending = self._cache_state = asyncio.ensure_future(self.ask(VERIFIER, self.verifier.GetCacheState(
                verifier_pb2.CacheStateRequest(principal=service_principal_pb()),
                timeout=min(STATE_TIMEOUT, self.timeout))))
            pending.add_done_callback(_retrieved)
        return await asyncio.shield(pending)

    async def _fetch_directory(self) -> dict[str, str]:
        resp = await self.ask(REGISTRY, self.registry.ListRegions(
            registry_pb2.ListRegionsRequest(principal=service_principal_pb()), timeout=self.timeout))
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
                stub.IssueStream, issuer_pb2.IssueStreamRequest, issuer_pb2.IssueStreamItem, self.links,
                timeout=self.timeout))
        return client

    async def issuer_regions(self) -> list[str]:
        """The regions that have an issuer online, as the directory says."""
        return [code for code, ep in (await self.directory.get()).items() if ep]

    async def serving(self, name: str) -> None:
        """Raise unless the ``registry`` or the ``verifier`` says it is serving (readiness)."""
        if name == "verifier":
            await self.verifiers.serving()  # one replica serving is enough
            return
        service = _HEALTH_NAMES[name]
        resp = await health_pb2_grpc.HealthStub(self._registry_channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                          timeout=self.timeout)
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise Unavailable(service)

    async def close(self) -> None:
        if self._cache_state is not None:
            self._cache_state.cancel()
        await self.verifiers.close()
        await self._registry_channel.close()
        for client in self._issuers.values():
            await client.issue.close()
        await self._channels.close()
