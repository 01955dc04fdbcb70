"""`make run` end to end: the real multi-process suite from ``python -m ecert.cli.devsuite``.

Starts it on free ports in a fresh working directory (so ``var/`` is new, as on a fresh machine),
makes keys with the ``ecert`` command against the store file it uses, issues and verifies a
credential over real HTTP, then presses Ctrl-C (SIGINT) and checks every child has exited.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path

import aiohttp
import pytest

from ecert.format.keys import SigningKey
from testkit.samples import driving_licence
from tests import forge

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 45


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
        async def banner() -> None:
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise AssertionError("devsuite exited before it was ready:\n" + "".join(output))
                output.append(line)
                if "Press Ctrl-C" in line:
                    return

        await asyncio.wait_for(banner(), START_TIMEOUT)
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

        # Keys made the documented way: the CLI's default store is the suite's var/ecert.db.
        agency = (await ecert_cli(tmp_path, env, "apikey", "create", "--role", "agency",
                                  "--region", "CN-ZJ")).splitlines()[-1]
        hotel = (await ecert_cli(tmp_path, env, "apikey", "create", "--role", "hotel")).splitlines()[-1]

        async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=15)) as http:
            async with http.get("/readyz") as r:
                assert r.status == 200, await r.text()
            async with http.post("/v1/credentials", headers={"Authorization": f"Bearer {agency}"},
                                 json={"region": "CN-ZJ", "type": "cn.driving_licence",
                                       "fields": driving_licence()}) as r:
                cred = await r.json()
                assert r.status == 201, cred
            assert cred["qr_text"].startswith("EC1:")
            async with http.post("/v1/verifications", headers={"Authorization": f"Bearer {hotel}"},
                                 json={"payload": cred["qr_text"], "purpose": "hotel check-in"}) as r:
                answer = await r.json()
                assert r.status == 200, answer
        assert answer["result"] == "VALID", answer
        assert answer["credential"]["id"] == cred["id"] and answer["status_checked"] is True
        assert set(answer["fields"]) == {"name", "id_number", "photo"}

        # With make run's defaults, a revocation and a key registered from outside reach the
        # verifier process within 30 s.
        admin = (await ecert_cli(tmp_path, env, "apikey", "create", "--role", "admin")).splitlines()[-1]
        outside = SigningKey.generate()
        outside_text = forge.sign(outside, forge.claims("CN-SH"))
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


def test_compose_file_is_consistent():
    """deploy/compose.yaml cannot be run here (no Docker engine): check its structure instead."""
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = doc["services"]
    assert set(services) == {"mongo", "registry", "issuer-sh", "issuer-zj", "verifier", "gateway"}
    assert services["mongo"]["image"] == "mongo:8"
    for name, svc in services.items():
        assert "healthcheck" in svc, name
        if name == "mongo":
            continue
        env = svc["environment"]
        assert env["ECERT_STORE_URI"] == "mongodb://mongo:27017/ecert", name
        assert env["ECERT_INTERNAL_TOKEN"].startswith("${ECERT_INTERNAL_TOKEN:?"), name
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
    for name, region in (("issuer-sh", "CN-SH"), ("issuer-zj", "CN-ZJ")):
        env = services[name]["environment"]
        assert env["ECERT_REGION"] == region
        assert env["ECERT_ISSUER_LISTEN"].startswith("0.0.0.0:")
        assert env["ECERT_ISSUER_ADVERTISE"] == f"{name}:{env['ECERT_ISSUER_LISTEN'].rsplit(':', 1)[1]}"
        assert env["ECERT_SIGNING_KEY_PASSPHRASE"].startswith("${ECERT_SIGNING_KEY_PASSPHRASE:?")
    assert services["registry"]["environment"]["ECERT_ROOT_KEY_PASSPHRASE"].startswith("${")
    verifier = services["verifier"]
    assert "registry-var:/run/ecert-registry:ro" in verifier["volumes"]
    assert verifier["environment"]["ECERT_ROOT_PUBLIC_KEY"] == "/run/ecert-registry/registry/root-public.pem"
    assert any(str(p).endswith(":8080") for p in services["gateway"]["ports"])
    # Every package the project ships is copied into the image.
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for package in ("ecert", "ecertpb", "services", "gateway"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "COPY pyproject.toml setup.py" in dockerfile  # setup.py builds the optional C speed-up
    assert "USER ecert" in dockerfile and "ENV ECERT_INTERNAL_TOKEN" not in dockerfile
