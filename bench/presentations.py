"""Show codes through the gateway against the real suite (separate processes on loopback).

One round trip is what a hotel desk and a holder's app do: the issuing agency makes a code
(``POST /v1/credentials/{id}/presentations``, CN-ZJ), then a Shanghai hotel verifies it
(``POST /v1/verifications``: the verifier checks it offline and has Zhejiang's issuer resolve it,
which uses it up and records the resolution in the credential's trail). ``CLIENTS`` of them at
once, each waiting for its answer; every answer must be VALID.

    python -m bench.presentations [SECONDS]   # one JSON line: presentation_round_trips_per_s, p50, p99
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import time

import aiohttp

from ecert.rules import apikeys
from ecert.store import open_store
from testkit import photos
from testkit.samples import SAMPLES

from .load import start_suite

CLIENTS = 16
CREDENTIALS = 32


async def _round_trips(suite, seconds: float) -> dict:
    store = await open_store(suite.store_uri)
    try:
        await photos.hold_sample_photos(store, ["CN-ZJ"])  # the portrait the sample fields name
        agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
        hotel, _ = await apikeys.create_api_key(store, "hotel", "CN-SH")
    finally:
        await store.close()
    base = suite.gateway_url
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        as_agency, as_hotel = {"Authorization": f"Bearer {agency}"}, {"Authorization": f"Bearer {hotel}"}
        ids = []
        for _ in range(CREDENTIALS):
            async with http.post(base + "/v1/credentials", headers=as_agency, json={
                    "region": "CN-ZJ", "type": "cn.resident_id", "fields": SAMPLES["cn.resident_id"]}) as r:
                body = await r.json()
                if r.status != 201:
                    raise RuntimeError(f"issuing for the benchmark failed: {r.status} {body}")
                ids.append(body["id"])

        async def once(cred_id: str) -> float:
            t0 = time.perf_counter()
            async with http.post(f"{base}/v1/credentials/{cred_id}/presentations", headers=as_agency,
                                 json={"purpose": "hotel_check_in"}) as r:
                code = await r.json()
                if r.status != 201:
                    raise RuntimeError(f"making a show code failed: {r.status} {code}")
            async with http.post(base + "/v1/verifications", headers=as_hotel, json={"payload": code["token"]}) as r:
                answer = await r.json()
                if answer.get("result") != "VALID":
                    raise RuntimeError(f"a show code did not verify: {answer.get('result')}")
            return time.perf_counter() - t0

        for cred_id in ids[:4]:  # warm-up: channels, the verifier's trust list, the issuers' types
            await once(cred_id)
        latencies: list[float] = []
        stop = time.perf_counter() + seconds

        async def client(i: int) -> None:
            n = i
            while time.perf_counter() < stop:
                latencies.append(await once(ids[n % len(ids)]))
                n += CLIENTS

        t0 = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {"presentation_round_trips_per_s": round(len(latencies) / wall),
            "presentation_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "presentation_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1)}


def measure(seconds: float = 5.0) -> dict:
    var_dir, suite, _, _ = start_suite("ecert-bench-presentations-")
    try:
        return asyncio.run(_round_trips(suite, seconds))
    finally:
        suite.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)), flush=True)
