"""Outages of a real suite of processes (issue 13's tests, end to end): the registry stopped while
verifications go on, then a verifier restarted with the registry and every issuer down.

The suite runs as separate processes on free ports (:func:`ecert.cli.devsuite.start_suite_processes`,
as ``make run`` starts it), with a short staleness bound (``ECERT_TRUST_LIST_MAX_AGE``) and a quick
refresh so the run takes seconds, not minutes. It must hold that

- with the registry stopped (SIGSTOP), every verification is still answered, VALID, and says
  ``trust_list_stale: true`` once the list was not refreshed within the bound, its
  ``trust_list_as_of`` unchanged (the list it has);
- a verifier started again while the registry and the issuers are dead verifies from its disk: the
  credential VALID, the one revoked before REVOKED (the status list on disk), both saying how old
  the lists are (``trust_list_as_of``, ``status_as_of``) and that the trust list is stale;
- an issuer started again while the registry is dead issues (from its cached types and rules),
  and what it issues verifies;
- once the registry is back the answers are fresh again.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time

import aiohttp
import pytest

from ecert.cli.children import Child
from ecert.cli.devsuite import Ports, SuiteProcesses, start_suite_processes
from ecert.rules import apikeys
from ecert.store import open_store
from testkit import photos
from testkit.ports import free_port as _free_port
from testkit.samples import driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

REGIONS = ("CN-SH", "CN-ZJ")
MAX_AGE = 3.0
"""``ECERT_TRUST_LIST_MAX_AGE``: past this without a refresh, answers say the trust list is stale."""
REFRESH = 0.5
"""``ECERT_REFRESH_SECONDS``: how often the verifier refreshes (jittered)."""
WAIT = 30.0
"""The longest any step may take to show (a shared 2-core machine: generous, never a timing claim)."""


def _child(suite: SuiteProcesses, name: str) -> Child:
    return next(c for c in suite.children if c.name == name)


def _log_count(child: Child, needle: str) -> int:
    try:
        return child.log_path.read_text(errors="replace").count(needle)
    except OSError:
        return 0


async def _until(what: str, check, timeout: float = WAIT):
    """Poll ``check`` (async, returns a truthy value when done) until it is done; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


def _kill(child: Child) -> None:
    if child.proc.poll() is None:
        child.proc.send_signal(signal.SIGKILL)
    child.proc.wait(10)


async def _restart(child: Child, ready: str) -> None:
    before = _log_count(child, ready)
    child.restart()

    async def started():
        if child.proc.poll() is not None:
            raise AssertionError(f"{child.name} exited ({child.proc.returncode}):\n{child.tail(20)}")
        return _log_count(child, ready) > before

    await _until(f"{child.name} started again", started)


class Client:
    def __init__(self, http: aiohttp.ClientSession, url: str, agency: str, officer: str):
        self.http, self.url, self.agency, self.officer = http, url, agency, officer

    async def issue(self) -> tuple[int, dict]:
        async with self.http.post(self.url + "/v1/credentials", headers={"Authorization": f"Bearer {self.agency}"},
                                  json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(),
                                        "request_id": secrets.token_hex(8)},
                                  timeout=aiohttp.ClientTimeout(total=20)) as r:
            return r.status, await r.json()

    async def revoke(self, cred_id: str) -> int:
        async with self.http.post(f"{self.url}/v1/credentials/{cred_id}:revoke",
                                  headers={"Authorization": f"Bearer {self.agency}"}, json={"reason": "test"},
                                  timeout=aiohttp.ClientTimeout(total=20)) as r:
            return r.status

    async def verify(self, payload: str) -> dict:
        async with self.http.post(self.url + "/v1/verifications", headers={"Authorization": f"Bearer {self.officer}"},
                                  json={"payload": payload}, timeout=aiohttp.ClientTimeout(total=20)) as r:
            body = await r.json()
            assert r.status == 200, body
            return body


async def _keys(store_uri: str) -> tuple[str, str]:
    store = await open_store(store_uri)
    try:
        agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
        officer, _ = await apikeys.create_api_key(store, "traffic_police", "CN-JS")  # checks driving licences
        await photos.hold_sample_photos(store, REGIONS)  # the photo driving_licence() names
    finally:
        await store.close()
    return agency, officer


