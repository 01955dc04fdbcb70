"""Replicas as ``make run`` starts them: two verifiers behind one gateway, one killed (-9) under load.

The suite runs as separate processes on free ports (:func:`ecert.cli.devsuite.start_suite_processes`
with ``ECERT_VERIFIERS=2``). Clients verify continuously through the gateway for a bounded time; part
way through, one verifier is killed and not started again. It must hold that

- every request is answered 200 with an outcome (none 5xx): the calls in flight on the killed verifier
  are made again on the other one;
- the gateway takes the killed verifier out (``ecert_gateway_verifier_up`` 0 in ``/metrics``) and
  gives every later call to the survivor;
- started again, the verifier is back in and gets calls again.

Also here: ``ECERT_GATEWAYS=2`` starts two gateway processes serving one port (``SO_REUSEPORT``).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import time

import aiohttp
import grpc
import pytest

from ecert.cli.devsuite import Ports, SuiteError, replica_count, replica_names, start_suite_processes
from ecert.errors import Outcome
from ecert.rpc import balance
from ecert.rules import apikeys
from ecert.store import open_store
from ecert.vocab import KEY_ROLES
from testkit import photos
from testkit.ports import free_span
from testkit.samples import driving_licence

REGIONS = ("CN-SH", "CN-ZJ")
CLIENTS = 8
LOAD_SECONDS = 8.0
"""How long the load runs; the kill comes after a third of it."""
AFTER = 60
"""Verifications made once the load is over, every one of which must go to the survivor."""
RECOVERY = 30.0
"""How long a verifier started again may take to be back in (its start, then a health check)."""
OUTCOMES = {o.value for o in Outcome}


def _free_port(span: int = 1) -> int:
    """A port with ``span - 1`` free ports after it."""
    return free_span(span)


QUOTAS = {f"ECERT_QUOTA_{role.upper()}_PER_{window}": str(10**9) for role in KEY_ROLES for window in ("MINUTE", "DAY")}
"""Quotas the load never reaches: they are not what is tested here."""


def _env(**settings: str) -> dict[str, str]:
    return dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
                ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="WARNING", **QUOTAS, **settings)


def _ports(verifiers: int = 1) -> Ports:
    return Ports(registry=_free_port(), issuers={r: _free_port() for r in REGIONS}, verifier=_free_port(verifiers),
                 gateway=_free_port())


async def _prepare(url: str, store_uri: str) -> tuple[str, str]:
    """An officer's key and a credential's payload it may verify."""
    store = await open_store(store_uri)
    try:
        agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
        officer, _ = await apikeys.create_api_key(store, "traffic_police", "CN-JS")
        await photos.hold_sample_photos(store, REGIONS)
    finally:
        await store.close()
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/v1/credentials", headers={"Authorization": f"Bearer {agency}"},
                             json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()}) as r:
            assert r.status == 201, await r.text()
            return officer, (await r.json())["qr_text"]


def _replica_metrics(text: str) -> dict[str, dict[str, float]]:
    """``{target: {"up": .., "calls": ..}}`` from the gateway's ``/metrics``."""
    out: dict[str, dict[str, float]] = {}
    for name, target, value in re.findall(r'^ecert_gateway_verifier_(up|calls_total)\{target="([^"]+)"\} (\S+)$',
                                          text, re.M):
        out.setdefault(target, {})[name.removesuffix("_total")] = float(value)
    return out


async def _metrics(http: aiohttp.ClientSession, url: str) -> dict[str, dict[str, float]]:
    async with http.get(url + "/metrics") as r:
        assert r.status == 200, await r.text()
        return _replica_metrics(await r.text())


