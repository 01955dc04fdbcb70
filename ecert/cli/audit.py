"""``ecert audit verify --region CODE [--store URI]``: walk a region's trail in the store and say
whether its hash chain is intact, or which entry was the first altered, removed or moved.

Exit 0 with ``N entries, chain intact``; 1 naming the first fault (its ``seq``); 2 for a usage
mistake (no store there). The walk reads the chain in pages (memory stays bounded, whatever its
length) and prints no entry's members, only positions and counts.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ecert.rules import trail
from ecert.rules.schema import check_region_code
from ecert.store import Store, default_uri, open_store

PAGE = 2000


async def walk(store: Store, region: str, page: int = PAGE) -> tuple[int, trail.Fault | None]:
    """The number of intact entries from the first, and the first fault (None: the chain is intact)."""
    check = trail.ChainWalk(region)
    after = 0
    while True:
        entries = await store.trail_places(region, after, page)
        for place, e in entries:
            if check.feed(e, place) is not None:
                return check.count, check.fault
        if len(entries) < page:
            break
        after = entries[-1][0]
    return check.count, check.finish(await store.trail_head(region))


def cmd_audit_verify(args, error: type[Exception]) -> int:
    """``error(message, status)`` is the CLI's error (printed, exit status)."""
    from ecert.errors import EcertError, InvalidRequest

    try:
        region = check_region_code(args.region)
    except InvalidRequest as err:
        raise error(f"--region: {err.message}", 2) from err
    uri = args.store or os.environ.get("ECERT_STORE_URI") or default_uri("var")
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():
            raise error(f"no store at {path} (from {uri}): give the suite's store with --store URI", 2)

    async def run() -> tuple[int, trail.Fault | None]:
        store = await open_store(uri)
        try:
            return await walk(store, region)
        finally:
            await store.close()

    try:
        count, fault = asyncio.run(run())
    except EcertError as err:
        raise error(str(err), 1) from err
    if fault is None:
        print(f"{region}: {count:,} entries, chain intact")
        return 0
    print(f"{region}: entry {fault.seq} {fault.kind}: {fault.message} ({count:,} entries intact before it)")
    return 1
