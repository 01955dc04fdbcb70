"""Review of replicas, quota leases and JSON logs: a replica brought back by a call it answers, health
checks that survive a failed round, a cancelled request that gives back its lease, JSON lines for odd
messages."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import grpc
import pytest

from ecert.rpc import balance
from ecert.rules.access import Principal
from ecert.rules.apikeys import Grant
from ecert.runtime.logs import JsonFormatter
from gateway.throttle import Quotas


class Fake:
    def __init__(self, target: str):
        self.target, self.serving = target, True

    async def probe(self, timeout: float) -> None:
        if not self.serving:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "x")

    async def close(self) -> None:
        pass


def lost() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down")


async def test_a_replica_out_that_answers_a_call_is_back_in_without_health_checks():
    b = balance.Balancer("a:1,b:2", Fake, close=Fake.close, probe=Fake.probe, every=0)
    for r in b.replicas:
        b.lost(r)  # both out (a restart of both): every=0, so only a call can bring one back
    assert await b.run(lambda c: asyncio.sleep(0, c.target)) == "a:1"
    assert b.replicas[0].healthy  # it answered: back in
    # and from now on it is preferred to the one still out
    assert {b.pick().target for _ in range(4)} == {"a:1"}
    await b.close()


async def test_health_checks_go_on_after_a_round_that_failed():
    lookups = 0

    def resolve(host: str, port: int) -> list[str]:
        nonlocal lookups
        lookups += 1
        if lookups == 1:
            return ["10.0.0.1:1"]
        raise RuntimeError("a resolver gone wrong")  # not an OSError: it used to end the checks for good

    b = balance.Balancer("dns:///v:1", Fake, close=Fake.close, probe=Fake.probe, every=0.001,
                         resolve_every=0.001, resolve=resolve)
    r = b.replicas[0]
    b.pick()  # starts the checks
    while lookups < 2:
        await asyncio.sleep(0.001)
    b.lost(r)
    for _ in range(1000):  # the checks bring it back (no timing asserted: bounded polling)
        if r.healthy:
            break
        await asyncio.sleep(0.001)
    assert r.healthy and not b._task.done()
    await b.close()


class BlockedCounters:
    def __init__(self):
        self.counts: dict[str, int] = {}
        self.blocked = asyncio.Event()

    async def add_counts(self, steps, expiries):
        if any(":d:" in n and n in self.counts for n in steps):
            self.blocked.set()
            await asyncio.Event().wait()  # the store hangs for the day window's second lease
        for name, n in steps.items():
            self.counts[name] = self.counts.get(name, 0) + n
        return {name: self.counts[name] for name in steps}


async def test_a_request_cancelled_while_its_lease_is_reserved_gives_back_what_it_took():
    store = BlockedCounters()
    quotas = Quotas({}, wall=lambda: 1_800_000_000.0)
    grant = Grant(Principal("hotel", key_id="k9"), None, 1000, 1000)
    await quotas.admit(grant, store)  # first leases: 1 a window
    minute = next(w for n, w in quotas._windows.items() if ":m:" in n)
    day = next(w for n, w in quotas._windows.items() if ":d:" in n)
    assert minute.granted == 0 and day.granted == 0
    minute.granted = 5  # the minute still has some of its lease; the day must reserve again
    task = asyncio.ensure_future(quotas.admit(grant, store))
    await store.blocked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert minute.granted == 5  # nothing counted for a request never served


def test_json_log_lines_stay_one_json_object_for_odd_messages():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("gateway"))
    logger = logging.getLogger("ecert.test.review_ops")
    logger.propagate, logger.handlers = False, [handler]
    logger.warning("bytes read as text: %s", b"\xff".decode("utf-8", "surrogateescape"))
    logger.warning("two lines\nand a quote \" and 中文")
    logger.warning("%d calls", "not a number")  # arguments that do not fit
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    for line in lines:
        line.encode("utf-8")  # writable to any UTF-8 stream
        assert json.loads(line)["service"] == "gateway"
    assert "中文" in json.loads(lines[1])["message"]
    assert "not a number" not in json.loads(lines[2])["message"]  # the arguments (possibly data) left out


def test_a_request_id_from_another_process_is_logged_only_when_safe():
    from types import SimpleNamespace

    from ecert import tracing
    from ecert.rpc.tracing import item_span

    assert tracing.incoming([("x-request-id", "req-1.a:b_c")])[0] == "req-1.a:b_c"
    assert tracing.incoming([("x-request-id", b"forged\n{\"level\": \"INFO\"}")])[0] == ""
    assert tracing.incoming([("x-request-id", "r" * 500)])[0] == "r" * tracing.MAX_REQUEST_ID_CHARS
    with item_span(SimpleNamespace(request_id="a\r\nb", traceparent=""), "VerifyStream"):
        assert tracing.REQUEST_ID.get() == ""
    tracing.REQUEST_ID.set("")
