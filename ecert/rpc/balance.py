"""Client-side balancing over the replicas of one stateless service (the verifier).

A target is a comma-separated list of addresses (``host:port,host:port``; gRPC's ``ipv4:`` and
``ipv6:`` lists are read the same way), and any entry may be a DNS name to expand into every address
it resolves to: ``dns:///verifier.ns.svc:50071`` (a Kubernetes headless Service), looked up again
every :data:`RESOLVE_EVERY` seconds so that replicas that come and go are followed. A plain
``name:port`` is one replica (gRPC resolves it itself).

Each replica has its own channel, so calls are spread by this process, not by gRPC: the suite's
hot path is one long-lived stream per backend (:mod:`ecert.rpc.streams`), which gRPC's own
``round_robin`` would pin to one address. :meth:`Balancer.pick` takes the healthy replicas in
turn. A replica is out

- at once when a call to it failed for want of a connection (:func:`connection_lost`), and
- while its gRPC health check does not say SERVING: every replica is asked every ``every``
  seconds, each within ``probe_timeout`` (a paused process is out within about two periods),

and back in at the first health check it passes, or the first call it answers. With none healthy,
every replica is tried in turn (better one more try than a refusal). :meth:`Balancer.run` retries
a call that lost its connection on another replica, each replica at most once: only for calls that may be made twice
(a verification is idempotent; an issuance is never given to it). A backend's own answer (one
with the suite's error code) and a call that ran out of time are never retried here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc

from ..errors import Unavailable
from .status import CODE_TRAILER

log = logging.getLogger("ecert.balance")

PROBE_EVERY = 1.0
"""Seconds between two health checks of every replica."""
PROBE_TIMEOUT = 1.0
"""Seconds a replica's health check may take before the replica is out."""
RESOLVE_EVERY = 30.0
"""Seconds between two lookups of a ``dns:`` entry's addresses."""
CHANNEL_OPTIONS = (("grpc.max_reconnect_backoff_ms", 5000),)
"""A replica's channel tries to connect again within 5 s at most (gRPC's own back-off grows to two
minutes): a replica that comes back passes its health check within seconds. (The shortest back-off
is left alone: gRPC also takes it as the time a connection attempt may take.)"""

C = TypeVar("C")
T = TypeVar("T")


def connection_lost(err: BaseException) -> bool:
    """Whether ``err`` (a failed call, or the domain error made of it) says the call found no
    connection or lost it, rather than being answered: what may be tried on another replica."""
    cause = err
    if isinstance(err, Unavailable):
        cause = err.__cause__
    if isinstance(cause, grpc.aio.AioRpcError):
        if any(k == CODE_TRAILER for k, _ in cause.trailing_metadata() or ()):
            return False  # the servicer's own answer
        return cause.code() is grpc.StatusCode.UNAVAILABLE
    return isinstance(cause, ConnectionError)  # a stream that broke (streams.stream_failure)


def split_targets(spec: str) -> list[str]:
    """The entries of a target list, in order, without repeats. ``ipv4:a:p,b:p`` and
    ``ipv6:[a]:p,...`` are gRPC's address lists: their entries are plain addresses."""
    out: list[str] = []
    for raw in spec.split(","):
        entry = raw.strip()
        for prefix in ("ipv4:", "ipv6:"):
            if entry.startswith(prefix):
                entry = entry[len(prefix):].lstrip("/")
        if entry and entry not in out:
            out.append(entry)
    return out


