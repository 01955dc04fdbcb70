"""``Store.find_credentials`` over every backend: a region's credentials newest first (issued_at, then
id, descending), paged from the last one answered with no duplicate and no gap, each filter and
every filter at once, only the fields asked for; and on SQLite, the look-up by holder hash uses its
index."""

from __future__ import annotations

import itertools

from ecert.store import Store
from tests.test_store_contract import store  # noqa: F401 (the fixture over every backend)

IDS = [f"{c}{'A' * 25}" for c in "BCDEFGHIJKLMNOPQRSTUVWXYZ"]  # 25 credential ids, in text order


def _cred(cred_id: str, region: str, issued_at: int, type_: str = "t.a", status: str = "valid",
          holder_hash: str | None = None) -> dict:
    return {"_id": cred_id, "region": region, "type": type_, "version": 1, "status": status,
            "issued_at": issued_at, "expires_at": issued_at + 1000, "display_id": f"D-{cred_id[:4]}",
            "holder_hash": holder_hash, "fields": {"name": "n"}, "qr_text": "EC1:x", "request_id": None}


async def _fill(store: Store) -> list[dict]:  # noqa: F811 (the imported fixture)
    """20 credentials of ZJ in 4 seconds (ties in each), types, statuses and holders mixed; 5 of SH."""
    docs = []
    for i, cred_id in enumerate(IDS[:20]):
        docs.append(_cred(cred_id, "ZJ", 100 + (i * 7) % 4, type_=("t.a", "t.b")[i % 2],
                          status=("valid", "valid", "revoked", "suspended")[i % 4],
                          holder_hash=("h1", "h2", None)[i % 3]))
    for i, cred_id in enumerate(IDS[20:]):
        docs.append(_cred(cred_id, "SH", 100 + i, holder_hash="h1"))
    for doc in docs:
        await store.insert_credential(doc)
    return docs


def _newest_first(docs: list[dict]) -> list[str]:
    return [d["_id"] for d in sorted(docs, key=lambda d: (d["issued_at"], d["_id"]), reverse=True)]


async def _pages(store: Store, limit: int, **filters) -> list[str]:  # noqa: F811
    out, after = [], None
    while True:
        page = await store.find_credentials("ZJ", **filters, after=after, limit=limit)
        out += [d["_id"] for d in page]
        if len(page) < limit:
            return out
        after = (page[-1]["issued_at"], page[-1]["_id"])


async def test_newest_first_and_paged_with_no_duplicate_and_no_gap(store: Store):  # noqa: F811
    docs = await _fill(store)
    zj = [d for d in docs if d["region"] == "ZJ"]
    assert [d["_id"] for d in await store.find_credentials("ZJ", limit=100)] == _newest_first(zj)
    for limit in (1, 2, 3, 7, 20, 21):
        assert await _pages(store, limit) == _newest_first(zj)


async def test_each_filter_and_all_at_once(store: Store):  # noqa: F811
    docs = await _fill(store)
    zj = [d for d in docs if d["region"] == "ZJ"]
    cases = {
        "type": lambda d: d["type"] == "t.b",
        "status": lambda d: d["status"] == "revoked",
        "holder_hash": lambda d: d["holder_hash"] == "h1",
        "issued_from": lambda d: d["issued_at"] >= 102,
        "issued_before": lambda d: d["issued_at"] < 102,
    }
    values = {"type": "t.b", "status": "revoked", "holder_hash": "h1", "issued_from": 102, "issued_before": 102}
    for n in (1, 2, 3):
        for names in itertools.combinations(["type", "status", "holder_hash", "issued_from"], n):
            want = _newest_first([d for d in zj if all(cases[k](d) for k in names)])
            for limit in (1, 2, 50):
                assert await _pages(store, limit, **{k: values[k] for k in names}) == want, names
    window = _newest_first([d for d in zj if 101 <= d["issued_at"] < 103])
    for limit in (1, 2, 4, 50):
        assert await _pages(store, limit, issued_from=101, issued_before=103) == window
    assert await _pages(store, 3, **{k: values[k] for k in ("issued_before", "holder_hash")}) == \
        _newest_first([d for d in zj if cases["issued_before"](d) and cases["holder_hash"](d)])
    assert await store.find_credentials("ZJ", holder_hash="h3") == []


async def test_after_a_credential_outside_the_window_or_of_another_second(store: Store):  # noqa: F811
    docs = await _fill(store)
    zj = [d for d in docs if d["region"] == "ZJ"]
    first = _newest_first([d for d in zj if d["issued_at"] == 103])[0]
    # after one issued at 103, with a window ending at 102: only what the window holds
    got = await store.find_credentials("ZJ", issued_before=102, after=(103, first), limit=50)
    assert [d["_id"] for d in got] == _newest_first([d for d in zj if d["issued_at"] < 102])
    # after a (time, id) no credential has: the order still says where to go on
    place = (102, "M" + "Z" * 25)
    got = await store.find_credentials("ZJ", after=place, limit=50)
    assert [d["_id"] for d in got] == _newest_first([d for d in zj if (d["issued_at"], d["_id"]) < place])


async def test_only_the_fields_asked_for(store: Store):  # noqa: F811
    await _fill(store)
    (doc,) = await store.find_credentials("ZJ", limit=1, fields=("type", "status", "issued_at"))
    assert set(doc) == {"_id", "type", "status", "issued_at"}


async def test_sqlite_finds_a_holder_through_its_index(tmp_path):
    from ecert.store import open_store
    s = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        plan = await s.backend._run(
            s.backend._query, "EXPLAIN QUERY PLAN SELECT doc FROM credentials WHERE json_extract(doc, '$.region') = ? "
            "AND json_extract(doc, '$.holder_hash') = ? ORDER BY json_extract(doc, '$.issued_at') DESC, id DESC",
            ("ZJ", "h1"))
        assert any("credentials_region_holder_hash_issued_at__id" in row[-1] for row in plan)
        plan = await s.backend._run(
            s.backend._query, "EXPLAIN QUERY PLAN SELECT doc FROM credentials WHERE json_extract(doc, '$.region') = ? "
            "ORDER BY json_extract(doc, '$.issued_at') DESC, id DESC LIMIT 51", ("ZJ",))
        assert any("credentials_region_issued_at__id" in row[-1] for row in plan)
    finally:
        await s.close()
