"""The store's part of the trail, one contract over every backend (as tests/test_store_contract.py):
chained appends that stop at the first collision, the head written with them, ranges, and the
look-ups the access log and ``ecert audit verify`` make."""

from __future__ import annotations

import asyncio

import pytest

from ecert.rules import trail
from ecert.store import Store, open_store
from ecert.store.sqlite import SQLiteBackend
from tests.test_store_contract import store  # noqa: F401  (the store on each backend)

CRED = "A" * 26
OTHER = "B" * 26


def _records(n: int, cred: str = CRED, start: int = 0) -> list[trail.Record]:
    return [trail.Record(id=f"e{start + i}", credential_id=cred if i % 2 == 0 else OTHER, at=1_000 + start + i,
                         action="verify", actor_role="hotel", purpose="hotel_check_in", result="VALID")
            for i in range(n)]


async def _append(store: Store, region: str, records: list[trail.Record], *, texts: bool = True) -> list[dict]:
    """Append ``records`` after the chain's end as the issuer does (with the entries' texts), or
    from the entries alone."""
    last = await store.trail_last(region)
    written: list[str] | None = [] if texts else None
    entries = trail.chained(region, records, *(last and (last["seq"], last["hash"]) or (0, trail.GENESIS)),
                            written)
    assert await store.append_trail(region, entries, written) == len(entries)
    return entries


@pytest.mark.parametrize("texts", [True, False], ids=["texts", "entries"])
async def test_appended_entries_come_back_in_order_with_their_head(store: Store, texts: bool):
    written = await _append(store, "CN-ZJ", _records(5), texts=texts)
    assert all("_id" not in e for e in written)  # the store's key is not left on the caller's entries
    assert await store.trail_entries("CN-ZJ") == written
    assert await store.trail_places("CN-ZJ") == [(e["seq"], e) for e in written]
    assert await store.trail_last("CN-ZJ") == written[-1]
    assert await store.trail_head("CN-ZJ") == {"_id": "CN-ZJ", "seq": 5, "hash": written[-1]["hash"]}
    assert [e["seq"] for e in await store.trail_entries("CN-ZJ", after=2, limit=2)] == [3, 4]
    assert await store.trail_last("CN-SH") is None and await store.trail_entries("CN-SH") == []


async def test_regions_have_chains_of_their_own(store: Store):
    """A region whose code begins with another's never reads the other's entries."""
    zj = await _append(store, "CN-ZJ", _records(3))
    other = await _append(store, "CN-Z", _records(2, start=10))
    assert await store.trail_entries("CN-ZJ") == zj and await store.trail_entries("CN-Z") == other
    assert (await store.trail_last("CN-Z"))["seq"] == 2


async def test_a_chain_stops_at_the_first_taken_place_or_id(store: Store):
    first = await _append(store, "CN-ZJ", _records(3))
    # a second appender that read the chain before: its entries take places 4, 5, 6 too
    stale = trail.chained("CN-ZJ", _records(3, start=10), 3, first[-1]["hash"])
    await _append(store, "CN-ZJ", _records(1, start=20))  # place 4 is taken meanwhile
    assert await store.append_trail("CN-ZJ", stale) == 0
    assert [e["id"] for e in await store.trail_entries("CN-ZJ")] == ["e0", "e1", "e2", "e20"]
    head = await store.trail_head("CN-ZJ")
    assert head["seq"] == 4  # a chain that stopped short leaves the head where it was
    # an id written before stops the chain at it: what comes before it is kept
    last = await store.trail_last("CN-ZJ")
    again = trail.chained("CN-ZJ", [*_records(2, start=30), _records(1)[0], *_records(2, start=40)],
                          last["seq"], last["hash"])
    assert await store.append_trail("CN-ZJ", again) == 2
    assert [e["id"] for e in await store.trail_entries("CN-ZJ", after=4)] == ["e30", "e31"]
    assert (await store.trail_head("CN-ZJ"))["seq"] == 4


async def test_entries_by_id_and_by_credential(store: Store):
    written = await _append(store, "CN-ZJ", _records(7))
    found = await store.trail_by_ids("CN-ZJ", ["e1", "e5", "nope"])
    assert set(found) == {"e1", "e5"} and found["e5"] == written[5]
    mine = await store.credential_trail("CN-ZJ", CRED)
    assert [e["seq"] for e in mine] == [1, 3, 5, 7]
    assert [e["seq"] for e in await store.credential_trail("CN-ZJ", CRED, after=3, limit=2)] == [5, 7]
    assert await store.credential_trail("CN-SH", CRED) == []
    many = [f"x{i}" for i in range(1200)]  # looked up in slices
    assert await store.trail_by_ids("CN-ZJ", many + ["e0"]) == {"e0": written[0]}
    assert await store.trail_by_ids("CN-SH", ["e0"]) == {}


