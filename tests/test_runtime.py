"""The shared mechanisms: refreshed copies, bounded caches, the error ↔ status tables, the
process lifecycle, and the layers' import promises."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import grpc
import pytest

from ecert import errors
from ecert.rpc import status
from ecert.rpc.lifecycle import Process
from ecert.runtime.cache import BoundedCache
from ecert.runtime.refresh import Refreshed
from gateway.errors import http_status


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Upstream:
    """A source that answers 1, 2, 3 ... or fails while ``down``."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    async def __call__(self) -> int:
        self.calls += 1
        if self.down:
            raise errors.Unavailable("upstream down")
        return self.calls


def _refreshed(up: Upstream, clock: Clock, **kw) -> Refreshed[int]:
    return Refreshed(up, name="thing", every=10, retry=2, clock=clock, **kw)


async def test_a_copy_is_used_until_it_is_due():
    up, clock = Upstream(), Clock()
    r = _refreshed(up, clock)
    assert r.value is None and r.age is None
    assert await r.get() == 1
    clock.t += 9.9
    assert await r.get() == 1 and up.calls == 1
    assert r.age == pytest.approx(9.9)
    clock.t += 0.1
    assert await r.get() == 2


async def test_the_last_good_copy_outlives_an_upstream_that_is_down():
    up, clock = Upstream(), Clock()
    r = _refreshed(up, clock)
    await r.get()
    up.down = True
    clock.t += 11
    assert await r.get() == 1 and r.failures == 1  # kept, and it says how old it is
    assert r.age == pytest.approx(11)
    clock.t += 1
    assert await r.get() == 1 and up.calls == 2  # no new try before ``retry`` seconds
    clock.t += 1
    assert await r.get() == 1 and up.calls == 3
    up.down = False
    clock.t += 2
    assert await r.get() == 4 and r.failures == 0 and r.age == 0


async def test_without_a_copy_the_failure_reaches_the_caller():
    up, clock = Upstream(), Clock()
    up.down = True
    r = _refreshed(up, clock)
    with pytest.raises(errors.Unavailable):
        await r.get()
    assert await r.refresh_soon(0) is False  # never raises


async def test_forced_refreshes_are_rate_limited_unless_asked_otherwise():
    up, clock = Upstream(), Clock()
    r = _refreshed(up, clock)
    await r.get()
    assert await r.get(force=True) == 1  # a fetch was tried less than ``retry`` ago
    clock.t += 2
    assert await r.get(force=True) == 2
    free = _refreshed(Upstream(), clock, force_every=0)
    await free.get()
    assert await free.get(force=True) == 2


async def test_a_seeded_copy_is_used_and_of_unknown_age():
    up, clock = Upstream(), Clock()
    r = _refreshed(up, clock)
    r.seed(41)
    assert r.value == 41 and r.age is None
    up.down = True
    assert await r.refresh() is False and r.value == 41


def test_background_waits_are_jittered_within_bounds():
    import random
    r = Refreshed(Upstream(), name="x", every=10, retry=1, jitter=0.2, rng=random.Random(3))
    waits = [r.interval() for _ in range(200)]
    assert min(waits) >= 8 and max(waits) <= 12 and len(set(waits)) > 100


def test_bounded_cache_drops_the_least_recent_and_the_expired():
    clock = Clock()
    c: BoundedCache[str, int] = BoundedCache(2, ttl=30, clock=clock)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3)
    assert c.get("b") is None and c.get("a") == 1 and len(c) == 2
    clock.t += 30
    assert c.get("a") is None and c.get("c") is None


@pytest.mark.parametrize("err, grpc_status, http", [
    (errors.InvalidRequest("x"), grpc.StatusCode.INVALID_ARGUMENT, 400),
    (errors.FormatError(errors.Outcome.BASE45_INVALID), grpc.StatusCode.INVALID_ARGUMENT, 400),
    (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED, 401),
    (errors.PermissionDenied("x"), grpc.StatusCode.PERMISSION_DENIED, 403),
    (errors.NotFound("x"), grpc.StatusCode.NOT_FOUND, 404),
    (errors.Conflict("x"), grpc.StatusCode.ALREADY_EXISTS, 409),
    (errors.DuplicateKey("x"), grpc.StatusCode.ALREADY_EXISTS, 409),
    (errors.TooLarge("x"), grpc.StatusCode.OUT_OF_RANGE, 413),
    (errors.UnsupportedMedia("x"), grpc.StatusCode.UNIMPLEMENTED, 415),
    (errors.RuleViolation("x"), grpc.StatusCode.FAILED_PRECONDITION, 422),
    (errors.Unavailable("x"), grpc.StatusCode.UNAVAILABLE, 503),
    (errors.StoreError("x"), grpc.StatusCode.UNAVAILABLE, 503),
    (errors.ConfigError("x"), grpc.StatusCode.INTERNAL, 500),
    (errors.EcertError("x"), grpc.StatusCode.INTERNAL, 500),
])
def test_each_error_has_one_status_on_each_edge_and_crosses_grpc_as_itself(err, grpc_status, http):
    assert status.to_grpc(err) is grpc_status and http_status(err) == http
    back = status.from_number(status.to_grpc_number(err), err.code, err.message, "field_x")
    assert back.code == err.code and back.message == err.message and back.field == "field_x"
    assert http_status(back) == http


def test_transport_failures_without_a_code_are_unavailable():
    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        err = status.from_grpc(code, None, "connection refused")
        assert isinstance(err, errors.Unavailable) and http_status(err) == 503


async def test_a_process_stops_its_server_then_its_tasks_then_closes_in_reverse_order():
    order: list[str] = []

    class Thing:
        def __init__(self, name: str) -> None:
            self.name = name

        async def close(self) -> None:
            order.append(f"close {self.name}")

    async def loop_task() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            order.append("task cancelled")

    server = grpc.aio.server()
    server.add_insecure_port("127.0.0.1:0")
    from grpc_health.v1 import health
    server.health = health.aio.HealthServicer()
    server.service_names = ["x"]
    async with Process("test", grace=0.1) as proc:
        proc.closing(Thing("store"), "store")
        proc.closing(Thing("channel"), "channel")
        await proc.start(server)
        proc.spawn(loop_task(), "loop")
        proc.stop()
        await proc.wait()
        await asyncio.sleep(0)
        order.append("leaving")
    assert order == ["leaving", "task cancelled", "close channel", "close store"]


@pytest.mark.parametrize("module, absent", [
    ("ecert.rules.verify", ("grpc", "aiohttp", "pymongo", "ecertpb")),
    ("ecert.format.credential", ("grpc", "aiohttp", "pymongo", "ecertpb", "jsonschema")),
    ("ecert.store", ("pymongo", "grpc")),
    ("ecert.errors", ("grpc",)),
])
def test_importing_a_layer_pulls_in_nothing_it_does_not_need(module, absent):
    code = f"import sys, {module}; print(sorted(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