async def test_a_verifier_killed_under_load_loses_no_request_and_gets_no_later_call(tmp_path):
    ports = _ports(verifiers=2)
    suite = await asyncio.to_thread(start_suite_processes, tmp_path / "var", ports, env=_env(ECERT_VERIFIERS="2"))
    try:
        names = [c.name for c in suite.children]
        assert "verifier-1" in names and "verifier-2" in names and "gateway" in names
        officer, payload = await _prepare(suite.gateway_url, suite.store_uri)
        answers: list[tuple[int, str]] = []
        stop_at = time.monotonic() + LOAD_SECONDS

        async def verifying(http: aiohttp.ClientSession) -> None:
            while time.monotonic() < stop_at:
                async with http.post(suite.gateway_url + "/v1/verifications", json={"payload": payload},
                                     headers={"Authorization": f"Bearer {officer}"}) as r:
                    body = await r.json()
                    answers.append((r.status, body.get("result") or body.get("error", {}).get("code", "")))

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            before = await _metrics(http, suite.gateway_url)
            assert set(before) == {f"127.0.0.1:{p}" for p in ports.verifiers(2)}
            load = [asyncio.create_task(verifying(http)) for _ in range(CLIENTS)]
            await asyncio.sleep(LOAD_SECONDS / 3)
            victim = next(c for c in suite.children if c.name == "verifier-1")
            os.kill(victim.proc.pid, signal.SIGKILL)  # never started again: nobody supervises here
            killed_at = len(answers)
            await asyncio.gather(*load)

            statuses = {s for s, _ in answers}
            bad = [(s, code) for s, code in answers if s != 200 or code not in OUTCOMES]
            assert not bad, f"{len(bad)} of {len(answers)} answers were not a 200 with an outcome: {bad[:5]}"
            assert killed_at > 0 and len(answers) > killed_at, "the load did not run on both sides of the kill"
            assert statuses == {200}

            dead, survivor = f"127.0.0.1:{ports.verifier}", f"127.0.0.1:{ports.verifier + 1}"
            during = await _metrics(http, suite.gateway_url)
            assert during[dead]["up"] == 0 and during[survivor]["up"] == 1
            for _ in range(AFTER):
                async with http.post(suite.gateway_url + "/v1/verifications", json={"payload": payload},
                                     headers={"Authorization": f"Bearer {officer}"}) as r:
                    assert r.status == 200 and (await r.json())["result"] == "VALID"
            after = await _metrics(http, suite.gateway_url)
            assert after[dead]["calls"] == during[dead]["calls"], "a call went to the killed verifier"
            assert after[survivor]["calls"] >= during[survivor]["calls"] + AFTER
            # both replicas had served before the kill: the calls were spread
            assert during[dead]["calls"] > 0 and during[survivor]["calls"] > 0
            # started again, it is back in at its first passing health check, and gets calls again
            await asyncio.to_thread(victim.restart)
            back_by = time.monotonic() + RECOVERY
            while (await _metrics(http, suite.gateway_url))[dead]["up"] != 1:
                assert time.monotonic() < back_by, f"the restarted verifier was not back within {RECOVERY:.0f} s"
                await asyncio.sleep(0.2)
            back = await _metrics(http, suite.gateway_url)
            for _ in range(10):
                async with http.post(suite.gateway_url + "/v1/verifications", json={"payload": payload},
                                     headers={"Authorization": f"Bearer {officer}"}) as r:
                    assert r.status == 200 and (await r.json())["result"] == "VALID"
            assert (await _metrics(http, suite.gateway_url))[dead]["calls"] >= back[dead]["calls"] + 5
            async with http.get(suite.gateway_url + "/metrics") as r:
                retries = re.search(r"^ecert_gateway_verifier_retries_total (\S+)$", await r.text(), re.M)
            print(f"{len(answers)} verifications under load, {killed_at} before the kill; all 200; "
                  f"{float(retries[1]):.0f} made again on the survivor")
    finally:
        await asyncio.to_thread(suite.stop)


async def test_two_gateways_serve_one_port_and_see_the_same_keys(tmp_path):
    ports = _ports()
    suite = await asyncio.to_thread(start_suite_processes, tmp_path / "var", ports, env=_env(ECERT_GATEWAYS="2"))
    try:
        gateways = [c for c in suite.children if c.name.startswith("gateway")]
        assert [c.name for c in gateways] == ["gateway-1", "gateway-2"]
        assert all(c.proc.poll() is None for c in gateways)
        officer, payload = await _prepare(suite.gateway_url, suite.store_uri)
        # Each new connection goes to either process; a key made in the store works through both,
        # and still works with either one gone.
        for gone in (None, gateways[0]):
            if gone is not None:
                os.kill(gone.proc.pid, signal.SIGKILL)
                await asyncio.to_thread(gone.proc.wait)
            for _ in range(10):
                async with aiohttp.ClientSession() as http:  # a new connection each time
                    async with http.post(suite.gateway_url + "/v1/verifications", json={"payload": payload},
                                         headers={"Authorization": f"Bearer {officer}"}) as r:
                        assert r.status == 200 and (await r.json())["result"] == "VALID"
    finally:
        await asyncio.to_thread(suite.stop)