async def test_a_chain_beside_concurrent_inserts_is_written_whole(store: Store):
    """A chain enqueued beside ordinary inserts (on SQLite, in their group commit) is written whole."""
    entries = trail.chained("CN-ZJ", _records(50), 0, trail.GENESIS)
    results = await asyncio.gather(store.append_trail("CN-ZJ", entries[:25]),
                                   *(store.mark_token_used(f"t{i}", 1) for i in range(20)))
    assert results[0] == 25 and all(results[1:])
    assert await store.append_trail("CN-ZJ", entries[25:]) == 25
    walk = trail.ChainWalk("CN-ZJ")
    for e in await store.trail_entries("CN-ZJ", limit=100):
        assert walk.feed(e) is None
    assert walk.finish(await store.trail_head("CN-ZJ")) is None and walk.count == 50


async def test_sqlite_a_chain_and_concurrent_inserts_share_one_commit(tmp_path, monkeypatch):
    """The group commit: a chain and the inserts enqueued beside it go to disk in one transaction."""
    store = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
    batches: list[int] = []
    insert_many = SQLiteBackend._insert_many

    def counted(self, rows):
        batches.append(len(rows))
        return insert_many(self, rows)

    monkeypatch.setattr(SQLiteBackend, "_insert_many", counted)
    try:
        entries = trail.chained("CN-ZJ", _records(10), 0, trail.GENESIS)
        results = await asyncio.gather(store.append_trail("CN-ZJ", entries),
                                       *(store.mark_token_used(f"t{i}", 1) for i in range(20)))
        assert results == [10] + [True] * 20
        assert batches == [21]
        assert (await store.trail_head("CN-ZJ"))["seq"] == 10
    finally:
        await store.close()


async def test_the_head_only_moves_forward(store: Store):
    """Of two appenders, the one whose chain is further along keeps the head, whichever writes it
    last: a late head never hides entries after it."""
    first = trail.chained("CN-ZJ", _records(5), 0, trail.GENESIS)
    later = trail.chained("CN-ZJ", _records(5, start=10), 5, first[-1]["hash"])
    assert await store.append_trail("CN-ZJ", later) == 5  # entries 6 to 10, head 10
    assert await store.append_trail("CN-ZJ", first) == 5  # entries 1 to 5 land after: the head stays at 10
    assert await store.trail_head("CN-ZJ") == {"_id": "CN-ZJ", "seq": 10, "hash": later[-1]["hash"]}
    walk = trail.ChainWalk("CN-ZJ")
    for e in await store.trail_entries("CN-ZJ"):
        assert walk.feed(e) is None
    assert walk.finish(await store.trail_head("CN-ZJ")) is None and walk.count == 10


async def test_a_broken_chain_is_refused_and_leaves_the_entries_as_they_were(store: Store):
    entries = trail.chained("CN-ZJ", _records(3), 0, trail.GENESIS)
    entries[2]["seq"] = 4
    copies = [dict(e) for e in entries]
    with pytest.raises(ValueError):
        await store.append_trail("CN-ZJ", entries)
    assert entries == copies and await store.trail_entries("CN-ZJ") == []
    assert await store.trail_head("CN-ZJ") is None


async def test_range_filters(store: Store):
    for i in range(6):
        await store.backend.insert("tokens", {"_id": f"k{i}", "n": i, "t": f"v{i}"})
    find = store.backend.find
    assert [d["n"] for d in await find("tokens", {"n": {"$gt": 1, "$lte": 4}}, sort="n")] == [2, 3, 4]
    assert [d["n"] for d in await find("tokens", {"n": {"$gte": 4}}, sort="n", descending=True)] == [5, 4]
    assert [d["_id"] for d in await find("tokens", {"_id": {"$gt": "k1", "$lt": "k4"}}, sort="_id")] == \
        ["k2", "k3"]
    assert [d["n"] for d in await find("tokens", {"t": {"$lt": "v2"}}, sort="n")] == [0, 1]
    for doc in ({"_id": "kt", "n": "text", "t": 7}, {"_id": "kr", "n": 2.5}, {"_id": "kb", "n": True}):
        await store.backend.insert("tokens", doc)

    async def ids(filter):
        return [d["_id"] for d in await find("tokens", filter, sort="_id")]

    # text compares with text only, numbers with numbers only (MongoDB's order; SQLite alone puts every
    # number before any text), and a boolean is neither
    assert await ids({"n": {"$lt": "a"}}) == []
    assert await ids({"n": {"$gt": "a"}}) == ["kt"]
    assert await ids({"n": {"$gt": 3}}) == ["k4", "k5"]
    assert await ids({"n": {"$gt": 2, "$lt": 3}}) == ["kr"]
    assert await ids({"t": {"$gte": 0}}) == ["kt"]
    assert await ids({"n": {"$gt": 0, "$lt": "z"}}) == []
    assert await ids({"_id": {"$gt": 5}}) == [] and await ids({"_id": {"$lt": 5}}) == []
    with pytest.raises(ValueError):
        await find("tokens", {"n": {"$gt": True}})
    with pytest.raises(ValueError):
        await find("tokens", {"n": {"$gt": [1]}})
    with pytest.raises(ValueError):
        await find("tokens", {"n": {"$gt": 1, "$ne": 2}})
