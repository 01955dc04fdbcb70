"""Load figures against the real suite: separate processes on loopback, stopped afterwards.

- gateway single verifications at 64 connections (wrk), beside the transport floor;
- batch verification (1,000 payloads a request), per core of CPU the suite spent;
- issuance through the issuer's gRPC service with 64 concurrent clients.

Every gRPC link is TLS with mutual authentication, as in production: the suite's processes
use the development PKI ``start_suite_processes`` makes; the transport floor and the issuance
clients call with the gateway's certificate.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from ecert.cli.devsuite import Ports, start_suite_processes
from ecert.rpc.client import channel
from ecert.rpc.convert import principal_to_pb
from ecert.rpc.links import Links
from ecert.rpc.streams import StreamClient
from ecert.rules import apikeys
from ecert.rules.access import Principal
from ecert.runtime import pki
from ecert.store import open_store
from ecert.vocab import KEY_ROLES
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc
from testkit import photos
from testkit.ports import free_port
from testkit.samples import citizen_id, driving_licence

from . import pipeline

CONNECTIONS = 64
BENCH_QUOTAS = {f"ECERT_QUOTA_{role.upper()}_PER_{window}": str(10**9) for role in KEY_ROLES for window in ("MINUTE", "DAY")}
"""Quotas no load reaches: the keys' requests are still counted (what that costs is in the figures)."""
LOAD_ROUNDS = 3


def start_suite(prefix: str, **settings: str) -> tuple[Path, object, dict, Ports]:
    """The whole suite as processes (``make run``'s way) in a fresh temporary folder, on free ports,
    with fresh secrets and ``settings`` on top: ``(var_dir, suite, env, ports)``; stop it and remove the
    folder when done."""
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="WARNING",
               **BENCH_QUOTAS, **settings)
    ports = Ports(registry=free_port(), issuers={"CN-SH": free_port(), "CN-ZJ": free_port()},
                  verifier=free_port(), gateway=free_port())
    return var_dir, start_suite_processes(var_dir, ports, env=env), env, ports


async def issue_texts(http, gateway_url: str, requests: list[dict]) -> list[str]:
    """The EC1 texts of the credentials ``requests`` issue (POST /v1/credentials bodies), 50 at a time."""
    texts: list[str] = []

    async def one(body: dict) -> None:
        async with http.post(gateway_url + "/v1/credentials", json=body) as r:
            answer = await r.json()
            if r.status != 201:
                raise RuntimeError(f"issuing for the benchmark failed: {r.status} {answer}")
            texts.append(answer["qr_text"])

    for start in range(0, len(requests), 50):
        await asyncio.gather(*(one(body) for body in requests[start:start + 50]))
    return texts


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _lua(path: Path, url_path: str, key: str, bodies: list[str]) -> Path:
    quoted = ",\n".join(f"[==[{b}]==]" for b in bodies)
    path.write_text(f"""
local bodies = {{{quoted}}}
local i = 0
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {key}"}}
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "{url_path}", headers, bodies[i])
end
""")
    return path


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, script: Path, seconds: float, connections: int = CONNECTIONS) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True,
                         timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: float(v) * _UNIT_MS[u] for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", out)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non_2xx": int(errors.group(1)) if errors else 0}