def dns_name(entry: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``dns:`` entry (``dns:host:port``, ``dns:///host:port`` or
    ``dns://server/host:port``), None for any other entry. The port is required."""
    if not entry.startswith("dns:"):
        return None
    rest = entry[len("dns:"):]
    if rest.startswith("//"):
        rest = rest[2:].partition("/")[2]  # an authority (a DNS server) is not used: the system's resolver is
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{entry!r} needs a port (dns:///name:port)")
    return host.strip("[]"), int(port)


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ipaddress.ip_address(ip).version == 6 else f"{ip}:{port}"


def addresses(infos: Iterable[tuple], port: int) -> list[str]:
    """The ``ip:port`` targets of :func:`socket.getaddrinfo` results, in order, without repeats."""
    out: list[str] = []
    for info in infos:
        addr = _address(info[4][0], port)
        if addr not in out:
            out.append(addr)
    return out


@dataclass(eq=False)
class Replica(Generic[C]):
    """One address of the service, its client (channels, stubs) and what is known of it."""

    target: str
    client: C
    healthy: bool = True
    calls: int = 0
    """Calls given to this replica (the retries included)."""
    failures: int = 0
    """Calls to it that lost their connection."""
    source: str = ""
    """The entry of the target list it came from (a ``dns:`` name, or the address itself)."""


@dataclass
class _Stats:
    retries: int = 0
    """Calls made again on another replica after losing their connection."""


class Balancer(Generic[C]):
    """The replicas of one service named by ``spec``: ``open(target)`` makes one's client,
    ``close(client)`` ends it, ``probe(client)`` raises unless it is serving (each call is given
    ``probe_timeout`` seconds). The health checks start with the first :meth:`pick` (in the event
    loop) and end with :meth:`close`."""

    def __init__(self, spec: str, open: Callable[[str], C], *, close: Callable[[C], Awaitable[None]],
                 probe: Callable[[C, float], Awaitable[None]], every: float = PROBE_EVERY,
                 probe_timeout: float = PROBE_TIMEOUT, resolve_every: float = RESOLVE_EVERY,
                 resolve: Callable[[str, int], list[str]] | None = None):
        self._open, self._close, self._probe = open, close, probe
        self.every, self.probe_timeout, self.resolve_every = every, probe_timeout, resolve_every
        self._resolve_now = resolve or _resolve
        self.stats = _Stats()
        self.entries = split_targets(spec)
        if not self.entries:
            raise ValueError("no target given")
        self.replicas: list[Replica[C]] = []
        for entry in self.entries:
            name = dns_name(entry)
            if name is None:
                self._add(entry, entry)
                continue
            try:
                found = self._resolve_now(*name)
            except OSError as err:  # not resolvable yet (a Service starting): gRPC resolves it until then
                log.warning("%s could not be resolved (%s): used as one target until it can", entry, err)
                found = [entry]
            for addr in found:
                self._add(addr, entry)
        self._turn = itertools.count()
        self._task: asyncio.Task | None = None

    def _add(self, target: str, source: str) -> None:
        if any(r.target == target for r in self.replicas):
            return
        self.replicas.append(Replica(target, self._open(target), source=source))

    # -- picking and calling ---------------------------------------------------------------------

    def pick(self, exclude: Iterable[Replica[C]] = ()) -> Replica[C]:
        """The next replica in turn among the healthy ones not in ``exclude``; else among those not
        in ``exclude``; else among all."""
        self._start()
        excluded = set(exclude)
        for pool in ([r for r in self.replicas if r.healthy and r not in excluded],
                     [r for r in self.replicas if r not in excluded], self.replicas):
            if pool:
                chosen = pool[next(self._turn) % len(pool)]
                chosen.calls += 1
                return chosen
        raise Unavailable("no replica to call")  # pragma: no cover - there is always one

    async def run(self, attempt: Callable[[C], Awaitable[T]], *, retry: bool = True) -> T:
        """``attempt(client)`` on a picked replica; when it loses its connection, the replica is
        taken out and (``retry``: the call may be made twice) the call made again on another, each
        replica once at most."""
        tried: list[Replica[C]] = []
        while True:
            replica = self.pick(tried)
            try:
                answer = await attempt(replica.client)
            except (grpc.aio.AioRpcError, Unavailable) as err:
                if not connection_lost(err):
                    raise
                self.lost(replica)
                tried.append(replica)
                if not retry or len(tried) >= len(self.replicas):
                    raise
                self.stats.retries += 1
                log.warning("a call to %s lost its connection: trying another replica", replica.target)
                continue
            if not replica.healthy:  # it answered (tried with none healthy, or with no health checks): back in
                log.info("%s answered a call: back in", replica.target)
                replica.healthy = True
            return answer

    def lost(self, replica: Replica[C]) -> None:
        """A call to ``replica`` found no connection: out until its health check passes again."""
        replica.failures += 1
        replica.healthy = False

    async def serving(self) -> None:
        """Raise unless some replica passes its health check now (the healthy ones asked first)."""
        self._start()
        last: BaseException | None = None
        for replica in sorted(self.replicas, key=lambda r: not r.healthy):
            try:
                await self._probe(replica.client, self.probe_timeout)
                return
            except (grpc.aio.AioRpcError, Unavailable) as err:
                last = err
        raise last if last is not None else Unavailable("no replica")

    # -- health checks and lookups ---------------------------------------------------------------

    def _start(self) -> None:
        """The health checks, from the first call or readiness check made in the event loop."""
        if self._task is None and self.every > 0:
            with contextlib.suppress(RuntimeError):  # no running loop: started by a later pick
                self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        resolved_at = loop.time()
        while True:
            await asyncio.sleep(self.every)
            try:
                await asyncio.gather(*(self._check(r) for r in list(self.replicas)))
                if self.resolve_every > 0 and loop.time() - resolved_at >= self.resolve_every:
                    resolved_at = loop.time()
                    await self._resolve()
            except Exception as err:  # noqa: BLE001 - the checks must go on, or a replica out stays out
                log.warning("verifier replicas: a round of health checks or lookups failed (%s)", type(err).__name__)

    async def _check(self, replica: Replica[C]) -> None:
        try:
            await self._probe(replica.client, self.probe_timeout)
        except Exception as err:  # noqa: BLE001 - any failure leaves the replica out until the next check
            if replica.healthy:
                log.warning("%s failed its health check (%s): taken out", replica.target, type(err).__name__)
                replica.healthy = False
            return
        if not replica.healthy:
            log.info("%s passed its health check: back in", replica.target)
            replica.healthy = True

    async def _resolve(self) -> None:
        """Follow each ``dns:`` entry's addresses: new ones added, gone ones closed."""
        for entry in self.entries:
            name = dns_name(entry)
            if name is None:
                continue
            try:
                found = await asyncio.to_thread(self._resolve_now, *name)
            except (OSError, UnicodeError):  # UnicodeError: a name IDNA cannot encode
                continue  # the lookup failed: keep what there is
            if not found:
                continue
            for addr in found:
                self._add(addr, entry)
            gone = [r for r in self.replicas if r.source == entry and r.target not in found]
            for replica in gone:
                self.replicas.remove(replica)
                await self._close(replica.client)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        replicas, self.replicas = self.replicas, []
        for replica in replicas:
            await self._close(replica.client)


def _resolve(host: str, port: int) -> list[str]:
    return addresses(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), port)
