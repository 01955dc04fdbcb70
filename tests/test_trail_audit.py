"""``ecert audit verify``: a region's trail in a real store walked from the terminal, intact, then
edited, with an entry deleted, and reordered in the ways a store's rows can be (exit 1 naming the
first entry), and its last entries cut off."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from ecert import cli
from ecert.rules.access import Principal
from ecert.store import Store, open_store
from ecert.vocab import TrailAction
from services.issuer.trail import Trail

CREDS = ["A" * 26, "B" * 26, "C" * 26]
HOTEL = Principal("hotel", "", "0a1b2c3d4e5f", "上海外滩酒店")


async def _audit(capsys, uri: str, region: str = "CN-ZJ") -> tuple[int, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, ["audit", "verify", "--region", region, "--store", uri])
    out, err = capsys.readouterr()
    return rc, out + err


async def _no_record(p, credential_id):
    raise AssertionError("the audit reads the store, never an access log")


@pytest.fixture
async def chain(tmp_path):
    """A store holding 12 entries of CN-ZJ's trail and 3 of CN-SH's; yields (uri, db path)."""
    db = tmp_path / "ecert.db"
    store = await open_store(f"sqlite:///{db}")
    try:
        zj, sh = (Trail(region, store, now=lambda: 1_800_000_000, record_region=_no_record)
                  for region in ("CN-ZJ", "CN-SH"))
        for i in range(12):
            await zj.append(action=TrailAction.VERIFY, credential_id=CREDS[i % 3], actor=HOTEL,
                            purpose="hotel_check_in", outcome="VALID", at=1_800_000_000 + i)
        for i in range(3):
            await sh.append(action=TrailAction.ISSUE, credential_id=CREDS[i], actor=HOTEL, outcome="valid")
    finally:
        await store.close()
    yield f"sqlite:///{db}", db


def _sql(db, statement: str, *params) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute(statement, params)
        conn.commit()
    finally:
        conn.close()


def _key(seq: int) -> str:
    return Store.trail_key("CN-ZJ", seq)


async def test_an_intact_chain(capsys, chain):
    uri, _ = chain
    assert await _audit(capsys, uri) == (0, "CN-ZJ: 12 entries, chain intact\n")
    assert await _audit(capsys, uri, "CN-SH") == (0, "CN-SH: 3 entries, chain intact\n")
    assert await _audit(capsys, uri, "CN-AH") == (0, "CN-AH: 0 entries, chain intact\n")


async def test_an_edited_entry(capsys, chain):
    uri, db = chain
    _sql(db, "UPDATE trail SET doc = json_set(doc, '$.actor_org', 'someone else') WHERE id = ?", _key(7))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 7 altered:") and "6 entries intact" in out
    assert await _audit(capsys, uri, "CN-SH") == (0, "CN-SH: 3 entries, chain intact\n")  # its own chain


async def test_a_deleted_entry(capsys, chain):
    uri, db = chain
    _sql(db, "DELETE FROM trail WHERE id = ?", _key(4))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 4 removed:")


async def test_the_last_entries_cut_off(capsys, chain):
    uri, db = chain
    _sql(db, "DELETE FROM trail WHERE id IN (?, ?)", _key(11), _key(12))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 11 removed:") and "recorded end is entry 12" in out


async def test_a_reordered_entry(capsys, chain):
    uri, db = chain
    # entries 5 and 6 renumbered into each other's places (read in seq order, they come reversed)
    _sql(db, "UPDATE trail SET doc = json_set(doc, '$.seq', 6) WHERE id = ?", _key(5))
    _sql(db, "UPDATE trail SET doc = json_set(doc, '$.seq', 5) WHERE id = ?", _key(6))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 5 moved:"), out


async def test_two_entries_exchanged_whole(capsys, chain):
    """Entries 8 and 9 exchange places, each with all its members (their keys stay)."""
    uri, db = chain
    conn = sqlite3.connect(db)
    try:
        (a,), (b,) = (conn.execute("SELECT doc FROM trail WHERE id = ?", (_key(n),)).fetchone() for n in (8, 9))
        swap = "UPDATE trail SET doc = json_set(?, '$._id', ?{}) WHERE id = ?"
        conn.execute(swap.format(", '$.id', 'x'"), (b, _key(8), _key(8)))  # ids are unique: one aside first
        conn.execute(swap.format(""), (a, _key(9), _key(9)))
        conn.execute(swap.format(""), (b, _key(8), _key(8)))
        conn.commit()
    finally:
        conn.close()
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 8 moved:") and "entry 9" in out


async def test_an_entry_rewritten_with_a_new_hash(capsys, chain):
    """Someone who edits an entry and makes its hash anew: the next entry names the old one."""
    uri, db = chain
    store = await open_store(uri)
    try:
        entry = dict((await store.trail_places("CN-ZJ", 2, 1))[0][1])
    finally:
        await store.close()
    from ecert.rules import trail
    entry["result"] = "REVOKED"
    entry["hash"] = trail.entry_hash(entry)
    _sql(db, "UPDATE trail SET doc = json_set(doc, '$.result', 'REVOKED', '$.hash', ?) WHERE id = ?",
         entry["hash"], _key(3))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 4 altered:") and "entry 3" in out


async def test_an_entry_whose_prev_hash_is_no_text(capsys, chain):
    """A ``prev_hash`` edited into a JSON array, its hash made anew or not: a named alteration (exit 1),
    not a traceback."""
    uri, db = chain
    _sql(db, "UPDATE trail SET doc = json_set(doc, '$.prev_hash', json('[]')) WHERE id = ?", _key(5))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 5 altered:") and "Traceback" not in out, out
    store = await open_store(uri)
    try:
        entry = dict((await store.trail_places("CN-ZJ", 4, 1))[0][1])  # the one after place 4
    finally:
        await store.close()
    from ecert.rules import trail
    assert entry["prev_hash"] == []
    _sql(db, "UPDATE trail SET doc = json_set(doc, '$.hash', ?) WHERE id = ?", trail.entry_hash(entry), _key(5))
    rc, out = await _audit(capsys, uri)
    assert rc == 1 and out.startswith("CN-ZJ: entry 5 altered:") and "Traceback" not in out, out


async def test_usage_mistakes(capsys, chain, tmp_path):
    uri, _ = chain
    rc, out = await _audit(capsys, uri, "zhejiang")
    assert rc == 2 and "region" in out
    rc, out = await _audit(capsys, f"sqlite:///{tmp_path / 'none.db'}")
    assert rc == 2 and "no store" in out