async def _prepare(suite, n_credentials: int) -> tuple[str, list[str]]:
    store = await open_store(suite.store_uri)
    try:
        agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
        checker, _ = await apikeys.create_api_key(store, "traffic_police", "CN-JS")  # checks driving licences
        await photos.hold_sample_photos(store, ["CN-ZJ"])  # the photo driving_licence() names
    finally:
        await store.close()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {agency}"}) as http:
        texts = await issue_texts(http, suite.gateway_url, [
            {"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence(file_number=f"3301{i:08d}")}
            for i in range(n_credentials)])
        # warm the verifier's status-list cache
        async with http.post(suite.gateway_url + "/v1/verifications", json={"payload": texts[0]},
                             headers={"Authorization": f"Bearer {checker}"}) as r:
            assert (await r.json())["result"] == "VALID"
    return checker, texts


BATCH_ROUNDS = 6


async def _batch(suite, key: str, texts: list[str], seconds: float) -> dict:
    """Batches of 1,000 payloads, one after another, in rounds alternating with the raw
    signature check in this process (the suite idle meanwhile): the shared machine's speed
    drifts, so each round's ratio compares figures taken under the same conditions; medians."""
    payloads = [texts[i % len(texts)] for i in range(1000)]
    pids = [c.proc.pid for c in suite.children if c.name in ("gateway", "verifier")]
    raw = pipeline.raw_verify_call()
    rounds = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        async def run_once() -> None:
            async with http.post(suite.gateway_url + "/v1/verifications:batch", json={"payloads": payloads}) as r:
                results = (await r.json())["results"]
                assert len(results) == 1000 and results[0]["result"] == "VALID"
        await run_once()
        for _ in range(BATCH_ROUNDS):
            cpu0, t0, n = cpu_seconds(pids), time.perf_counter(), 0
            while time.perf_counter() - t0 < seconds / BATCH_ROUNDS:
                await run_once()
                n += 1000
            wall, cpu = time.perf_counter() - t0, cpu_seconds(pids) - cpu0
            raw_rate = pipeline.rate(raw, seconds / BATCH_ROUNDS)
            rounds.append((n / wall, n / cpu, raw_rate))
    return {"batch_verify_per_s": round(statistics.median(r[0] for r in rounds)),
            "batch_verify_per_s_per_core": round(statistics.median(r[1] for r in rounds)),
            "batch_raw_verify_per_s": round(statistics.median(r[2] for r in rounds)),
            "batch_ratio": round(statistics.median(r[1] / r[2] for r in rounds), 3)}


async def _issue(target: str, links: Links, seconds: float, concurrency: int = CONNECTIONS) -> dict:
    """64 concurrent clients issuing through the issuer's gRPC service, multiplexed over its
    issuance stream as the gateway does; each answer comes after the credential is synced to disk."""
    ch = channel(target, links, peer=pki.ISSUER)
    stub = issuer_pb2_grpc.IssuerServiceStub(ch)
    stream = StreamClient(stub.IssueStream, issuer_pb2.IssueStreamRequest, issuer_pb2.IssueStreamItem, links)
    principal = principal_to_pb(Principal("agency", "CN-ZJ"))
    # 500 different holders (as issuance is: one person's portrait on file is written once at a time),
    # each ID number agreeing with the sample's birth date and sex (an odd 17th digit: 男).
    reqs = [issuer_pb2.IssueCredentialRequest(
        principal=principal, type="cn.driving_licence",
        fields_json=json.dumps(driving_licence(id_number=citizen_id(f"33010619900307{seq:03d}")), ensure_ascii=False))
        for seq in range(1, 1000, 2)]
    await stream.call(reqs[0])
    n, stop = 0, time.perf_counter() + seconds

    async def client() -> None:
        nonlocal n
        while time.perf_counter() < stop:
            await stream.call(reqs[n % len(reqs)])
            n += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    rate = n / (time.perf_counter() - t0)
    await stream.close()
    await ch.close()
    return {"issue_per_s": round(rate)}


def measure(seconds: float = 5.0) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs Debian's wrk)")
    var_dir, suite, env, ports = start_suite("ecert-bench-")
    token = env["ECERT_INTERNAL_TOKEN"]
    floor = None
    try:
        checker, texts = asyncio.run(_prepare(suite, 300))
        bodies = [json.dumps({"payload": t}) for t in texts]
        script = _lua(var_dir / "verify.lua", "/v1/verifications", checker, bodies)
        floor_port = free_port()
        gateway_tls = pki.files(var_dir / pki.PKI_DIR, pki.GATEWAY)  # the floor calls as the gateway does
        floor_env = dict(env, ECERT_TLS_CA=str(gateway_tls.ca), ECERT_TLS_CERT=str(gateway_tls.cert),
                         ECERT_TLS_KEY=str(gateway_tls.key))
        floor = subprocess.Popen([sys.executable, "-m", "bench.floor", str(floor_port),
                                  f"127.0.0.1:{ports.verifier}"], env=floor_env,
                                 stdout=subprocess.DEVNULL, stderr=open(var_dir / "floor.log", "wb"))
        floor_url = f"http://127.0.0.1:{floor_port}/floor"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", floor_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        floor_script = _lua(var_dir / "floor.lua", "/floor", checker, bodies)
        gateway_url = suite.gateway_url + "/v1/verifications"
        wrk(gateway_url, script, 1)  # warm-up
        wrk(floor_url, floor_script, 1)
        # Alternating rounds, so gateway and floor see the same (shared, noisy) machine; medians.
        gws, fls = [], []
        for _ in range(LOAD_ROUNDS):
            gws.append(wrk(gateway_url, script, seconds / LOAD_ROUNDS))
            fls.append(wrk(floor_url, floor_script, seconds / LOAD_ROUNDS))
        floor.terminate()
        floor.wait(10)
        errors = sum(r["non_2xx"] for r in gws + fls)
        if errors:
            raise RuntimeError(f"{errors} error answers under load")

        def med(runs: list[dict], key: str) -> float:
            return statistics.median(r[key] for r in runs)

        out = {"gateway_rps": round(med(gws, "rps")), "gateway_p50_ms": med(gws, "p50_ms"),
               "gateway_p99_ms": med(gws, "p99_ms"), "floor_rps": round(med(fls, "rps")),
               "floor_p99_ms": med(fls, "p99_ms"),
               "gateway_ratio": round(statistics.median(g["rps"] / f["rps"] for g, f in zip(gws, fls)), 3)}
        out.update(asyncio.run(_batch(suite, checker, texts, seconds)))
        out.update(asyncio.run(_issue(f"127.0.0.1:{ports.issuers['CN-ZJ']}", Links.from_files(token, gateway_tls),
                                      seconds)))
        return out
    finally:
        if floor is not None and floor.poll() is None:
            floor.kill()
        suite.stop()
        if os.environ.get("ECERT_BENCH_KEEP"):
            print(f"kept {var_dir}", file=sys.stderr)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
