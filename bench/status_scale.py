"""Status lists at population scale: a region with 300,000,000 issued credentials, 0.5% of them
revoked or suspended (spread at random, seeded), in shards of 2^20 entries.

What it measures, in one process (``python -m bench.status_scale [SECONDS]`` prints one JSON
line; ``make bench-status`` runs it):

- the issuer: the time to publish every shard cold, and the time and peak memory (tracemalloc,
  in a second round) to publish after one revocation (only its shard is signed again), with the shards' entries read by the
  real ``Store.status_entries`` from a SQLite store holding the 1,500,000 non-valid credentials
  on the ``(region, status_uri, status)`` index (built once under ``var/bench/``, reused);
- what a verifier downloads per refresh after that revocation, with the conditional request
  (GetStatusLists: every shard held, with its iat) against a full download, as protobuf bytes;
- the verifier's memory holding four such regions' lists (1,148 shards, parsed and checked as the
  verifier does), and the verification rate of EC1 credentials whose entries are in those lists
  against the same credentials on a small list, in alternating rounds.

Only the non-valid credentials are stored: a valid one has no row the status query reads, so the
other 298.5 M rows would change the table's size on disk, not what publishing reads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from ecert.format import credential, statuslist
from ecert.format.keys import SigningKey
from ecert.rules import verify
from ecert.rules.shards import Shards, sign_shard
from ecert.store import default_uri, open_store
from ecert.vocab import CredentialStatus
from ecertpb.v1 import issuer_pb2
from testkit.fixtures import fixture
from testkit.samples import driving_licence

from .pipeline import ROUNDS, rate

ISSUED = 300_000_000
NOT_VALID = ISSUED // 200  # 0.5%
REGIONS = ("CN-ZJ", "CN-SH", "CN-JS", "CN-AH")
SHARDS = -(-ISSUED // statuslist.SHARD_SIZE)
STORE_VERSION = "v1"
NOW = 1_800_000_000


def _not_valid(region: str) -> dict[int, int]:
    """The region's non-valid entries: global index -> 1 (revoked) or 2 (suspended)."""
    rnd = random.Random(f"status-scale:{region}")
    return {g: rnd.choice((statuslist.REVOKED, statuslist.SUSPENDED)) for g in rnd.sample(range(ISSUED), NOT_VALID)}


def _doc(region: str, g: int, value: int) -> dict:
    uri, idx = statuslist.allocate(region, g)
    return {"_id": f"bench-{region}-{g}", "region": region, "status": str(statuslist.STATUS_NAMES[value]),
            "status_uri": uri, "status_idx": idx}


async def _store(folder: Path, entries: dict[int, int]):
    """The bench store: the region's non-valid credentials (built on first use, then reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    store = await open_store(default_uri(folder))
    marker = f"status-scale-{STORE_VERSION}"
    if not await store.backend.exists("counters", marker):
        docs = [_doc(REGIONS[0], g, v) for g, v in entries.items()]
        for i in range(0, len(docs), 5000):
            await asyncio.gather(*(store.insert_credential(d) for d in docs[i:i + 5000]))
        await store.backend.next_seq(f"status:{REGIONS[0]}", ISSUED)
        await store.backend.next_seq(marker)
    return store


async def _issuer(store, key: SigningKey) -> tuple[dict, dict]:
    region = REGIONS[0]
    clock = [NOW]
    shards = Shards(lambda uri: store.status_entries(region, uri), lambda: key, ttl=10, validity=3600,
                    now=lambda: clock[0])
    uris = [statuslist.shard_uri(region, n) for n in range(1, SHARDS + 1)]

    async def publish_all():
        return [await shards.get(u) for u in uris]

    t0 = time.perf_counter()
    held = await publish_all()
    cold_s = time.perf_counter() - t0
    rnd = random.Random(7)
    revoked = []

    async def revoke_one() -> str:
        """A valid credential of a random shard becomes revoked: its shard is marked changed."""
        while True:
            g = rnd.randrange(ISSUED)
            if not await store.backend.exists("credentials", f"bench-{region}-{g}"):
                break
        doc = _doc(region, g, statuslist.REVOKED)
        doc["_id"] = f"bench-revoked-{time.time_ns()}"
        await store.insert_credential(doc)
        revoked.append(doc["_id"])
        shards.changed(doc["status_uri"])
        clock[0] += 1
        return doc["status_uri"]

    uri = await revoke_one()  # timed without tracing (tracemalloc slows Python several times)
    t0 = time.perf_counter()
    after = await publish_all()
    one_s = time.perf_counter() - t0
    await revoke_one()  # and again for its peak memory
    tracemalloc.start()
    await publish_all()
    one_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for _id in revoked:  # the stored rows as they were: the next run starts from the same store
        await store.backend.update("credentials", _id, {"status": CredentialStatus.VALID.value})
    changed = [s for s, h in zip(after, held) if s.iat > h.iat]
    assert [s.uri for s in changed] == [uri]
    request = issuer_pb2.GetStatusListsRequest(held=[issuer_pb2.HeldStatusList(uri=h.uri, iat=h.iat) for h in held])
    answer = issuer_pb2.StatusLists(lists=[issuer_pb2.StatusList(uri=s.uri, signed=s.signed, iat=s.iat)
                                          for s in changed])
    full = issuer_pb2.StatusLists(lists=[issuer_pb2.StatusList(uri=s.uri, signed=s.signed, iat=s.iat)
                                        for s in after])
    return ({"status_shards": SHARDS, "status_publish_cold_s": round(cold_s, 2),
             "status_publish_after_revocation_ms": round(one_s * 1000, 1),
             "status_publish_after_revocation_peak_mb": round(one_peak / 2**20, 2),
             "status_signed_held_mb": round(shards.nbytes / 2**20, 1),
             "status_refresh_request_kb": round(request.ByteSize() / 1024, 1),
             "status_refresh_answer_kb": round(answer.ByteSize() / 1024, 1),
             "status_full_download_kb": round(full.ByteSize() / 1024, 1)},
            {s.uri: s.signed for s in after})


def _region_lists(region: str, key: SigningKey, entries: dict[int, int]) -> dict[str, bytes]:
    """A region's shards signed as its issuer signs them (ecert.rules.shards.sign_shard)."""
    by_shard: dict[str, list[tuple[int, str]]] = {}
    for g, v in entries.items():
        uri, idx = statuslist.allocate(region, g)
        by_shard.setdefault(uri, []).append((idx, statuslist.STATUS_NAMES[v]))
    return {uri: sign_shard(key, uri, sorted(by_shard.get(uri, [])), iat=NOW, exp=NOW + 3600, ttl=10).signed
            for uri in (statuslist.shard_uri(region, n) for n in range(1, SHARDS + 1))}


