"""Process faults under load: each process of a real suite killed (-9) and paused (SIGSTOP) once.

The suite runs as separate processes on free ports (:func:`ecert.cli.devsuite.start_suite_processes`,
as ``make run`` and ``make bench`` start it). Meanwhile clients issue credentials in both regions
through the gateway (each with its own ``request_id``, retried until it succeeds) and verify one
continuously. Then, one process at a time: ``kill -9`` (and the process started again) and
``SIGSTOP`` for longer than a client's deadline, then ``SIGCONT``. It must hold that

- no issuance is lost or duplicated: every ``request_id`` ends with exactly one credential in the
  store, the one every success for it named;
- every answer comes within the client's deadline and carries its outcome or error code (a
  verification's ``result``, or ``{"error": {"code"}}`` with 503 while a backend is away); only
  while the gateway itself is away may a request find no one to answer;
- the suite recovers: after each fault a verification answers VALID and both regions issue again.

It takes a few minutes, so it is kept out of the default run: ``make faults`` (``-m faults``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import pytest

from ecert.cli.children import Child
from ecert.cli.devsuite import Ports, SuiteProcesses, start_suite_processes
from ecert.errors import Outcome
from ecert.rules import apikeys
from ecert.store import open_store
from testkit import photos
from testkit.ports import free_port as _free_port
from testkit.samples import driving_licence

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="session")]

REGIONS = ("CN-SH", "CN-ZJ")
BACKEND_TIMEOUT = 3.0
"""The gateway's bound on one backend call (``ECERT_BACKEND_TIMEOUT``), set for the run."""
CLIENT_DEADLINE = BACKEND_TIMEOUT + 7.0
"""How long a client waits for any answer: past it, the suite hung."""
PAUSE = CLIENT_DEADLINE + 2.0
"""How long a process stays stopped: longer than a client waits, so a call without a deadline shows."""
RECOVERY = 45.0
"""How long the suite may take to serve again once the process is back."""
ISSUERS_PER_REGION = 3
VERIFIERS = 2
OUTCOMES = {o.value for o in Outcome}


# -- the load --------------------------------------------------------------------------------------

@dataclass
class Answer:
    kind: str  # "issue" or "verify"
    started: float  # monotonic
    seconds: float
    status: int | None  # None: no HTTP answer (see error)
    code: str = ""  # the verification's result or the error's code
    error: str = ""


@dataclass
class Load:
    url: str
    agency: dict[str, str]
    officer: str
    payload: str
    stopping: bool = False
    windows: list[list] = field(default_factory=list)  # [label, start, end or None], monotonic
    answers: list[Answer] = field(default_factory=list)
    confirmed: dict[str, str] = field(default_factory=dict)  # request_id -> credential id
    pending: set[tuple[str, str]] = field(default_factory=set)  # (region, request_id) sent, not yet confirmed
    conflicting: list[tuple[str, str, str]] = field(default_factory=list)
    seq: int = 0

    async def _post(self, http: aiohttp.ClientSession, kind: str, path: str, key: str, body: dict):
        t0 = time.monotonic()
        try:
            async with http.post(self.url + path, json=body, headers={"Authorization": f"Bearer {key}"},
                                 timeout=aiohttp.ClientTimeout(total=CLIENT_DEADLINE)) as r:
                data = await r.json(content_type=None)
                status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:
            self.answers.append(Answer(kind, t0, time.monotonic() - t0, None, error=type(err).__name__))
            return None, None
        code = data.get("result", "") if status == 200 and kind == "verify" else \
            (data.get("error") or {}).get("code", "") if isinstance(data, dict) and status >= 400 else ""
        self.answers.append(Answer(kind, t0, time.monotonic() - t0, status, code))
        return status, data

    async def issue(self, http: aiohttp.ClientSession, region: str, rid: str, *, until: float) -> bool:
        """Issue with ``rid``, retrying until it succeeds or ``until`` (monotonic) passes."""
        self.pending.add((region, rid))
        while time.monotonic() < until:
            status, data = await self._post(http, "issue", "/v1/credentials", self.agency[region], {
                "region": region, "type": "cn.driving_licence", "request_id": rid,
                "fields": driving_licence(file_number=f"{abs(hash(rid)) % 10**12:012d}")})
            if status in (200, 201):
                first = self.confirmed.setdefault(rid, data["id"])
                if first != data["id"]:
                    self.conflicting.append((rid, first, data["id"]))
                self.pending.discard((region, rid))
                return True
            await asyncio.sleep(0.2)
        return False

    async def issuing(self, region: str, worker: int) -> None:
        async with aiohttp.ClientSession() as http:
            while not self.stopping:
                self.seq += 1
                await self.issue(http, region, f"faults-{region}-{worker}-{self.seq}", until=time.monotonic() + 600)

    async def verifying(self) -> None:
        async with aiohttp.ClientSession() as http:
            while not self.stopping:
                status, _ = await self._post(http, "verify", "/v1/verifications", self.officer, {"payload": self.payload})
                if status != 200:
                    await asyncio.sleep(0.1)

    def begin(self, label: str) -> None:
        self.windows.append([label, time.monotonic(), None])

    def end(self) -> None:
        self.windows[-1][2] = time.monotonic()

    def during(self, a: Answer) -> list[str]:
        """The faults under way at any time between the request and its answer."""
        return [label for label, start, end in self.windows
                if start <= a.started + a.seconds and (end is None or a.started <= end)]

    async def recovered(self, fault: str) -> None:
        """After ``fault``: a verification answers VALID and both regions issue again, in time."""
        until = time.monotonic() + RECOVERY
        async with aiohttp.ClientSession() as http:
            while True:
                status, data = await self._post(http, "verify", "/v1/verifications", self.officer,
                                                {"payload": self.payload})
                if status == 200 and data["result"] == "VALID":
                    break
                assert time.monotonic() < until, f"no VALID verification within {RECOVERY:.0f} s after {fault}"
                await asyncio.sleep(0.2)
            for region in REGIONS:
                ok = await self.issue(http, region, f"faults-probe-{region}-{secrets.token_hex(4)}", until=until)
                assert ok, f"{region} did not issue within {RECOVERY:.0f} s after {fault}"