def test_replica_counts_and_names():
    assert replica_count("ECERT_VERIFIERS", {}) == 1
    assert replica_count("ECERT_VERIFIERS", {"ECERT_VERIFIERS": "3"}) == 3
    for raw in ("0", "17", "two", "-1"):
        with pytest.raises(SuiteError, match="ECERT_VERIFIERS"):
            replica_count("ECERT_VERIFIERS", {"ECERT_VERIFIERS": raw})
    assert replica_names("verifier", 1) == ["verifier"]
    assert replica_names("gateway", 2) == ["gateway-1", "gateway-2"]
    assert Ports(verifier=50071).verifiers(3) == [50071, 50072, 50073]


def test_target_lists_and_dns_names():
    assert balance.split_targets(" a:1, b:2 ,a:1,") == ["a:1", "b:2"]
    assert balance.split_targets("ipv4:10.0.0.1:50071,10.0.0.2:50071") == ["10.0.0.1:50071", "10.0.0.2:50071"]
    assert balance.dns_name("dns:///verifier.ecert.svc:50071") == ("verifier.ecert.svc", 50071)
    assert balance.dns_name("dns://10.0.0.53/verifier:50071") == ("verifier", 50071)
    assert balance.dns_name("dns:verifier:50071") == ("verifier", 50071)
    assert balance.dns_name("verifier:50071") is None
    with pytest.raises(ValueError, match="port"):
        balance.dns_name("dns:///verifier")
    infos = [(0, 0, 0, "", ("10.0.0.1", 50071)), (0, 0, 0, "", ("10.0.0.1", 50071)), (0, 0, 0, "", ("fd00::2", 50071, 0, 0))]
    assert balance.addresses(infos, 50071) == ["10.0.0.1:50071", "[fd00::2]:50071"]


# -- the balancer alone (no processes) ---------------------------------------------------------------

class FakeClient:
    def __init__(self, target: str):
        self.target, self.serving, self.closed = target, True, False

    async def probe(self, timeout: float) -> None:
        if not self.serving:
            raise grpc_error(grpc.StatusCode.UNAVAILABLE)

    async def close(self) -> None:
        self.closed = True


def grpc_error(code: grpc.StatusCode, trailers=()) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailers), "details")


def fake_balancer(spec: str, resolved: dict[str, list[str]] | None = None) -> balance.Balancer[FakeClient]:
    return balance.Balancer(spec, FakeClient, close=FakeClient.close, probe=FakeClient.probe, every=0,
                            resolve=lambda host, port: list((resolved or {})[f"{host}:{port}"]))


async def test_calls_go_to_the_healthy_replicas_in_turn_and_to_any_when_none_is():
    b = fake_balancer("a:1,b:2,c:3")
    assert [b.pick().target for _ in range(6)] == ["a:1", "b:2", "c:3"] * 2
    b.lost(b.replicas[1])
    assert {b.pick().target for _ in range(6)} == {"a:1", "c:3"}
    for r in b.replicas:
        b.lost(r)
    assert {b.pick().target for _ in range(6)} == {"a:1", "b:2", "c:3"}  # one more try, rather than a refusal
    assert sum(r.calls for r in b.replicas) == 18


