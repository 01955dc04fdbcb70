"""The photo library through the gateway against the real suite (separate processes on loopback).

- serving: a Shanghai hotel fetching a Zhejiang holder's portrait (``GET /v1/photos/{digest}``,
  a 358 × 441 JPEG): the gateway asks Zhejiang's issuer, which checks the credential and the
  role, reads the photo and records the access in the credential's trail; the gateway checks
  the bytes against the digest. 64 connections (wrk), every answer a 200;
- revalidation: the same with ``If-None-Match`` (304, the same checks and trail entry, no bytes);
- uploads: agencies filing portraits (``POST /v1/photos``, each decoded and re-encoded), 8 at once.

    python -m bench.photos [SECONDS]   # one JSON line
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import aiohttp

from ecert.imaging import portrait
from ecert.rules import apikeys
from ecert.store import open_store
from testkit import photos
from testkit.samples import SAMPLES

from .load import start_suite, wrk

UPLOADERS = 8


def _lua(path: Path, url_path: str, key: str, etag: str | None = None) -> Path:
    extra = f', ["If-None-Match"] = [==[{etag}]==]' if etag else ""
    path.write_text(f"""
local headers = {{["Authorization"] = "Bearer {key}"{extra}}}
request = function()
  return wrk.format("GET", [==[{url_path}]==], headers)
end
response = function(status, headers, body)
  if status ~= {304 if etag else 200} then
    error("photo answered " .. status)
  end
end
""")
    return path


async def _prepare(suite) -> tuple[str, str, str]:
    """Keys, a portrait filed in Zhejiang and a resident ID card naming it: (agency key, hotel key, photo path)."""
    store = await open_store(suite.store_uri)
    try:
        agency, _ = await apikeys.create_api_key(store, "agency", "CN-ZJ")
        hotel, _ = await apikeys.create_api_key(store, "hotel", "CN-SH")
    finally:
        await store.close()
    base = suite.gateway_url
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        as_agency = {"Authorization": f"Bearer {agency}"}
        async with http.post(base + "/v1/photos", data=photos.portrait(1, gps=True),
                             headers={**as_agency, "Content-Type": "image/jpeg"}) as r:
            filed = await r.json()
            if r.status != 201:
                raise RuntimeError(f"filing a portrait for the benchmark failed: {r.status} {filed}")
        async with http.post(base + "/v1/credentials", headers=as_agency, json={
                "region": "CN-ZJ", "type": "cn.resident_id",
                "fields": {**SAMPLES["cn.resident_id"], "photo": filed["digest"]}}) as r:
            card = await r.json()
            if r.status != 201:
                raise RuntimeError(f"issuing for the benchmark failed: {r.status} {card}")
        path = f"/v1/photos/{filed['digest']}?credential={card['id']}&region=CN-ZJ"
        async with http.get(base + path, headers={"Authorization": f"Bearer {hotel}"}) as r:  # warm the channels
            data = await r.read()
            if r.status != 200 or portrait.digest(data) != filed["digest"]:
                raise RuntimeError(f"the portrait was not served as filed: {r.status}")
    return agency, hotel, path


async def _uploads(base: str, agency: str, seconds: float) -> dict:
    pictures = [photos.portrait(100 + i) for i in range(32)]
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        headers = {"Authorization": f"Bearer {agency}", "Content-Type": "image/jpeg"}

        async def uploader(i: int) -> None:
            n = i
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with http.post(base + "/v1/photos", data=pictures[n % len(pictures)], headers=headers) as r:
                    await r.read()
                    if r.status not in (200, 201):
                        raise RuntimeError(f"an upload answered {r.status}")
                latencies.append(time.perf_counter() - t0)
                n += UPLOADERS

        t0 = time.perf_counter()
        await asyncio.gather(*(uploader(i) for i in range(UPLOADERS)))
        wall = time.perf_counter() - t0
    return {"photo_upload_per_s": round(len(latencies) / wall, 1),
            "photo_upload_p50_ms": round(statistics.median(latencies) * 1000, 1)}


def measure(seconds: float = 5.0) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs Debian's wrk)")
    var_dir, suite, _, _ = start_suite("ecert-bench-photos-")
    try:
        agency, hotel, path = asyncio.run(_prepare(suite))
        digest = path.split("/")[3].split("?")[0]
        served = wrk(suite.gateway_url + path, _lua(var_dir / "photo.lua", path, hotel), seconds)
        held = wrk(suite.gateway_url + path, _lua(var_dir / "photo-304.lua", path, hotel, f'"{digest}"'), seconds)
        if served["non_2xx"]:
            raise RuntimeError(f"{served['non_2xx']} photo answers were not 200")
        out = {"photo_serve_per_s": round(served["rps"]), "photo_serve_p50_ms": served["p50_ms"],
               "photo_serve_p99_ms": served["p99_ms"], "photo_not_modified_per_s": round(held["rps"])}
        out.update(asyncio.run(_uploads(suite.gateway_url, agency, seconds)))
        return out
    finally:
        suite.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)), flush=True)
