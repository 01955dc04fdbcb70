"""Verifier memory and rate with a large trust list (10,000 keys) and a status list of
1,000,000 entries, against the same pipeline on small ones. Run in its own process
(``python -m bench.large SECONDS``) so its memory figure is its own."""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from pathlib import Path

from ecert.format import statuslist, trustlist
from ecert.format.keys import SigningKey
from ecert.rules import verify
from ecert.rules.trust import TrustList

from .pipeline import ROUNDS, fixture, rate

N_KEYS = 10_000
N_STATUS = 1_000_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _grow(trust: trustlist.TrustList, root: SigningKey, key: SigningKey, now: int) -> TrustList:
    """The same trust list with N_KEYS keys in 34 regions, re-signed and re-parsed as a verifier would."""
    payload = dict(trust.payload)
    regions = [dict(r) for r in payload["regions"]]
    extra = [SigningKey.generate() for _ in range(N_KEYS - 1)]
    per_region = len(extra) // 33 + 1
    for i in range(33):
        chunk = extra[i * per_region:(i + 1) * per_region]
        regions.append({"code": f"XX-{i:02d}", "name": f"region {i}", "endpoint": "", "keys": [
            {"kid": k.kid, "alg": k.alg, "spki": k.spki, "nbf": now - 10, "exp": now + 10**8, "status": "active"}
            for k in chunk]})
    payload["regions"] = regions
    return TrustList.from_signed(trustlist.sign(root, payload), root.public)


def measure(seconds: float) -> dict:
    now = int(time.time())
    key, trust, texts, sl = fixture(now, n_credentials=1000)
    small_lists = {sl.uri: sl}.get
    cycle = itertools.cycle(texts).__next__

    root = SigningKey.generate()
    before = rss_mb()
    big_trust = _grow(trust, root, key, now)
    # every 7th entry revoked, none of them one of the benchmark's credentials (idx = 8 + 3i)
    bits = statuslist.build_bits([(i, 1) for i in range(0, N_STATUS, 7) if i % 3 != 2], N_STATUS)
    big_sl = statuslist.parse(statuslist.sign(key, uri=sl.uri, bits=bits, iat=now, exp=now + 3600, ttl=10),
                              expected_uri=sl.uri, region_keys=big_trust.keys_by_kid)
    del bits
    after = rss_mb()
    big_lists = {sl.uri: big_sl}.get
    assert sum(k.status == "active" for ks in big_trust.keys_by_kid.values() for k in ks) == N_KEYS
    assert all(verify.verify(t, big_trust, now, status_lists=big_lists).ok for t in texts)
    smalls, larges = [], []  # alternating rounds: both see the same machine conditions
    for _ in range(ROUNDS):
        smalls.append(rate(lambda: verify.verify(cycle(), trust, now, status_lists=small_lists), seconds / ROUNDS))
        larges.append(rate(lambda: verify.verify(cycle(), big_trust, now, status_lists=big_lists), seconds / ROUNDS))
    small, large = statistics.median(smalls), statistics.median(larges)
    return {"large_keys": N_KEYS, "large_status_entries": N_STATUS, "large_rss_mb": round(after, 1),
            "large_added_mb": round(after - before, 1), "small_rate_per_s": round(small),
            "large_rate_per_s": round(large),
            "large_rate_ratio": round(statistics.median(b / a for a, b in zip(smalls, larges)), 3)}


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)))
