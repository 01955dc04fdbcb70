"""`make run` end to end: the real multi-process suite from ``python -m ecert.cli.devsuite``.

Starts it on free ports in a fresh working directory (so ``var/`` is new, as on a fresh machine),
makes keys with the ``ecert`` command against the store file it uses, issues and verifies a
credential over real HTTP, kills one child (kill -9) and sees the launcher start it again, then
presses Ctrl-C (SIGINT) and checks every child has exited. The launcher's back-off and log
appending are also tested alone, without the suite.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import sys
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.cli import children
from ecert.cli.children import Child
from ecert.format import keys
from ecert.format.keys import SigningKey
from testkit import photos
from testkit.ports import free_ports
from testkit.samples import SAMPLES
from tests import forge

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 45


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def banner(proc: asyncio.subprocess.Process, output: list[str]) -> None:
    """The devsuite's lines into ``output`` until its banner's last ("Press Ctrl-C"): it is ready."""
    while True:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise AssertionError("devsuite exited before it was ready:\n" + "".join(output))
        output.append(line)
        if "Press Ctrl-C" in line:
            return


async def ecert_cli(cwd: Path, env: dict, *argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ecert.cli", *argv, cwd=cwd, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_devsuite_runs_the_suite_and_ctrl_c_stops_it(tmp_path):
    registry, issuer_sh, issuer_zj, verifier, gateway = free_ports(5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
    env.update(PYTHONPATH=str(ROOT), ECERT_REGISTRY_PORT=str(registry), ECERT_ISSUER_PORT_CN_SH=str(issuer_sh),
               ECERT_ISSUER_PORT_CN_ZJ=str(issuer_zj), ECERT_VERIFIER_PORT=str(verifier),
               ECERT_GATEWAY_PORT=str(gateway))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ecert.cli.devsuite", cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output: list[str] = []
    pids: list[int] = []
    try:
        await asyncio.wait_for(banner(proc, output), START_TIMEOUT)
        text = "".join(output)
        pids = [int(p) for p in re.findall(r"pid (\d+)", text)]
        assert len(pids) == 5, text
        url = f"http://127.0.0.1:{gateway}"
        assert url in text and "ecert apikey create" in text and "development secrets" in text.lower()

        var = tmp_path / "var"
        assert (var / "ecert.db").is_file() and (var / "registry" / "root-public.pem").is_file()
        assert stat.S_IMODE((var / "dev-secrets.env").stat().st_mode) == 0o600
        assert {p.name for p in (var / "log").iterdir()} >= {
            "registry.log", "issuer-CN-SH.log", "issuer-CN-ZJ.log", "verifier.log", "gateway.log"}
        # Every gRPC link is TLS with mutual authentication (the development PKI in var/pki/): plaintext is refused.
        assert {"ca.pem", "registry.pem", "issuer-CN-SH.pem", "issuer-CN-ZJ.pem", "verifier.pem", "gateway.pem"} <= {
            p.name for p in (var / "pki").iterdir()}
        for port in (registry, issuer_sh, verifier):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE

        # Keys made the documented way: the CLI's default store is the suite's var/ecert.db.
        agency = (await ecert_cli(tmp_path, env, "apikey", "create", "--role", "agency",
                                  "--region", "CN-ZJ")).splitlines()[-1]
        hotel = (await ecert_cli(tmp_path, env, "apikey", "create", "--role", "hotel")).splitlines()[-1]

        async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=15)) as http:
            async with http.get("/readyz") as r:
                assert r.status == 200, await r.text()
            async with http.post("/v1/photos", data=photos.portrait(1), headers={
                    "Authorization": f"Bearer {agency}", "Content-Type": "image/jpeg"}) as r:
                assert r.status == 201, await r.text()
                resident = {**SAMPLES["cn.resident_id"], "photo": (await r.json())["digest"]}  # the portrait filed
            async with http.post("/v1/credentials", headers={"Authorization": f"Bearer {agency}"},
                                 json={"region": "CN-ZJ", "type": "cn.resident_id", "fields": resident}) as r:
                cred = await r.json()
                assert r.status == 201, cred
            assert cred["qr_text"].startswith("EC1:")
            async with http.post("/v1/verifications", headers={"Authorization": f"Bearer {hotel}"},
                                 json={"payload": cred["qr_text"], "purpose": "hotel_check_in"}) as r:
                answer = await r.json()
                assert r.status == 200, answer
            # The scanner page pins the root key make run gave the verifier (var/registry/root-public.pem).
            async with http.get("/scan/root-key.pem") as r:
                assert r.status == 200, await r.text()
                served = await r.read()
        assert answer["result"] == "VALID", answer
        assert keys.public_from_pem(served).spki == keys.public_from_pem(
            (var / "registry" / "root-public.pem").read_bytes()).spki
        assert answer["credential"]["id"] == cred["id"] and answer["status_checked"] is True
        assert {"name", "id_number", "photo"} <= set(answer["fields"]) and answer["purpose"] == "hotel_check_in"

        # With make run's defaults, a revocation and a key registered from outside reach the
        # verifier process within 30 s.
        admin = (await ecert_cli(tmp_path, env, "apikey", "create", "--role", "admin")).splitlines()[-1]
        outside = SigningKey.generate()
        outside_text = forge.sign(outside, forge.claims("CN-SH", type_id="cn.resident_id",
                                                        fields=SAMPLES["cn.resident_id"]))
        async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=15)) as http:
            async with http.post(f"/v1/credentials/{cred['id']}:revoke",
                                 headers={"Authorization": f"Bearer {agency}"}) as r:
                assert r.status == 200 and (await r.json())["status"] == "revoked"
            async with http.post("/v1/regions/CN-SH/keys", headers={"Authorization": f"Bearer {admin}"},
                                 json={"alg": "ES256", "spki": forge.spki_b64(outside)}) as r:
                assert r.status == 201, await r.text()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            results: dict = {}
            while loop.time() < deadline:
                for name, text in (("revoked", cred["qr_text"]), ("outside", outside_text)):
                    async with http.post("/v1/verifications", headers={"Authorization": f"Bearer {hotel}"},
                                         json={"payload": text}) as r:
                        results[name] = (await r.json())["result"]
                if results == {"revoked": "REVOKED", "outside": "VALID"}:
                    break
                await asyncio.sleep(1)
            assert results == {"revoked": "REVOKED", "outside": "VALID"}

        # Everything in var/ is private: folders 0700, files 0600 (the store, its -wal and -shm too).
        assert {"ecert.db", "ecert.db-wal", "ecert.db-shm"} <= {p.name for p in var.iterdir()}
        assert mode(var) == 0o700
        assert {str(p.relative_to(var)): mode(p) for p in var.rglob("*")} == {
            str(p.relative_to(var)): 0o700 if p.is_dir() else 0o600 for p in var.rglob("*")}

        # kill -9 one child: the launcher says so, starts that child alone again (its log appended
        # to), and the suite answers again.
        zj_pid = int(re.search(r"issuer-CN-ZJ\s+\S+\s+pid (\d+)", "".join(output)).group(1))
        os.kill(zj_pid, signal.SIGKILL)

        async def restarted() -> int:
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise AssertionError("devsuite exited instead of restarting:\n" + "".join(output))
                output.append(line)
                found = re.search(r"issuer-CN-ZJ restarted \(pid (\d+)", line)
                if found:
                    return int(found.group(1))

        new_pid = await asyncio.wait_for(restarted(), 20)
        pids.append(new_pid)
        told = "".join(output)
        assert new_pid != zj_pid and "issuer-CN-ZJ exited with code -9" in told and "restarting it in 1 s" in told
        async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=15)) as http:
            deadline = loop.time() + 30
            while True:
                async with http.post("/v1/credentials", headers={"Authorization": f"Bearer {agency}"},
                                     json={"region": "CN-ZJ", "type": "cn.resident_id", "fields": resident}) as r:
                    again = await r.json()
                    if r.status == 201 or loop.time() > deadline:
                        break
                await asyncio.sleep(0.5)
            assert r.status == 201, again
            async with http.post("/v1/verifications", headers={"Authorization": f"Bearer {hotel}"},
                                 json={"payload": again["qr_text"]}) as r:
                assert (await r.json())["result"] == "VALID"
        log = (var / "log" / "issuer-CN-ZJ.log").read_text()
        assert log.count("===== issuer-CN-ZJ started") == 2 and log.count("listening on") == 2, log
        assert log.index("listening on") < log.rindex("===== issuer-CN-ZJ started")  # the first run kept
        assert mode(var / "log" / "issuer-CN-ZJ.log") == 0o600

        proc.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(proc.stdout.read(), 20)).decode()
        assert await asyncio.wait_for(proc.wait(), 5) == 0, rest
        assert "All processes stopped" in rest, rest
        await asyncio.sleep(0.1)
        assert [p for p in pids if alive(p)] == [], rest
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except asyncio.TimeoutError:
                proc.kill()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


class FakeProc:
    """A child process as the back-off sees it: alive until ``exit``."""

    pid = 4242

    def __init__(self):
        self.returncode = None

    def poll(self):
        return self.returncode


def test_a_dead_child_is_restarted_after_a_growing_back_off(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(children, "popen", lambda *a: started.append(a) or FakeProc())
    c = Child("verifier", FakeProc(), tmp_path / "verifier.log", "127.0.0.1:1", "services.verifier", {}, 0.0)
    assert c.supervise(5.0) is None  # alive: nothing to do
    now, delays = 10.0, []
    for _ in range(7):  # dies at once after each start: 1, 2, 4 ... up to 30 s
        c.proc.returncode = 1
        said = c.supervise(now)
        assert said.startswith("verifier exited with code 1") and "restarting it in" in said
        delays.append(c.delay)
        assert c.supervise(now + c.delay - 0.1) is None and len(started) == len(delays) - 1
        now += c.delay
        assert c.supervise(now) == f"verifier restarted (pid 4242, restart {len(delays)})."
        now += 1
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    c.proc.returncode = -9  # after running a while, the back-off starts again from 1 s
    assert "restarting it in 1 s" in c.supervise(now + children.RESTART_RESET_AFTER)
    assert started[0] == ("verifier", "services.verifier", {}, tmp_path / "verifier.log")


def test_a_restarted_child_s_log_is_appended_to(tmp_path):
    log = tmp_path / "zen.log"
    log.write_text("the traceback of the crash before\n")
    c = Child.start("zen", "this", dict(os.environ), log, "")  # ``python -m this`` prints and exits
    assert c.proc.wait(30) == 0
    c.restart()
    assert c.proc.wait(30) == 0
    text = log.read_text()
    assert text.startswith("the traceback of the crash before\n")
    assert text.count("===== zen started ") == 2 and text.count("Beautiful is better than ugly.") == 2
    assert re.search(r"===== zen started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} =====", text)
    assert mode(log) == 0o600


async def test_make_run_gives_the_verifier_the_registry_s_current_version_as_its_minimum(tmp_path):
    """A verifier started by make run refuses any trust list older than the one the registry has
    published by then (an old genuine list replayed to a cold start): the minimum it is given is the
    store's newest version, read even from inside an event loop."""
    from ecert.cli.devsuite import current_trust_version
    from ecert.store import default_uri, open_store

    uri = default_uri(tmp_path)
    assert current_trust_version(uri) == 0
    store = await open_store(uri)
    try:
        for version in (1, 2, 7):
            await store.save_trust_list(version, "AA==", 1_800_000_000, 1_800_086_400)
    finally:
        await store.close()
    assert current_trust_version(uri) == 7