async def test_registry_down_then_verifier_restarted_with_registry_and_issuers_down(tmp_path):
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="INFO",
               ECERT_TRUST_LIST_MAX_AGE=str(MAX_AGE), ECERT_REFRESH_SECONDS=str(REFRESH), ECERT_STATUS_TTL="1",
               ECERT_BACKEND_TIMEOUT="3", ECERT_RESOLVE_TIMEOUT="1")
    ports = Ports(registry=_free_port(), issuers={r: _free_port() for r in REGIONS}, verifier=_free_port(),
                  gateway=_free_port())
    suite = await asyncio.to_thread(start_suite_processes, tmp_path / "var", ports, env=env)
    registry, verifier = _child(suite, "registry"), _child(suite, "verifier")
    issuers = [c for c in suite.children if c.name.startswith("issuer-")]
    try:
        agency, officer = await _keys(suite.store_uri)
        async with aiohttp.ClientSession() as http:
            c = Client(http, suite.gateway_url, agency, officer)
            status, kept = await c.issue()
            assert status == 201, kept
            status, revoked = await c.issue()
            assert status == 201, revoked
            assert await c.revoke(revoked["id"]) == 200

            async def revocation_seen():
                return (await c.verify(revoked["qr_text"]))["result"] == "REVOKED"

            await _until("the revocation reaching the verifier", revocation_seen)
            fresh = await c.verify(kept["qr_text"])
            assert fresh["result"] == "VALID", fresh
            assert fresh["trust_list_stale"] is False and fresh["status"] == "valid" and fresh["status_checked"]
            as_of = fresh["trust_list_as_of"]

            # 1. the registry stopped: answers keep coming, and turn stale past the bound
            registry.proc.send_signal(signal.SIGSTOP)
            answers = []
            stopped = time.monotonic()

            async def turned_stale():
                a = await c.verify(kept["qr_text"])
                answers.append(a)
                return a["trust_list_stale"]

            await _until("answers marked stale with the registry stopped", turned_stale, MAX_AGE + WAIT)
            # never before the bound: the last refresh may precede the stop by one refresh interval
            # (+10 % jitter), and the verifier keeps its times in whole seconds
            assert time.monotonic() - stopped >= MAX_AGE - REFRESH * 1.1 - 1
            for _ in range(5):  # and they stay so, still answered
                answers.append(await c.verify(kept["qr_text"]))
            assert all(a["result"] == "VALID" for a in answers), [a["result"] for a in answers]
            assert all(a["trust_list_as_of"] == as_of for a in answers)
            assert answers[-1]["trust_list_stale"] is True

            # 2. the registry and every issuer dead, the verifier started again: it verifies from disk
            for child in (registry, *issuers):
                _kill(child)
            _kill(verifier)
            await _restart(verifier, "verifier listening on")

            async def answered_from_disk():
                try:
                    return await c.verify(kept["qr_text"])
                except AssertionError:  # 503 while the gateway reconnects to the verifier
                    return None

            a = await _until("the restarted verifier answering", answered_from_disk)
            assert a["result"] == "VALID", a
            assert a["trust_list_stale"] is True and a["trust_list_as_of"] == as_of
            assert a["status"] == "valid" and a["status_checked"] is True and a["status_as_of"]
            r = await c.verify(revoked["qr_text"])
            assert r["result"] == "REVOKED", r  # the status list kept on disk
            assert r["trust_list_stale"] is True and r["status_as_of"]

            # 3. an issuer started again with the registry dead issues from its cached types and rules
            zj = _child(suite, "issuer-CN-ZJ")
            await _restart(zj, "issuer CN-ZJ listening on")
            assert zj.log_contains("serving from the cached types")  # it did not reach the registry
            status, new = await c.issue()
            assert status == 201, new

            async def new_one_valid():
                a = await c.verify(new["qr_text"])
                return a if a["result"] == "VALID" else None

            a = await _until("the credential issued with the registry down verifying", new_one_valid)
            assert a["trust_list_stale"] is True

            # 4. the registry back: answers fresh again
            await _restart(registry, "registry listening on")

            async def fresh_again():
                return not (await c.verify(kept["qr_text"]))["trust_list_stale"]

            await _until("answers fresh once the registry is back", fresh_again)
    finally:
        for child in suite.children:
            if child.proc.poll() is None:
                try:
                    child.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
        suite.stop()