def measure(seconds: float = 5.0, folder: Path = Path("var/bench/status-scale")) -> dict:
    # testkit's fixture: a trust list with CN-ZJ's key and 1,000 credentials on a small list; the
    # same key signs every region's shards here (which key signs does not change what is measured)
    key, trust, small_texts, small = fixture(NOW, n_credentials=1000)
    entries = {r: _not_valid(r) for r in REGIONS}
    async def issuer_part():
        store = await _store(folder, entries[REGIONS[0]])
        try:
            return await _issuer(store, key)
        finally:
            await store.close()

    results, first = asyncio.run(issuer_part())
    signed = {REGIONS[0]: first}
    for region in REGIONS[1:]:
        signed[region] = _region_lists(region, key, entries[region])
    def hold_all():
        return {uri: statuslist.parse(s, expected_uri=uri, region_keys=trust.keys_by_kid)
                for lists in signed.values() for uri, s in lists.items()}

    tracemalloc.start()
    held = hold_all()
    held_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # the same kind of credentials as the small list's, with (valid) entries in the big lists
    rnd = random.Random(11)
    big_texts = []
    ts = next(iter(trust.types.values()))
    zj = entries[REGIONS[0]]
    while len(big_texts) < len(small_texts):
        g = rnd.randrange(ISSUED)
        if g in zj:
            continue
        uri, idx = statuslist.allocate("CN-ZJ", g)
        big_texts.append(credential.issue(key, iss="CN-ZJ", iat=NOW, exp=NOW + 86400 * 365,
                                          cti=credential.new_cti(), type_id=ts.id, type_version=ts.version,
                                          fields=ts.to_cbor(driving_licence(file_number=f"3301{len(big_texts):08d}")),
                                          status_uri=uri, status_idx=idx))
    small_lists, big_lists = {small.uri: small}.get, held.get
    assert all(verify.verify(t, trust, NOW, status_lists=big_lists).status_checked for t in big_texts)
    assert all(verify.verify(t, trust, NOW, status_lists=small_lists).ok for t in small_texts)
    small_cycle, big_cycle = _cycle(small_texts), _cycle(big_texts)
    smalls, bigs = [], []
    for _ in range(ROUNDS):
        smalls.append(rate(lambda: verify.verify(small_cycle(), trust, NOW, status_lists=small_lists), seconds / ROUNDS))
        bigs.append(rate(lambda: verify.verify(big_cycle(), trust, NOW, status_lists=big_lists), seconds / ROUNDS))
    ratios = [b / s for s, b in zip(smalls, bigs)]
    results.update({
        "status_regions_held": len(REGIONS), "status_lists_held": len(held),
        "status_verifier_held_mb": round(held_bytes / 2**20, 1),
        "status_small_rate_per_s": round(statistics.median(smalls)),
        "status_big_rate_per_s": round(statistics.median(bigs)),
        "status_rate_ratio": round(statistics.median(ratios), 3),
        "status_rate_ratio_min": round(min(ratios), 3), "status_rate_ratio_max": round(max(ratios), 3)})
    return results


def _cycle(texts):
    return itertools.cycle(texts).__next__


if __name__ == "__main__":
    print(json.dumps(measure(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)), flush=True)
