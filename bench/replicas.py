"""Replicas: gateway throughput with one verifier process, with two, and with two gateways on two.

Three copies of the suite run side by side (``make run``'s way, :func:`ecert.cli.devsuite.start_suite_processes`):
one gateway and one verifier (``ECERT_VERIFIERS=1``), one gateway and two verifiers
(``ECERT_VERIFIERS=2``: the gateway spreads the calls, :mod:`gateway.replicas`), and two gateway
processes on one port (``ECERT_GATEWAYS=2``, ``SO_REUSEPORT``) with two verifiers. Single
verifications at 64 connections (wrk) go to each in turn, round after round, so that every
configuration sees the same shared, drifting machine; the figures are the medians, each ratio the
median of the rounds' ratios with its lowest and highest (the spread). The copies not being measured
sit idle (their health checks: one small call a second).

On a machine of two cores the one gateway process is already most of what the machine can give: a
second verifier takes the verifier's share of the work off the same cores, it cannot add cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

from ecert.cli.devsuite import Ports, start_suite_processes
from testkit.ports import free_span

from . import load

ROUNDS = 5
CONFIGS = (("1x1", {"ECERT_VERIFIERS": "1"}), ("1x2", {"ECERT_VERIFIERS": "2"}),
           ("2x2", {"ECERT_VERIFIERS": "2", "ECERT_GATEWAYS": "2"}))
"""Each configuration: its name (gateways x verifiers) and its settings."""


def _start(name: str, settings: dict[str, str]):
    var_dir = Path(tempfile.mkdtemp(prefix=f"ecert-bench-replicas-{name}-"))
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="WARNING",
               **load.BENCH_QUOTAS, **settings)
    ports = Ports(registry=load.free_port(), issuers={"CN-SH": load.free_port(), "CN-ZJ": load.free_port()},
                  verifier=free_span(int(settings.get("ECERT_VERIFIERS", "1"))), gateway=load.free_port())
    return var_dir, start_suite_processes(var_dir, ports, env=env)


def _calls(url: str) -> dict[str, float]:
    """Calls the gateway answering this scrape gave each verifier replica."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return {t: float(v) for t, v in re.findall(r'^ecert_gateway_verifier_calls_total\{target="([^"]+)"\} (\S+)$',
                                               text, re.M)}


def measure(seconds: float = 5.0) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs Debian's wrk)")
    started = []
    try:
        suites = {}
        for name, settings in CONFIGS:
            var_dir, suite = _start(name, settings)
            started.append((var_dir, suite))
            checker, texts = asyncio.run(load._prepare(suite, 100))
            script = load._lua(var_dir / "verify.lua", "/v1/verifications", checker,
                               [json.dumps({"payload": t}) for t in texts])
            pids = {kind: [c.proc.pid for c in suite.children if c.name.startswith(kind)] for kind in ("gateway", "verifier")}
            suites[name] = (suite.gateway_url, script, pids)
            load.wrk(suite.gateway_url + "/v1/verifications", script, 1)  # warm-up
        runs: dict[str, list[dict]] = {name: [] for name, _ in CONFIGS}
        length = max(2.0, seconds / ROUNDS)
        for _ in range(ROUNDS):
            for name, (url, script, pids) in suites.items():
                cpu0 = {kind: load.cpu_seconds(p) for kind, p in pids.items()}
                run = load.wrk(url + "/v1/verifications", script, length)
                n = run["rps"] * round(length)  # wrk runs whole seconds
                for kind, p in pids.items():  # CPU spent per request, µs: where the time goes
                    run[f"{kind}_us"] = (load.cpu_seconds(p) - cpu0[kind]) / n * 1e6
                runs[name].append(run)
        errors = sum(r["non_2xx"] for rs in runs.values() for r in rs)
        if errors:
            raise RuntimeError(f"{errors} error answers under load")
        calls = sorted(_calls(suites["1x2"][0]).values())
        out: dict = {}
        for name, rs in runs.items():
            out[f"replicas_{name}_rps"] = round(statistics.median(r["rps"] for r in rs))
            out[f"replicas_{name}_p99_ms"] = statistics.median(r["p99_ms"] for r in rs)
            for kind in ("gateway", "verifier"):
                out[f"replicas_{name}_{kind}_cpu_us"] = round(statistics.median(r[f"{kind}_us"] for r in rs), 1)
        for name in ("1x2", "2x2"):
            ratios = [b["rps"] / a["rps"] for a, b in zip(runs["1x1"], runs[name])]
            out[f"replicas_{name}_ratio"] = round(statistics.median(ratios), 3)
            out[f"replicas_{name}_ratio_low"] = round(min(ratios), 3)
            out[f"replicas_{name}_ratio_high"] = round(max(ratios), 3)
        out["replicas_1x2_busiest_share"] = round(calls[-1] / sum(calls), 3) if calls and sum(calls) else None
        return out
    finally:
        for var_dir, suite in started:
            suite.stop()
            if os.environ.get("ECERT_BENCH_KEEP"):
                print(f"kept {var_dir}", file=sys.stderr)
            else:
                shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)))
