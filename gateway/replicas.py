"""The verifier as one backend over all its replicas (``ECERT_VERIFIER_TARGET``: a list of
addresses or a ``dns:`` name, :mod:`ecert.rpc.balance`).

:class:`VerifierStub` stands where one replica's stub stood and :class:`VerifierStream` where
its stream stood, so the routes call them as before: each call goes to the next healthy replica;
the calls in :data:`RETRIED` (they read and check, and may be made twice) are made again on
another replica when the one they were given lost its connection. Any other call
(``RecordOfflineChecks``, which records) goes to one replica only. :class:`ReplicaMetrics` gives
``/metrics`` each replica's health and calls, and the retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ecert.errors import Unavailable
from ecert.rpc.balance import CHANNEL_OPTIONS, Balancer
from ecert.rpc.client import channel
from ecert.rpc.links import Links
from ecert.rpc.streams import StreamClient
from ecert.runtime import pki
from ecertpb.v1 import verifier_pb2, verifier_pb2_grpc

RETRIED = frozenset({"Verify", "VerifyBatch", "VerifyImage", "GetCacheState", "FetchStatusLists"})
"""The verifier's calls that may be made twice: a retry on another replica changes nothing."""
SERVICE = "ecert.v1.VerifierService"


@dataclass(eq=False)
class VerifierClient:
    """One verifier replica: its channel, stub and verification stream."""

    channel: grpc.aio.Channel
    stub: verifier_pb2_grpc.VerifierServiceStub
    stream: StreamClient

    @classmethod
    def open(cls, target: str, links: Links, timeout: float) -> "VerifierClient":
        ch = channel(target, links, peer=pki.VERIFIER, options=CHANNEL_OPTIONS)
        stub = verifier_pb2_grpc.VerifierServiceStub(ch)
        return cls(ch, stub, StreamClient(stub.VerifyStream, verifier_pb2.VerifyStreamRequest,
                                          verifier_pb2.VerifyStreamItem, links, timeout=timeout))

    async def probe(self, timeout: float) -> None:
        """Raise unless this replica's health service says the verifier is serving."""
        resp = await health_pb2_grpc.HealthStub(self.channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=timeout)
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise Unavailable(SERVICE)

    async def close(self) -> None:
        await self.stream.close()
        await self.channel.close()


def verifiers(target: str, links: Links, *, timeout: float, every: float, probe_timeout: float) -> Balancer[VerifierClient]:
    """The verifier replicas ``target`` names, each call within ``timeout`` seconds; health checks every
    ``every`` seconds (0: none, a replica is out only after a lost connection, until it is tried again)."""
    return Balancer(target, lambda t: VerifierClient.open(t, links, timeout), close=VerifierClient.close,
                    probe=VerifierClient.probe, every=every, probe_timeout=probe_timeout)


class VerifierStub:
    """The verifier's stub over every replica: ``stub.Method(request, timeout=...)`` as on one."""

    def __init__(self, balancer: Balancer[VerifierClient]):
        self._balancer = balancer

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        retry = name in RETRIED

        def method(request, **kwargs):
            return self._balancer.run(lambda c: getattr(c.stub, name)(request, **kwargs), retry=retry)
        return method


class VerifierStream:
    """The verification stream over every replica (one stream to each): ``await stream.call(request)``."""

    def __init__(self, balancer: Balancer[VerifierClient]):
        self._balancer = balancer

    async def call(self, request):
        return await self._balancer.run(lambda c: c.stream.call(request))

    async def close(self) -> None:
        for replica in self._balancer.replicas:
            await replica.client.stream.close()


class ReplicaMetrics(Collector):
    """``ecert_gateway_verifier_up`` / ``_calls_total`` / ``_connection_losses_total`` by replica
    address, and ``ecert_gateway_verifier_retries_total``."""

    def __init__(self, balancer: Balancer[VerifierClient]):
        self._balancer = balancer

    def collect(self) -> Iterator:
        up = GaugeMetricFamily("ecert_gateway_verifier_up", "1 while the gateway gives calls to this verifier "
                               "replica (it passes its health checks), 0 while it is taken out", labels=["target"])
        calls = CounterMetricFamily("ecert_gateway_verifier_calls", "Calls the gateway gave this verifier replica",
                                    labels=["target"])
        lost = CounterMetricFamily("ecert_gateway_verifier_connection_losses",
                                   "Calls to this verifier replica that found no connection or lost it",
                                   labels=["target"])
        for r in self._balancer.replicas:
            up.add_metric([r.target], 1.0 if r.healthy else 0.0)
            calls.add_metric([r.target], r.calls)
            lost.add_metric([r.target], r.failures)
        retries = CounterMetricFamily("ecert_gateway_verifier_retries",
                                      "Verification calls made again on another replica after losing their connection")
        retries.add_metric([], self._balancer.stats.retries)
        yield from (up, calls, lost, retries)
