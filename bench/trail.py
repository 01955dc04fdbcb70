"""What the trail costs: single and batch verification with every check recorded and delivered to its
region's trail, against the same with the verifier's trail off (``ECERT_TRAIL=0``).

Two copies of the suite run side by side (separate processes, var folders and ports), one with the
trail and one without, each with its own credentials; rounds alternate between them so both see
the same (shared, noisy) machine, and the figures are medians. A round with the trail ends only
once its verifier's outbox is delivered (every check in its region's chain): the time that takes
counts against it, so the background work is part of the figure, not left to the next round.

``python -m bench.trail [SECONDS]`` prints one JSON line (``make bench`` includes it);
``ECERT_BENCH_TRAIL_DEBUG=1`` prints each round (its rate, its delivery time, CPU a request).

The figures: ``trail_single_ratio`` and ``trail_batch_ratio`` are the rates with the trail over those
without, the delivery time counted; ``*_cpu_ratio`` the same per CPU second of all the suite's
processes (the issuer's appends included); ``trail_batch_per_core_ratio`` per CPU second of the
gateway and the verifier, as ``batch_verify_per_s_per_core``; ``trail_*_issuer_us`` the issuing
region's CPU (its issuer process, store thread included) per check recorded. On one machine the issuing region's
appends share the cores with the verifier; in a deployment they run on the region's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import aiohttp

from ecert.rules import apikeys
from ecert.store import open_store
from testkit.samples import SAMPLES

from .load import _lua, cpu_seconds, issue_texts, start_suite, wrk

ROUNDS = 4
DRAIN_TIMEOUT = 60.0
CHECKER_ORG = "上海示例供应链管理有限公司"


async def _prepare(suite, n_credentials: int) -> tuple[str, list[str]]:
    """Business licences issued in Zhejiang, checked by an integrator (its default purpose) whose key
    names its organisation, as the trail records it. (A type without a portrait: the figure is the
    trail's, whatever the photo library holds.)"""
    store = await open_store(suite.store_uri)
    try:
        agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
        checker, _ = await apikeys.create_api_key(store, "integrator", org=CHECKER_ORG)
    finally:
        await store.close()
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {agency}"}) as http:
        texts = await issue_texts(http, suite.gateway_url, [
            {"region": "CN-ZJ", "type": "cn.business_licence",
             "fields": {**SAMPLES["cn.business_licence"], "name": f"浙江示例{i:04d}科技有限公司"}}
            for i in range(n_credentials)])
        async with http.post(suite.gateway_url + "/v1/verifications", json={"payload": texts[0]},
                             headers={"Authorization": f"Bearer {checker}"}) as r:
            assert (await r.json())["result"] == "VALID"  # and the status list cached
    return checker, texts


def _outbox_bytes(var_dir: Path) -> int:
    """Bytes the suite's verifier recorded and has not seen acknowledged (its files are emptied then)."""
    folder = var_dir / "verifier" / "outbox"
    return sum(p.stat().st_size for p in folder.rglob("*.log")) if folder.is_dir() else 0


def _drain(var_dir: Path) -> float:
    """Seconds until the outbox is delivered."""
    t0 = time.perf_counter()
    while _outbox_bytes(var_dir) and time.perf_counter() - t0 < DRAIN_TIMEOUT:
        time.sleep(0.01)
    if _outbox_bytes(var_dir):
        raise RuntimeError("the verifier's outbox was not delivered within a minute")
    return time.perf_counter() - t0


def _start(label: str, trail: bool) -> tuple:
    var_dir, suite, _, _ = start_suite(f"ecert-bench-trail-{label}-", ECERT_TRAIL="1" if trail else "0")
    return var_dir, suite


async def _batch_round(suite, key: str, payloads: list[str], seconds: float) -> tuple[int, float, float]:
    """Batches for ``seconds``: (payloads, wall seconds, CPU seconds of gateway + verifier)."""
    pids = [c.proc.pid for c in suite.children if c.name in ("gateway", "verifier")]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        cpu0, t0, n = cpu_seconds(pids), time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            async with http.post(suite.gateway_url + "/v1/verifications:batch", json={"payloads": payloads}) as r:
                results = (await r.json())["results"]
                assert len(results) == len(payloads) and results[0]["result"] == "VALID"
            n += len(payloads)
        return n, time.perf_counter() - t0, cpu_seconds(pids) - cpu0


async def _entries(store_uri: str) -> int:
    store = await open_store(store_uri)
    try:
        heads = [await store.trail_head(region) for region in ("CN-SH", "CN-ZJ")]
        return sum(h["seq"] for h in heads if h)
    finally:
        await store.close()


def measure(seconds: float = 5.0) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs Debian's wrk)")
    on_dir, on = _start("on", True)
    off_dir, off = _start("off", False)
    try:
        runs = {}
        for name, suite, var_dir in (("on", on, on_dir), ("off", off, off_dir)):
            hotel, texts = asyncio.run(_prepare(suite, 300))
            script = _lua(var_dir / "verify.lua", "/v1/verifications", hotel,
                          [json.dumps({"payload": t}) for t in texts])
            runs[name] = (suite, var_dir, hotel, texts, script)
            wrk(suite.gateway_url + "/v1/verifications", script, 1)  # warm-up
        _drain(on_dir)
        entries_before = asyncio.run(_entries(on.store_uri))
        checks = 0
        single: dict[str, list[float]] = {"on": [], "off": []}
        single_cpu: dict[str, list[float]] = {"on": [], "off": []}
        issuer_us: dict[str, list[float]] = {"single": [], "batch": []}  # the issuing region's CPU a check
        batch: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        per_round = max(1, round(seconds / ROUNDS))  # wrk runs whole seconds
        for i in range(ROUNDS):
            order = ("on", "off") if i % 2 == 0 else ("off", "on")
            for name in order:
                suite, var_dir, hotel, texts, script = runs[name]
                everyone = [c.proc.pid for c in suite.children]
                issuers = [c.proc.pid for c in suite.children if c.name.startswith("issuer")]
                cpu0, issuer0 = cpu_seconds(everyone), cpu_seconds(issuers)
                r = wrk(suite.gateway_url + "/v1/verifications", script, per_round)
                if r["non_2xx"]:
                    raise RuntimeError(f"{r['non_2xx']} error answers under load")
                wait = _drain(var_dir) if name == "on" else 0.0
                cpu = cpu_seconds(everyone) - cpu0
                if os.environ.get("ECERT_BENCH_TRAIL_DEBUG"):
                    print(f"single {name}: {r['rps']:.0f} req/s, drained in {wait:.3f} s, "
                          f"{cpu / (r['rps'] * per_round) * 1e6:.0f} us CPU a request", file=sys.stderr)
                n = r["rps"] * per_round
                if name == "on":
                    issuer_us["single"].append((cpu_seconds(issuers) - issuer0) / n * 1e6)
                single[name].append(n / (per_round + wait))
                single_cpu[name].append(n / cpu)
                if name == "on":
                    checks += round(n)
            for name in order:
                suite, var_dir, hotel, texts, script = runs[name]
                everyone = [c.proc.pid for c in suite.children]
                issuers = [c.proc.pid for c in suite.children if c.name.startswith("issuer")]
                payloads = [texts[j % len(texts)] for j in range(1000)]
                cpu0, issuer0 = cpu_seconds(everyone), cpu_seconds(issuers)
                n, wall, cpu = asyncio.run(_batch_round(suite, hotel, payloads, per_round))
                wait = _drain(var_dir) if name == "on" else 0.0
                all_cpu = cpu_seconds(everyone) - cpu0
                if os.environ.get("ECERT_BENCH_TRAIL_DEBUG"):
                    print(f"batch {name}: {n / wall:.0f} /s, drained in {wait:.3f} s, "
                          f"{all_cpu / n * 1e6:.0f} us CPU a payload", file=sys.stderr)
                batch[name].append((n / (wall + wait), n / cpu, n / all_cpu))
                if name == "on":
                    checks += n
                    issuer_us["batch"].append((cpu_seconds(issuers) - issuer0) / n * 1e6)
        recorded = asyncio.run(_entries(on.store_uri)) - entries_before
        med = statistics.median
        out = {
            "trail_single_rps": round(med(single["on"])), "trail_off_single_rps": round(med(single["off"])),
            "trail_single_ratio": round(med(a / b for a, b in zip(single["on"], single["off"])), 3),
            "trail_single_cpu_ratio": round(med(a / b for a, b in zip(single_cpu["on"], single_cpu["off"])), 3),
            "trail_batch_per_s": round(med(r[0] for r in batch["on"])),
            "trail_off_batch_per_s": round(med(r[0] for r in batch["off"])),
            "trail_batch_ratio": round(med(a[0] / b[0] for a, b in zip(batch["on"], batch["off"])), 3),
            "trail_batch_per_core_ratio": round(med(a[1] / b[1] for a, b in zip(batch["on"], batch["off"])), 3),
            "trail_batch_cpu_ratio": round(med(a[2] / b[2] for a, b in zip(batch["on"], batch["off"])), 3),
            "trail_single_issuer_us": round(med(issuer_us["single"]), 1),
            "trail_batch_issuer_us": round(med(issuer_us["batch"]), 1),
            # wrk's count is its estimate (requests/s x seconds): the store's is the truth
            "trail_entries_recorded": recorded, "trail_checks_made": checks,
        }
        return out
    finally:
        on.stop()
        off.stop()
        if os.environ.get("ECERT_BENCH_KEEP"):
            print(f"kept {on_dir} and {off_dir}", file=sys.stderr)
        else:
            shutil.rmtree(on_dir, ignore_errors=True)
            shutil.rmtree(off_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)), flush=True)