# -- the faults ------------------------------------------------------------------------------------

def _ready(child: Child, gateway_url: str, log_offset: int) -> bool:
    """The restarted ``child`` serves again (what start_suite_processes waits for)."""
    if child.name == "gateway":
        try:
            with urllib.request.urlopen(gateway_url + "/readyz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    host, port = child.address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    if child.name == "registry":
        return True
    with open(child.log_path, "rb") as log:
        log.seek(log_offset)
        return b"listening on" in log.read()


async def _wait(what: str, ready, timeout: float = RECOVERY) -> None:
    until = time.monotonic() + timeout
    while not await asyncio.to_thread(ready):
        assert time.monotonic() < until, f"{what} within {timeout:.0f} s"
        await asyncio.sleep(0.2)


async def _kill(child: Child, load: Load) -> None:
    """``kill -9``; the launcher's supervision (running beside, as under ``make run``) starts it again."""
    restarts, offset = child.restarts, child.log_path.stat().st_size
    load.begin(f"kill -9 {child.name}")
    os.kill(child.proc.pid, signal.SIGKILL)
    await _wait(f"{child.name} started again after kill -9", lambda: child.restarts > restarts)
    await _wait(f"{child.name} serving again after kill -9", lambda: _ready(child, load.url, offset))
    load.end()


async def _supervise(suite: SuiteProcesses, said: list[str]) -> None:
    """What ``make run`` does every 0.2 s: start again a child that died, after its back-off."""
    while True:
        said.extend(await asyncio.to_thread(suite.supervise))
        await asyncio.sleep(0.2)


async def _pause(child: Child, load: Load) -> None:
    load.begin(f"SIGSTOP {child.name}")
    os.kill(child.proc.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(PAUSE)
    finally:
        os.kill(child.proc.pid, signal.SIGCONT)
        load.end()


def _violations(load: Load) -> list[str]:
    """Answers that break the rules in the module docstring, one line per distinct kind."""
    seen: Counter = Counter()
    for a in load.answers:
        faults = load.during(a)
        during = " and ".join(faults) or "normal running"
        if a.status is None:
            if not any(f.endswith(" gateway") for f in faults):
                seen[f"{a.kind}: no answer ({a.error}) during {during}"] += 1
            continue
        if a.seconds > CLIENT_DEADLINE:
            seen[f"{a.kind}: answered after {a.seconds:.1f} s during {during}"] += 1
        ok = {"issue": (200, 201), "verify": (200,)}[a.kind]
        if a.status in ok:
            if a.kind == "verify" and a.code not in OUTCOMES:
                seen[f"verify: 200 without an outcome code during {during}"] += 1
        elif a.status != 503 or not a.code:
            seen[f"{a.kind}: {a.status} {a.code or '(no code)'} during {during}"] += 1
    return [f"{line} (x{n})" for line, n in seen.items()]


# -- the test --------------------------------------------------------------------------------------

async def _prepare(suite: SuiteProcesses) -> Load:
    store = await open_store(suite.store_uri)
    try:
        agency = {r: (await apikeys.create_api_key(store, "agency", r))[0] for r in REGIONS}
        await photos.hold_sample_photos(store, REGIONS)  # the photo driving_licence() names
        officer, _ = await apikeys.create_api_key(store, "traffic_police", "CN-JS")  # checks driving licences
    finally:
        await store.close()
    async with aiohttp.ClientSession() as http:
        async with http.post(suite.gateway_url + "/v1/credentials", headers={"Authorization": f"Bearer {agency['CN-ZJ']}"},
                             json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()}) as r:
            assert r.status == 201, await r.text()
            payload = (await r.json())["qr_text"]
    return Load(suite.gateway_url, agency, officer, payload)


async def _records(suite: SuiteProcesses) -> dict[str, Counter]:
    store = await open_store(suite.store_uri)
    try:
        return {r: Counter(d.get("request_id") for d in await store.backend.find("credentials", {"region": r}))
                for r in REGIONS}
    finally:
        await store.close()


async def test_kill_and_pause_each_process_under_load(tmp_path):
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="WARNING",
               ECERT_BACKEND_TIMEOUT=str(BACKEND_TIMEOUT))
    ports = Ports(registry=_free_port(), issuers={r: _free_port() for r in REGIONS}, verifier=_free_port(),
                  gateway=_free_port())
    suite = await asyncio.to_thread(start_suite_processes, tmp_path / "var", ports, env=env)
    said: list[str] = []
    tasks = [asyncio.create_task(_supervise(suite, said))]
    try:
        load = await _prepare(suite)
        tasks += [asyncio.create_task(load.issuing(r, w)) for r in REGIONS for w in range(ISSUERS_PER_REGION)]
        tasks += [asyncio.create_task(load.verifying()) for _ in range(VERIFIERS)]
        await asyncio.sleep(2.0)  # the load under way before the first fault
        for child in list(suite.children):
            for fault in (_kill, _pause):
                await fault(child, load)
                await load.recovered(f"{fault.__name__[1:]} {child.name}")

        load.stopping = True
        await asyncio.wait_for(asyncio.gather(*tasks[1:]), CLIENT_DEADLINE * 3 + RECOVERY)
        assert not load.pending, f"issuances never confirmed: {sorted(load.pending)[:10]}"

        records = await _records(suite)
        stored = {rid: n for counts in records.values() for rid, n in counts.items() if rid}
        lost = sorted(set(load.confirmed) - set(stored))
        duplicated = sorted(rid for rid, n in stored.items() if n > 1)
        unasked = sorted(rid for rid in stored if rid not in load.confirmed)
        figures = (f"{len(load.answers)} requests ({sum(a.kind == 'issue' for a in load.answers)} issuances tried, "
                   f"{len(load.confirmed)} request_ids confirmed), statuses "
                   f"{dict(Counter(a.status for a in load.answers))}; lost {len(lost)}, duplicated {len(duplicated)}")
        print(figures)
        assert not load.conflicting, f"a request_id answered with two credentials: {load.conflicting[:5]}"
        assert not lost and not duplicated, f"{figures}; lost {lost[:5]}, duplicated {duplicated[:5]}"
        assert not unasked, f"credentials no client was told of: {unasked[:5]}"
        restarted = sorted(c.name for c in suite.children if c.restarts != 1)
        assert not restarted, f"started again other than once (after its kill -9): {restarted}\n" + "\n".join(said)
        violations = _violations(load)
        assert not violations, f"{figures}\n" + "\n".join(violations)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in suite.children:  # a stopped child cannot take SIGTERM
            if c.proc.poll() is None:
                os.kill(c.proc.pid, signal.SIGCONT)
        await asyncio.to_thread(suite.stop)
