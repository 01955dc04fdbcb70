"""A verifier process killed (``kill -9``) while checks it answered are still in its outbox: started
again on the same folder, it delivers them, and each check answered is in the issuing region's
trail exactly once (0 lost, 0 duplicated). The suite runs as separate processes on free ports, as
``make run`` starts it."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import aiohttp

from ecert.cli.devsuite import Ports, start_suite_processes
from ecert.rules import apikeys
from ecert.store import open_store
from testkit.ports import free_port as _free_port
from testkit.samples import SAMPLES

REGIONS = ("CN-SH", "CN-ZJ")
ORG = "杭州西湖国宾馆"


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _outbox_bytes(var_dir: Path) -> int:
    folder = var_dir / "verifier" / "outbox"
    return sum(p.stat().st_size for p in folder.rglob("*.log")) if folder.is_dir() else 0


async def _until(what: str, ready, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        await asyncio.sleep(0.05)


async def test_a_killed_verifier_delivers_its_outbox_after_a_restart(tmp_path):
    var_dir = tmp_path / "var"
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="WARNING")
    ports = Ports(registry=_free_port(), issuers={r: _free_port() for r in REGIONS}, verifier=_free_port(),
                  gateway=_free_port())
    suite = await asyncio.to_thread(start_suite_processes, var_dir, ports, env=env)
    try:
        store = await open_store(suite.store_uri)
        try:
            agency = {r: (await apikeys.create_api_key(store, "agency", r))[0] for r in REGIONS}
            checker, _ = await apikeys.create_api_key(store, "integrator", org=ORG)
        finally:
            await store.close()
        url = suite.gateway_url
        answered: Counter = Counter()  # credential id -> checks answered VALID
        failed = 0
        async with aiohttp.ClientSession() as http:
            texts, regions = {}, {}
            for region in REGIONS:
                for i in range(3):
                    fields = {**SAMPLES["cn.business_licence"], "name": f"示例{region}{i}有限公司"}
                    async with http.post(url + "/v1/credentials", json={"region": region, "type": "cn.business_licence",
                                                                        "fields": fields},
                                         headers={"Authorization": f"Bearer {agency[region]}"}) as r:
                        body = await r.json()
                        assert r.status == 201, body
                        texts[body["id"]], regions[body["id"]] = body["qr_text"], region
            ids = list(texts)

            async def verify(n: int) -> None:
                nonlocal failed
                for k in range(n):
                    cred = ids[k % len(ids)]
                    try:
                        async with http.post(url + "/v1/verifications", json={"payload": texts[cred]},
                                             headers={"Authorization": f"Bearer {checker}"},
                                             timeout=aiohttp.ClientTimeout(total=10)) as r:
                            body = await r.json()
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        failed += 1
                        continue
                    if r.status == 200 and body["result"] == "VALID":
                        answered[cred] += 1
                    else:
                        failed += 1

            await asyncio.gather(*(verify(40) for _ in range(6)))
            # a burst, then kill -9 at once: what it answered last is in its outbox, not delivered yet
            await asyncio.gather(*(verify(10) for _ in range(6)))
            verifier = next(c for c in suite.children if c.name == "verifier")
            os.kill(verifier.proc.pid, signal.SIGKILL)
            verifier.proc.wait()
            left = _outbox_bytes(var_dir)
            assert left > 0, "the verifier had delivered everything before it was killed: nothing to test"
            verifier.restart()
            await _until("the verifier listening again", lambda: _port_open(ports.verifier))
            for _ in range(100):  # the gateway reconnects to the new verifier
                try:
                    async with http.post(url + "/v1/verifications", json={"payload": texts[ids[0]]},
                                         headers={"Authorization": f"Bearer {checker}"}) as r:
                        if r.status == 200 and (await r.json())["result"] == "VALID":
                            answered[ids[0]] += 1
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            await asyncio.gather(*(verify(20) for _ in range(3)))
        await _until("the outbox delivered", lambda: _outbox_bytes(var_dir) == 0)

        store = await open_store(suite.store_uri)
        try:
            entries = {}
            for cred in ids:
                entries[cred] = [e for e in await store.credential_trail(regions[cred], cred, limit=10_000)
                                 if e["action"] == "verify"]
        finally:
            await store.close()
        # each credential's entries are the checks answered, and at most the ones the kill cut off (recorded,
        # their answer lost: counted in failed); a check delivered twice would be an entry more
        extra = 0
        for cred in ids:
            got = Counter(e["result"] for e in entries[cred])
            assert set(got) <= {"VALID"} and all(e["actor_org"] == ORG for e in entries[cred]), cred
            assert got["VALID"] >= answered[cred], cred  # 0 lost: every check answered is there
            extra += got["VALID"] - answered[cred]
        assert extra <= failed  # 0 duplicated
    finally:
        await asyncio.to_thread(suite.stop)
