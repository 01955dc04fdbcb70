"""The issuing region's own cost of the trail, in one process: CPU seconds per entry of what an
issuer's append does with a verifier's delivery (each record checked, chained and hashed by
:mod:`ecert.rules.trail`, written durably by the store, its worker thread included) on a SQLite
store, in deliveries of 500 checks of 300 credentials, as the trail bench's suites make them.
Code only: no network, no other process, so it compares one commit with another
(``python -m bench.trail_append [ENTRIES]`` prints one JSON line; ``make bench`` includes it with
the trail figures)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from ecert.rules import trail
from ecert.store import default_uri, open_store

DELIVERY = 500
CREDENTIALS = 300
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


async def _measure(entries: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="ecert-bench-append-") as folder:
        store = await open_store(default_uri(Path(folder)))
        try:
            rnd = random.Random(1)
            creds = ["".join(rnd.choice(_B32) for _ in range(26)) for _ in range(CREDENTIALS)]
            deliveries = [[trail.Record(id=f"0123456789abcdef-{b:x}.{n}",
                                        credential_id=creds[(b * DELIVERY + n) % CREDENTIALS], at=1_800_000_000,
                                        action="verify", actor_org="上海示例供应链管理有限公司", actor_key_id="0a1b2c3d4e5f", actor_role="integrator", purpose="general",
                                        result="VALID") for n in range(DELIVERY)]
                          for b in range(max(1, entries // DELIVERY))]
            t0, cpu0 = time.perf_counter(), time.process_time()
            seq, last = 0, trail.GENESIS
            for records in deliveries:
                texts: list[str] = []
                chain = trail.chained("CN-ZJ", [trail.check_record(r) for r in records], seq, last, texts)
                assert await store.append_trail("CN-ZJ", chain, texts) == len(chain)
                seq, last = chain[-1]["seq"], chain[-1]["hash"]
            n = len(deliveries) * DELIVERY
            return {"trail_append_cpu_us": round((time.process_time() - cpu0) / n * 1e6, 1),
                    "trail_append_wall_us": round((time.perf_counter() - t0) / n * 1e6, 1)}
        finally:
            await store.close()


def measure(entries: int = 100_000) -> dict:
    return asyncio.run(_measure(entries))


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)), flush=True)
