"""Quotas and the failed-authentication limit as an operator sees them, on ``make run``'s processes
(free ports, a fresh folder) plus a second gateway process over the same store:

- 2,000 requests on one hotel key (600 a minute by default), sent alternately to the two gateways:
  how many are served (the quota is shared through the store: about 600, plus at most what one
  process admits within a sync interval), how many answered 429 ``QUOTA_EXCEEDED``;
- 1,000 wrong keys from one address: how many are looked at (401) before the address is refused (429);
- requests per second through one gateway on a key with no quota left to spend (``admin``) and with
  a quota being counted (``hotel`` with a high limit of its own), alternating rounds: the cost of counting.

``ECERT_BENCH_ONLY=quotas .venv/bin/python -m bench``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import aiohttp

from ecert.cli.children import Child
from ecert.cli.devsuite import Ports, start_suite_processes
from ecert.rules import apikeys
from ecert.store import open_store
from testkit.ports import free_port as _free_port


def _ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def _run(seconds: float) -> dict:
    env = dict(os.environ, ECERT_INTERNAL_TOKEN=secrets.token_hex(16), ECERT_ROOT_KEY_PASSPHRASE=secrets.token_hex(8),
               ECERT_SIGNING_KEY_PASSPHRASE=secrets.token_hex(8), ECERT_LOG_LEVEL="WARNING")
    ports = Ports(registry=_free_port(), issuers={"CN-SH": _free_port(), "CN-ZJ": _free_port()},
                  verifier=_free_port(), gateway=_free_port())
    var = Path(tempfile.mkdtemp(prefix="ecert-bench-quotas-")) / "var"
    suite = await asyncio.to_thread(start_suite_processes, var, ports, env=env)
    second = None
    try:
        gw = next(c for c in suite.children if c.name == "gateway")
        port2 = _free_port()
        second = Child.start("gateway-2", gw.module, dict(gw.env, ECERT_GATEWAY_PORT=str(port2)),
                             var / "log" / "gateway-2.log", f"http://127.0.0.1:{port2}")
        url2 = f"http://127.0.0.1:{port2}"
        await asyncio.to_thread(_ready, url2)
        store = await open_store(suite.store_uri)
        try:
            hotel, _ = await apikeys.create_api_key(store, "hotel", org="Bench hotel")
            admin, _ = await apikeys.create_api_key(store, "admin", org="Bench admin")
            counted, _ = await apikeys.create_api_key(store, "hotel", org="Bench hotel 2",
                                                      quota={"per_minute": 10**6, "per_day": 10**8})
        finally:
            await store.close()
        out: dict = {}
        async with aiohttp.ClientSession() as http:
            async def get(url: str, key: str) -> int:
                async with http.get(url + "/v1/purposes", headers={"Authorization": f"Bearer {key}"}) as r:
                    await r.read()
                    return r.status

            urls = (suite.gateway_url, url2)
            statuses = Counter([await get(urls[i % 2], hotel) for i in range(2000)])
            out["quota_two_gateways_served"] = statuses[200]
            out["quota_two_gateways_refused"] = statuses[429]
            wrong = Counter([await get(suite.gateway_url, "ek_" + secrets.token_urlsafe(32)) for _ in range(1000)])
            out["auth_wrong_keys_looked_at"] = wrong[401]
            out["auth_wrong_keys_refused"] = wrong[429]

            # the cost of counting a quota: alternating rounds, ratio of the rates
            async def rate(key: str) -> float:
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < seconds / 5:
                    await asyncio.gather(*(get(url2, key) for _ in range(20)))
                    n += 20
                return n / (time.perf_counter() - t0)

            ratios = []
            for _ in range(5):
                free, count = await rate(admin), await rate(counted)
                ratios.append(count / free)
            out["quota_counted_rate_ratio"] = round(statistics.median(ratios), 3)
            out["quota_counted_rate_ratio_spread"] = [round(min(ratios), 3), round(max(ratios), 3)]
        return out
    finally:
        if second is not None and second.proc.poll() is None:
            second.proc.terminate()
            second.proc.wait(10)
        suite.stop()


def measure(seconds: float) -> dict:
    return asyncio.run(_run(seconds))