async def test_a_call_that_lost_its_connection_is_made_again_on_another_replica_once_per_replica():
    b = fake_balancer("a:1,b:2,c:3")
    tried: list[str] = []

    async def down_on_a_and_b(client: FakeClient) -> str:
        tried.append(client.target)
        if client.target != "c:3":
            raise grpc_error(grpc.StatusCode.UNAVAILABLE)
        return "answer"

    assert await b.run(down_on_a_and_b) == "answer"
    assert tried[0] == "a:1" and tried[-1] == "c:3" and len(set(tried)) == len(tried)
    assert b.stats.retries == len(tried) - 1
    assert [r.healthy for r in b.replicas] == [False, "b:2" not in tried, True]

    tried.clear()

    async def down(client: FakeClient) -> str:
        tried.append(client.target)
        raise grpc_error(grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(grpc.aio.AioRpcError):
        await b.run(down)
    assert sorted(tried) == ["a:1", "b:2", "c:3"]  # each once, then the failure is the caller's


async def test_what_a_replica_answered_and_a_call_not_to_be_made_twice_are_never_retried():
    from ecert.rpc.status import CODE_TRAILER
    from ecert.rpc.streams import stream_failure

    for err, retried in ((grpc_error(grpc.StatusCode.UNAVAILABLE, [(CODE_TRAILER, "BUSY")]), False),
                         (grpc_error(grpc.StatusCode.DEADLINE_EXCEEDED), False),
                         (grpc_error(grpc.StatusCode.INVALID_ARGUMENT), False),
                         (stream_failure(late=True), False),
                         (stream_failure(late=False), True),
                         (grpc_error(grpc.StatusCode.UNAVAILABLE), True)):
        assert balance.connection_lost(err) is retried, err
        b = fake_balancer("a:1,b:2")
        calls: list[str] = []

        async def failing(client: FakeClient, err=err) -> None:
            calls.append(client.target)
            raise err

        with pytest.raises(type(err)):
            await b.run(failing)
        assert len(calls) == (2 if retried else 1)

    b = fake_balancer("a:1,b:2")
    calls.clear()

    async def lost(client: FakeClient) -> None:
        calls.append(client.target)
        raise grpc_error(grpc.StatusCode.UNAVAILABLE)

    with pytest.raises(grpc.aio.AioRpcError):
        await b.run(lost, retry=False)
    assert calls == ["a:1"] and not b.replicas[0].healthy  # not made again, but the replica is out


async def test_a_replica_failing_its_health_check_is_out_until_it_passes_one():
    b = fake_balancer("a:1,b:2")
    a = b.replicas[0]
    a.client.serving = False
    await b._check(a)
    assert not a.healthy and {b.pick().target for _ in range(4)} == {"b:2"}
    with pytest.raises(grpc.aio.AioRpcError):
        for r in b.replicas:
            r.client.serving = False
        await b.serving()  # readiness: no replica serving
    a.client.serving = True
    await b.serving()
    await b._check(a)
    assert a.healthy and {b.pick().target for _ in range(4)} == {"a:1", "b:2"}
    await b.close()
    assert all(r.client.closed for r in (a,)) and b.replicas == []


async def test_a_dns_name_is_every_address_it_resolves_to_and_is_followed():
    resolved = {"verifier:50071": ["10.0.0.1:50071", "10.0.0.2:50071"]}
    b = fake_balancer("dns:///verifier:50071,10.9.9.9:1", resolved)
    assert [r.target for r in b.replicas] == ["10.0.0.1:50071", "10.0.0.2:50071", "10.9.9.9:1"]
    first = b.replicas[0]
    resolved["verifier:50071"] = ["10.0.0.2:50071", "10.0.0.3:50071"]
    await b._resolve()
    assert [r.target for r in b.replicas] == ["10.0.0.2:50071", "10.9.9.9:1", "10.0.0.3:50071"]
    assert first.client.closed
    resolved["verifier:50071"] = []  # an empty answer (a lookup gone wrong) keeps what there is
    await b._resolve()
    assert len(b.replicas) == 3


async def test_a_name_not_resolvable_yet_is_left_to_grpc_until_it_is():
    def unresolvable(host: str, port: int) -> list[str]:
        raise socket.gaierror("not yet")

    b = balance.Balancer("dns:///verifier:50071", FakeClient, close=FakeClient.close, probe=FakeClient.probe,
                         every=0, resolve=unresolvable)
    assert [r.target for r in b.replicas] == ["dns:///verifier:50071"]
