"""``ecert audit verify --region CODE [--store URI]``: walk a region's trail in the store and say
whether its hash chain is intact, or which entry was the first altered, removed or moved.

Exit 0 with ``N entries, chain intact``; 1 naming the first fault (its ``seq``); 2 for a usage
mistake (no store there); 3 when the store cannot be read. ``--json``: ``{region, intact, entries, fault}``. The walk reads the chain in pages (memory stays bounded, whatever its
length) and prints no entry's members, only positions and counts.
"""

from __future__ import annotations

import asyncio

from ecert.cli.common import COULD_NOT_ASK, NOT_VALID, OK, USAGE, CliError, print_json, store_uri
from ecert.errors import EcertError, InvalidRequest
from ecert.rules import trail
from ecert.rules.schema import check_region_code
from ecert.store import Store, open_store

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


def cmd_audit_verify(args) -> int:
    try:
        region = check_region_code(args.region)
    except InvalidRequest as err:
        raise CliError(f"--region: {err.message}", USAGE) from err
    uri = store_uri(args)

    async def run() -> tuple[int, trail.Fault | None]:
        store = await open_store(uri)
        try:
            return await walk(store, region)
        finally:
            await store.close()

    try:
        count, fault = asyncio.run(run())
    except EcertError as err:
        raise CliError(str(err), COULD_NOT_ASK) from err
    if getattr(args, "json", False):
        print_json({"region": region, "intact": fault is None, "entries": count,
                    "fault": None if fault is None else {"seq": fault.seq, "kind": fault.kind,
                                                         "message": fault.message}})
    elif fault is None:
        print(f"{region}: {count:,} entries, chain intact")
    else:
        print(f"{region}: entry {fault.seq} {fault.kind}: {fault.message} ({count:,} entries intact before it)")
    return OK if fault is None else NOT_VALID
