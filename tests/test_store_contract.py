"""One contract for the store, run over every backend.

``sqlite`` always runs (a file in tmp_path); ``mongo`` runs when MONGODB_URI
names a server, each test in a fresh random database that is dropped after.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ecert.errors import ConfigError, Conflict, DuplicateKey, NotFound, StoreError
from ecert.store import COLLECTIONS, Store, open_store
from ecert.store.mongo import MongoBackend
from ecert.store.sqlite import SQLiteBackend


def _mongo_uri(database: str) -> str:
    """MONGODB_URI with its database replaced, or skip the test."""
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        pytest.skip("MONGODB_URI is not set: the MongoDB contract run needs a real server")
    return urlunsplit(urlsplit(uri)._replace(path=f"/{database}"))


@pytest_asyncio.fixture(params=["sqlite", "mongo"])
async def store(request, tmp_path):
    """An open, empty Store on each backend."""
    if request.param == "sqlite":
        store = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
        yield store
        await store.close()
        return
    database = f"ecert_test_{uuid.uuid4().hex[:12]}"
    store = await open_store(_mongo_uri(database))
    try:
        yield store
    finally:
        await store.backend.client.drop_database(database)
        await store.close()


def _cred(cred_id: str, region: str = "EU", request_id: str | None = None,
          status: str = "valid", status_idx: int = 0, **extra) -> dict:
    return {"_id": cred_id, "region": region, "request_id": request_id, "status": status,
            "status_idx": status_idx, **extra}


# -- regions -------------------------------------------------------------


async def test_regions(store: Store):
    assert await store.create_region("SG", "Singapore")
    assert await store.create_region("EU", "Europe")
    assert not await store.create_region("EU", "Other name")
    assert (await store.get_region("EU"))["name"] == "Europe"
    assert await store.get_region("XX") is None

    await store.set_region_endpoint("EU", "eu-issuer:50051")
    assert await store.get_region("EU") == {"_id": "EU", "code": "EU", "name": "Europe",
                                            "endpoint": "eu-issuer:50051"}
    with pytest.raises(NotFound):
        await store.set_region_endpoint("XX", "nowhere:1")
    assert [r["code"] for r in await store.list_regions()] == ["EU", "SG"]


# -- keys ------------------------------------------------------------------


async def test_add_key_is_idempotent_and_conflicts_on_other_spki(store: Store):
    key, created = await store.add_key("EU", "a1b2", -7, "c3BraTE=", 100, 200)
    assert created and key["status"] == "active" and key["_id"] == "EU:a1b2"
    again, created = await store.add_key("EU", "a1b2", -7, "c3BraTE=", 100, 200)
    assert not created and again == key
    with pytest.raises(Conflict):
        await store.add_key("EU", "a1b2", -7, "b3RoZXI=", 100, 200)
    assert (await store.get_key("EU", "a1b2"))["spki"] == "c3BraTE="
    assert await store.get_key("EU", "ffff") is None


async def test_a_public_key_belongs_to_one_region(store: Store):
    """Key squatting: another region registering a key a region already holds is refused, whoever
    asks, with nothing written; the owner's own registration stays idempotent."""
    owner, created = await store.add_key("ZJ", "a1b2", -7, "c3BraTE=", 100, 200)
    assert created
    with pytest.raises(Conflict) as err:
        await store.add_key("SH", "a1b2", -7, "c3BraTE=", 100, 200)
    assert (err.value.code, err.value.field) == ("KEY_IN_USE", "spki")
    assert "ZJ" not in err.value.message and "c3BraTE=" not in err.value.message
    assert await store.list_keys("SH") == [] and await store.get_key("SH", "a1b2") is None
    assert await store.add_key("ZJ", "a1b2", -7, "c3BraTE=", 100, 200) == (owner, False)
    await store.set_key_status("ZJ", "a1b2", "revoked", 150)  # revoked, the key is still ZJ's
    with pytest.raises(Conflict):
        await store.add_key("SH", "a1b2", -7, "c3BraTE=", 100, 200)
    assert (await store.add_key("SH", "c3d4", -7, "b3RoZXI=", 100, 200))[1]  # another key is fine


async def test_list_keys_sorted_and_by_region(store: Store):
    await store.add_key("SG", "01", -7, "QQ==", 50, 500)
    await store.add_key("EU", "02", -7, "Qg==", 300, 900)
    await store.add_key("EU", "03", -7, "Qw==", 100, 600)
    assert [k["kid"] for k in await store.list_keys()] == ["03", "02", "01"]
    assert [k["kid"] for k in await store.list_keys("EU")] == ["03", "02"]
    assert await store.list_keys("XX") == []


async def test_key_status_and_revocation_is_final(store: Store):
    await store.add_key("EU", "aa", -7, "QQ==", 1, 2)
    retired = await store.set_key_status("EU", "aa", "retired", 10)
    assert retired["status"] == "retired" and retired["revoked_at"] is None
    revoked = await store.set_key_status("EU", "aa", "revoked", 20)
    assert revoked["status"] == "revoked" and revoked["revoked_at"] == 20
    for status in ("active", "retired"):
        with pytest.raises(Conflict):
            await store.set_key_status("EU", "aa", status, 30)
    again = await store.set_key_status("EU", "aa", "revoked", 40)
    assert again["status"] == "revoked" and again["revoked_at"] == 20
    with pytest.raises(NotFound):
        await store.set_key_status("EU", "bb", "revoked", 50)


async def test_retiring_ends_the_key_s_window_and_never_extends_it(store: Store):
    await store.add_key("EU", "aa", -7, "QQ==", 100, 10_000)
    retired = await store.set_key_status("EU", "aa", "retired", 1000, window_end=1300)
    assert (retired["status"], retired["exp"], retired["nbf"]) == ("retired", 1300, 100)
    again = await store.set_key_status("EU", "aa", "retired", 2000, window_end=2300)  # later: no longer window
    assert again["exp"] == 1300
    await store.add_key("EU", "bb", -7, "Qg==", 100, 500)  # ends before the grace would
    assert (await store.set_key_status("EU", "bb", "retired", 400, window_end=700))["exp"] == 500
    await store.set_key_status("EU", "aa", "revoked", 3000)
    with pytest.raises(Conflict):  # revoked: neither status nor window changes
        await store.set_key_status("EU", "aa", "retired", 3100, window_end=1200)
    assert (await store.get_key("EU", "aa"))["exp"] == 1300


# -- types -----------------------------------------------------------------


async def test_type_versions_are_immutable(store: Store):
    disclosure = {"always": ["name"], "selective": ["dob", "grade"]}
    assert await store.put_type("diploma", 1, "Diploma", '{"type": "object"}', disclosure)
    assert not await store.put_type("diploma", 1, "Diploma", '{"type": "object"}',
                                    dict(reversed(disclosure.items())))
    with pytest.raises(Conflict):
        await store.put_type("diploma", 1, "Diploma", '{"type": "array"}', disclosure)
    with pytest.raises(Conflict):
        await store.put_type("diploma", 1, "Diploma", '{"type": "object"}', {"always": []})
    assert await store.put_type("diploma", 2, "Diploma v2", "{}", {})
    assert await store.put_type("award", 1, "Award", "{}", {})
    types = await store.list_types()
    assert [(t["id"], t["version"]) for t in types] == [("award", 1), ("diploma", 1),
                                                        ("diploma", 2)]
    assert types[1]["schema"] == '{"type": "object"}' and types[1]["disclosure"] == disclosure


async def test_a_type_is_replaced_only_while_it_holds_the_text_expected(store: Store):
    """The catalogue upgrading its own earlier text (Registry.seed): compare-and-set on the schema."""
    assert await store.put_type("diploma", 1, "Diploma", '{"type": "object"}', {"hotel": []})
    assert not await store.replace_type("diploma", 1, '{"other": 1}', "Diploma", '{"new": 1}', {})
    assert not await store.replace_type("award", 1, '{"type": "object"}', "Award", '{"new": 1}', {})  # none stored
    assert await store.replace_type("diploma", 1, '{"type": "object"}', "Diploma", '{"new": 1}', {"hotel": ["x"]})
    [t] = await store.list_types()
    assert (t["schema"], t["disclosure"], t["name"]) == ('{"new": 1}', {"hotel": ["x"]}, "Diploma")
    assert not await store.replace_type("diploma", 1, '{"type": "object"}', "Diploma", '{"again": 1}', {})


# -- recognition rules ----------------------------------------------------


async def test_rules_are_seeded_once_and_changed_only_when_different(store: Store):
    assert await store.list_rules() == []
    assert await store.add_rule("purpose", "hotel_check_in", ["cn.resident_id", "cn.residence_permit", "cn.resident_id"])
    assert not await store.add_rule("purpose", "hotel_check_in", [])  # seeding again keeps what is stored
    assert await store.list_rules() == [{"_id": "purpose:hotel_check_in", "kind": "purpose", "key": "hotel_check_in",
                                         "items": ["cn.residence_permit", "cn.resident_id"]}]
    assert await store.put_rule("purpose", "hotel_check_in", ["cn.resident_id"])
    assert not await store.put_rule("purpose", "hotel_check_in", ["cn.resident_id", "cn.resident_id"])
    assert await store.put_rule("recognition", "CN-SH", ["CN-ZJ", "CN-SH"])  # a new entry
    assert await store.put_rule("recognition", "*", [])
    assert not await store.add_rule("recognition", "CN-SH", ["CN-AH"])
    assert [(d["kind"], d["key"], d["items"]) for d in await store.list_rules()] == [
        ("purpose", "hotel_check_in", ["cn.resident_id"]), ("recognition", "*", []),
        ("recognition", "CN-SH", ["CN-SH", "CN-ZJ"])]
    for bad in (store.add_rule("region", "CN-SH", []), store.put_rule("", "x", [])):
        with pytest.raises(ValueError):
            await bad


# -- trust list --------------------------------------------------------------


async def test_trust_list_versions_and_latest(store: Store):
    assert await store.latest_trust_list() is None
    versions = [await store.next_trust_version() for _ in range(3)]
    assert versions == [1, 2, 3]
    for version in (2, 10, 3, 9):  # 10 > 9 numerically, not as text
        await store.save_trust_list(version, f"signed-{version}", version * 10, version * 100)
    latest = await store.latest_trust_list()
    assert (latest["version"], latest["signed"], latest["iat"], latest["exp"]) == (
        10, "signed-10", 100, 1000)
    with pytest.raises(DuplicateKey):
        await store.save_trust_list(10, "other", 0, 0)


# -- credentials ---------------------------------------------------------------


async def test_credentials_unique_request_id_per_region(store: Store):
    await store.insert_credential(_cred("c1", request_id="r1"))
    assert (await store.get_credential("c1"))["request_id"] == "r1"
    assert (await store.find_credential_by_request("EU", "r1"))["_id"] == "c1"
    assert await store.find_credential_by_request("SG", "r1") is None
    assert await store.find_credential_by_request("EU", None) is None

    with pytest.raises(DuplicateKey):
        await store.insert_credential(_cred("c2", request_id="r1"))
    assert await store.get_credential("c2") is None  # nothing half-written
    with pytest.raises(DuplicateKey):
        await store.insert_credential(_cred("c1", request_id="r9", status="other"))
    assert (await store.get_credential("c1"))["status"] == "valid"

    await store.insert_credential(_cred("c3", region="SG", request_id="r1"))
    await store.insert_credential(_cred("c4"))
    await store.insert_credential(_cred("c5"))
    await store.insert_credential({"_id": "c6", "region": "EU", "status": "valid"})
    assert await store.get_credential("c6") == {"_id": "c6", "region": "EU", "status": "valid"}
    assert await store.get_credential("missing") is None


async def test_credentials_naming_photo_newest_first(store: Store):
    """A region's credentials showing a portrait: the newest issued first (then by id), limited; other
    regions', other portraits' and credentials without a photo are not among them."""
    for cred_id, region, photo, at in [("c1", "ZJ", "aa", 100), ("c2", "ZJ", "aa", 300), ("c3", "ZJ", "bb", 400),
                                       ("c4", "SH", "aa", 500), ("c5", "ZJ", "aa", 300), ("c6", "ZJ", "aa", 200)]:
        await store.insert_credential(_cred(cred_id, region, status_idx=at, issued_at=at,
                                            fields={"name": "x", "photo": photo}))
    await store.insert_credential(_cred("c7", "ZJ", issued_at=900, fields={"name": "no photo"}))
    await store.insert_credential(_cred("c8", "ZJ", issued_at=900))

    async def ids(*args, **kw):
        return [d["_id"] for d in await store.credentials_naming_photo(*args, **kw)]

    assert await ids("ZJ", "aa") == ["c5", "c2", "c6", "c1"]
    assert await ids("ZJ", "aa", limit=2) == ["c5", "c2"]
    assert await ids("SH", "aa") == ["c4"]
    assert await ids("ZJ", "bb") == ["c3"]
    assert await ids("ZJ", "cc") == [] and await ids("SH", "bb") == []
    [doc] = await store.credentials_naming_photo("ZJ", "bb")
    assert doc == await store.get_credential("c3")


async def test_credential_status_compare_and_set(store: Store):
    await store.insert_credential(_cred("c1"))
    assert not await store.set_credential_status("c1", "revoked", "suspended", 5)
    assert not await store.set_credential_status("missing", "revoked", "valid", 5)
    assert await store.set_credential_status("c1", "suspended", "valid", 6)
    cred = await store.get_credential("c1")
    assert (cred["status"], cred["status_changed_at"]) == ("suspended", 6)

    results = await asyncio.gather(*(store.set_credential_status("c1", f"s{i}", "suspended", 7)
                                     for i in range(10)))
    assert results.count(True) == 1
    assert (await store.get_credential("c1"))["status"] == f"s{results.index(True)}"


async def test_credential_status_counts_its_changes(store: Store):
    await store.insert_credential(_cred("c1"))
    assert not await store.set_credential_status("c1", "suspended", "valid", 5, changes=2)  # none counted yet
    assert await store.set_credential_status("c1", "suspended", "valid", 5, changes=1)
    assert not await store.set_credential_status("c1", "valid", "suspended", 6, changes=1)  # counted already
    assert await store.set_credential_status("c1", "valid", "suspended", 6, changes=2)
    cred = await store.get_credential("c1")
    assert (cred["status"], cred["status_changed_at"], cred["status_changes"]) == ("valid", 6, 2)


async def test_status_entries_and_index(store: Store):
    assert await store.status_index_end("EU") == 0
    assert [await store.next_status_index("EU") for _ in range(3)] == [0, 1, 2]
    assert await store.next_status_index("SG") == 0
    assert await store.status_index_end("EU") >= 3  # reserved in blocks
    eu1, eu2, sg1 = "urn:ecert:status:EU:1", "urn:ecert:status:EU:2", "urn:ecert:status:SG:1"
    for idx, status in enumerate(["valid", "revoked", "suspended", "revoked", "expired"]):
        await store.insert_credential(_cred(f"eu{idx}", status=status, status_idx=idx, status_uri=eu1,
                                            qr_text="EC1:" + "A" * 500))
    for idx, status in [(7, "revoked"), (3, "valid"), (2, "suspended")]:  # the same indexes, another list
        await store.insert_credential(_cred(f"eu2-{idx}", status=status, status_idx=idx, status_uri=eu2))
    await store.insert_credential(_cred("sg0", region="SG", status="revoked", status_idx=0, status_uri=sg1))
    assert await store.status_entries("EU", eu1) == [(1, "revoked"), (2, "suspended"), (3, "revoked")]
    assert await store.status_entries("EU", eu2) == [(2, "suspended"), (7, "revoked")]
    assert await store.status_entries("SG", sg1) == [(0, "revoked")]
    assert await store.status_entries("EU", sg1) == [] and await store.status_entries("XX", eu1) == []
    assert await store.status_entries("EU", "urn:ecert:status:EU:3") == []


async def test_find_reads_only_the_fields_asked_for(store: Store):
    await store.backend.insert("tokens", {"_id": "a", "n": 1, "s": "x", "o": {"k": [1, 2]}, "b": True, "z": None,
                                          "big": "y" * 1000})
    await store.backend.insert("tokens", {"_id": "b", "n": 2})
    got = await store.backend.find("tokens", {}, sort="_id", fields=("n", "s", "o", "b", "z", "missing"))
    assert got == [{"_id": "a", "n": 1, "s": "x", "o": {"k": [1, 2]}, "b": True, "z": None, "missing": None},
                   {"_id": "b", "n": 2, "s": None, "o": None, "b": None, "z": None, "missing": None}]
    assert await store.backend.find("tokens", {"n": 2}, fields=()) == [{"_id": "b"}]
    with pytest.raises(ValueError):
        await store.backend.find("tokens", {}, fields=("o.k",))  # top-level names only


# -- counters, API keys, tokens -------------------------------------------------


async def test_counters_strictly_increase_under_concurrency(store: Store):
    assert await store.backend.next_seq("a") == 1
    assert await store.backend.next_seq("a") == 2
    assert await store.backend.next_seq("b") == 1
    values = await asyncio.gather(*(store.backend.next_seq("a") for _ in range(50)))
    assert sorted(values) == list(range(3, 53))
    indexes = await asyncio.gather(*(store.next_status_index("EU") for _ in range(50)))
    assert sorted(indexes) == list(range(50))


async def test_apikeys(store: Store):
    await store.put_apikey("h1", {"role": "issuer", "region": "EU"})
    assert await store.get_apikey("h1") == {"_id": "h1", "role": "issuer", "region": "EU"}
    assert await store.get_apikey("h2") is None
    with pytest.raises(DuplicateKey):
        await store.put_apikey("h1", {"role": "admin"})
    assert (await store.get_apikey("h1"))["role"] == "issuer"


async def test_mark_token_used_once(store: Store):
    assert await store.mark_token_used("t1", 100)
    assert not await store.mark_token_used("t1", 101)
    results = await asyncio.gather(*(store.mark_token_used("t2", 200) for _ in range(10)))
    assert results.count(True) == 1
    assert await store.token_used("t1") and not await store.token_used("t3")


def _show(token_id: str, region: str = "ZJ", exp: int = 1_000) -> dict:
    return {"_id": token_id, "region": region, "credential_id": "C" * 26, "text": f"EC1:{token_id}", "iat": exp - 300,
            "exp": exp, "purpose": "hotel_check_in", "state": "live"}


async def test_presentations_live_ended_once_and_swept_in_expiry_order(store: Store):
    """A show code is kept live until ended, once (compare-and-set on its state; its text dropped);
    the live ones come back those that expire first first, limited, one region's only."""
    for token_id, region, exp in [("p1", "ZJ", 300), ("p2", "ZJ", 100), ("p3", "SH", 50), ("p4", "ZJ", 200),
                                  ("p5", "ZJ", 400)]:
        await store.add_presentation(_show(token_id, region, exp))
    with pytest.raises(DuplicateKey):
        await store.add_presentation(_show("p1", exp=999))
    assert await store.get_presentation("p1") == _show("p1", exp=300)
    assert await store.get_presentation("nope") is None

    assert [d["_id"] for d in await store.live_presentations("ZJ", 3)] == ["p2", "p4", "p1"]
    assert await store.end_presentation("p4", "expired", 250)
    ended = await store.get_presentation("p4")
    assert (ended["state"], ended["text"], ended["ended_at"]) == ("expired", "", 250)
    assert not await store.end_presentation("p4", "expired", 260)  # no longer live
    assert (await store.get_presentation("p4"))["ended_at"] == 250
    assert not await store.end_presentation("nope", "expired", 260)
    assert [d["_id"] for d in await store.live_presentations("ZJ", 10)] == ["p2", "p1", "p5"]
    assert [d["_id"] for d in await store.live_presentations("SH", 10)] == ["p3"]
    assert await store.live_presentations("ZJ", 0) == []
    results = await asyncio.gather(*(store.end_presentation("p5", "expired", 500 + i) for i in range(10)))
    assert results.count(True) == 1


# -- backend primitives ------------------------------------------------------------


async def test_find_filters_sort_and_limit(store: Store):
    backend = store.backend
    docs = [{"_id": f"d{i}", "region": region, "n": n, "flag": flag, "opt": opt}
            for i, (region, n, flag, opt) in enumerate(
                [("EU", 3, True, "x"), ("SG", 1, False, None), ("EU", 2, True, None),
                 ("US", 5, False, "y"), ("SG", 4, True, "x")])]
    for doc in docs:
        await backend.insert("tokens", doc)
    await backend.insert("tokens", {"_id": "d5", "region": "EU", "n": 1})  # no flag, no opt

    async def ids(filter, **kw):
        return [d["_id"] for d in await backend.find("tokens", filter, **kw)]

    assert await ids({"region": "EU"}, sort="n") == ["d5", "d2", "d0"]
    assert await ids({"region": {"$in": ["SG", "US"]}}, sort="n", descending=True) == [
        "d3", "d4", "d1"]
    assert await ids({"region": {"$in": []}}) == []
    assert await ids({"region": "EU", "n": 3}) == ["d0"]
    assert await ids({"n": "3"}) == []  # no type coercion
    assert await ids({"flag": True}, sort="_id") == ["d0", "d2", "d4"]
    assert await ids({"flag": False}, sort="_id") == ["d1", "d3"]
    assert await ids({"opt": None}, sort="_id") == ["d1", "d2", "d5"]  # null or missing
    assert await ids({"opt": {"$in": ["y", None]}}, sort="_id") == ["d1", "d2", "d3", "d5"]
    assert await ids({}, sort="n", descending=True, limit=2) == ["d3", "d4"]
    assert await ids({}, sort="_id", limit=0) == []
    assert await ids({"n": 1}, sort="region") == ["d5", "d1"]
    assert (await backend.find("tokens", {"_id": "d3"}))[0] == docs[3]
    with pytest.raises(ValueError):  # ranges ($gt ...) are the contract's too: tests/test_trail_store.py
        await backend.find("tokens", {"n": {"$ne": 1}})
    for bad in ("a..b", "a.", ".a", "a.$b", "a b"):
        with pytest.raises(ValueError):
            await backend.find("tokens", {bad: 1})
    with pytest.raises(ValueError):  # a document's own fields are plain names; a path is for filters
        await backend.insert("tokens", {"_id": "dotted", "a.b": 1})
    with pytest.raises(ValueError):
        await backend.update("tokens", "d0", {"a.b": 1})


async def test_filters_and_sorts_name_dotted_paths(store: Store):
    """A path reaches into nested objects; a missing step (or a value that is no object) is a missing field."""
    backend = store.backend
    docs = [{"_id": "p0", "f": {"photo": "aa", "n": 2, "g": {"h": True}}}, {"_id": "p1", "f": {"photo": "bb", "n": 1}},
            {"_id": "p2", "f": {"photo": "aa", "n": 3}}, {"_id": "p3", "f": "aa"}, {"_id": "p4"}]
    for doc in docs:
        await backend.insert("tokens", doc)

    async def ids(filter, **kw):
        return [d["_id"] for d in await backend.find("tokens", filter, **kw)]

    assert await ids({"f.photo": "aa"}, sort="_id") == ["p0", "p2"]
    assert await ids({"f.photo": {"$in": ["bb", "cc"]}}) == ["p1"]
    assert await ids({"f.photo": None}, sort="_id") == ["p3", "p4"]
    assert await ids({"f.n": {"$gte": 2}}, sort="f.n", descending=True) == ["p2", "p0"]
    assert await ids({"f.g.h": True}) == ["p0"]
    assert await ids({"f.photo": "aa"}, sort="f.n", limit=1) == ["p0"]


async def test_update_put_and_get(store: Store):
    backend = store.backend
    doc = {"_id": "x", "a": 1, "nested": {"k": [1, 2.5, "s", None, True]}, "f": 0.5}
    await backend.insert("tokens", doc)
    assert await backend.get("tokens", "x") == doc
    assert await backend.exists("tokens", "x") and not await backend.exists("tokens", "y")
    assert not await backend.exists("apikeys", "x")
    assert await backend.update("tokens", "x", {"a": 2, "b": {"c": "d"}, "nested": None})
    assert await backend.get("tokens", "x") == {"_id": "x", "a": 2, "b": {"c": "d"},
                                                "nested": None, "f": 0.5}
    assert not await backend.update("tokens", "x", {"a": 3}, expect={"a": 1})
    assert await backend.update("tokens", "x", {"a": 3}, expect={"a": 2, "f": 0.5})
    assert not await backend.update("tokens", "y", {"a": 1})
    assert await backend.get("tokens", "y") is None

    await backend.put("tokens", {"_id": "x", "only": "this"})
    assert await backend.get("tokens", "x") == {"_id": "x", "only": "this"}
    await backend.put("tokens", {"_id": "y", "new": True})
    assert await backend.get("tokens", "y") == {"_id": "y", "new": True}
    with pytest.raises(ValueError):
        await backend.update("tokens", "x", {"_id": "z"})
    with pytest.raises(ValueError):
        await backend.insert("nope", {"_id": "x"})


async def test_unique_index_applies_to_put_and_update(store: Store):
    backend = store.backend
    await store.insert_credential(_cred("c1", request_id="r1"))
    await store.insert_credential(_cred("c2", request_id="r2"))
    with pytest.raises(DuplicateKey):
        await backend.update("credentials", "c2", {"request_id": "r1"})
    with pytest.raises(DuplicateKey):
        await backend.put("credentials", _cred("c3", request_id="r1"))
    assert (await store.get_credential("c2"))["request_id"] == "r2"
    assert await store.get_credential("c3") is None


# -- API keys' lifecycle and the shared request counters ------------------------------------

async def test_increment_adds_atomically_and_sets_fields_only_on_insert(store: Store):
    b = store.backend
    assert await b.increment("quota_counters", {}) == {}
    assert await b.increment("quota_counters", {"a": 3, "b": 1}, {"a": {"expires_at": 10}, "b": {"expires_at": 20}}) \
        == {"a": 3, "b": 1}
    assert await b.increment("quota_counters", {"a": 2}, {"a": {"expires_at": 99}}) == {"a": 5}
    assert await b.get("quota_counters", "a") == {"_id": "a", "n": 5, "expires_at": 10}  # kept from the insert
    # many processes' increments at once, new and existing counters: every one counts
    await asyncio.gather(*(b.increment("quota_counters", {"a": 1, "c": 1}) for _ in range(20)))
    assert (await b.get("quota_counters", "a"))["n"] == 25 and (await b.get("quota_counters", "c"))["n"] == 20
    with pytest.raises(ValueError):
        await b.increment("quota_counters", {"a": 1.5})
    with pytest.raises(ValueError):
        await b.increment("nowhere", {"a": 1})


async def test_delete_removes_what_the_filter_matches(store: Store):
    for i in range(5):
        await store.backend.insert("quota_counters", {"_id": f"k{i}", "n": i, "expires_at": i * 10})
    assert await store.backend.delete("quota_counters", {"expires_at": {"$lt": 25}}) == 3
    assert [d["_id"] for d in await store.backend.find("quota_counters", {}, sort="_id")] == ["k3", "k4"]
    assert await store.backend.delete("quota_counters", {"_id": "nothing"}) == 0


async def test_shared_request_counters(store: Store):
    assert await store.add_counts({}, {}) == {}
    assert await store.add_counts({"k:m:1": 4, "k:d:1": 4}, {"k:m:1": 100, "k:d:1": 200}) == {"k:m:1": 4, "k:d:1": 4}
    assert await store.add_counts({"k:m:1": 2}, {"k:m:1": 100}) == {"k:m:1": 6}
    assert await store.get_counts(["k:m:1", "k:d:1", "k:m:2"]) == {"k:m:1": 6, "k:d:1": 4}
    assert await store.prune_counts(150) == 1  # the minute's, expired at 100
    assert await store.get_counts(["k:m:1", "k:d:1"]) == {"k:d:1": 4}


def _key(key_id: str, **extra) -> dict:
    return {"key_id": key_id, "role": "agency", "region": "EU", "disabled": False, **extra}


async def test_apikey_records_by_key_id(store: Store):
    await store.put_apikey("h1", _key("aaa"))
    await store.put_apikey("h2", _key("bbb", role="hotel", region=""))
    await store.put_apikey("h3", _key("ccc"))
    await store.put_apikey("h1b", _key("aaa", retires_at=500))  # a secret of aaa rotated away
    assert [d["_id"] for d in await store.list_apikeys()] == ["h1", "h2", "h3"]  # one per key, by id
    assert [d["key_id"] for d in await store.list_apikeys(after="aaa", limit=1)] == ["bbb"]
    assert [d["key_id"] for d in await store.list_apikeys(role="agency", region="EU")] == ["aaa", "ccc"]
    assert sorted(d["_id"] for d in await store.apikey_secrets("aaa")) == ["h1", "h1b"]
    assert await store.update_apikey("aaa", {"disabled": True}) == 2
    assert await store.update_apikey("aaa", {"last_used_at": 7}, current_only=True) == 1
    assert (await store.get_apikey("h1"))["last_used_at"] == 7 and "last_used_at" not in await store.get_apikey("h1b")
    assert await store.retire_apikey_secret("h1", 900) and not await store.retire_apikey_secret("h1", 901)
    assert (await store.get_apikey("h1"))["retires_at"] == 900
    assert await store.prune_apikey_secrets("aaa", 600) == 1  # h1b, retired at 500
    assert await store.delete_apikey("aaa") == 1 and await store.apikey_secrets("aaa") == []
    assert await store.apikeys_generation() == 0
    assert await store.apikeys_changed() == 1 and await store.apikeys_generation() == 1


async def test_ping_and_collections(store: Store):
    await store.ping()
    assert {"regions", "keys", "key_owners", "types", "rules", "trust_lists", "root_chain", "credentials", "apikeys",
            "tokens", "presentations", "trail", "trail_heads", "photos", "photo_owners", "counters",
            "quota_counters"} == set(COLLECTIONS)


# -- SQLite specifics --------------------------------------------------------------------


async def test_sqlite_persists_across_reopen(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///data/sub/ecert.db")  # relative, folders created
    assert (tmp_path / "data" / "sub" / "ecert.db").exists()
    await store.create_region("EU", "Europe")
    await store.add_key("EU", "aa", -7, "QQ==", 1, 2)
    assert await store.next_trust_version() == 1
    await store.close()
    with pytest.raises(StoreError):
        await store.ping()

    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'sub' / 'ecert.db'}")
    try:
        assert (await store.get_region("EU"))["name"] == "Europe"
        assert (await store.get_key("EU", "aa"))["status"] == "active"
        assert await store.next_trust_version() == 2
    finally:
        await store.close()


async def test_sqlite_two_backends_share_counters(tmp_path):
    path = tmp_path / "shared.db"
    first, second = await SQLiteBackend.open(path), await SQLiteBackend.open(path)
    try:
        values = await asyncio.gather(*(b.next_seq("n") for _ in range(25)
                                        for b in (first, second)))
        assert sorted(values) == list(range(1, 51))
        await first.insert("tokens", {"_id": "t"})
        with pytest.raises(DuplicateKey):
            await second.insert("tokens", {"_id": "t"})
    finally:
        await first.close()
        await second.close()


async def test_sqlite_an_existing_database_gets_the_new_indexes_on_open(tmp_path):
    """A database the previous release made (its tables and indexes, without the one on the photo a
    credential shows) gets that index when it is opened, and the look-up uses it."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE credentials (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    conn.execute("CREATE UNIQUE INDEX credentials_region_request_id ON credentials("
                 "json_extract(doc, '$.region'), json_extract(doc, '$.request_id'))")
    conn.execute("INSERT INTO credentials VALUES ('c1', ?)",
                 (json.dumps(_cred("c1", "ZJ", issued_at=1, fields={"photo": "aa"})),))
    conn.commit()
    conn.close()
    store = await open_store(f"sqlite:///{path}")
    try:
        assert [d["_id"] for d in await store.credentials_naming_photo("ZJ", "aa")] == ["c1"]
        indexes = {name for name, in await store.backend._run(
            store.backend._query, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
            ("credentials",))}
        assert {"credentials_region_request_id", "credentials_region_status_uri_status",
                "credentials_region_fields_photo"} <= indexes
        plan = await store.backend._run(
            store.backend._query, "EXPLAIN QUERY PLAN SELECT doc FROM credentials WHERE "
            "json_extract(doc, '$.region') = ? AND json_extract(doc, '$.fields.photo') = ?", ("ZJ", "aa"))
        assert any("credentials_region_fields_photo" in row[-1] for row in plan)
    finally:
        await store.close()


async def test_mongo_an_existing_database_gets_the_new_indexes_on_open():
    """As on SQLite: opening a database made without the photo index creates it."""
    database = f"ecert_test_{uuid.uuid4().hex[:12]}"
    uri = _mongo_uri(database)
    first = await MongoBackend.open(uri)
    try:
        await first.db["credentials"].drop_index("credentials_region_fields_photo")
        second = await MongoBackend.open(uri)
        try:
            info = await second.db["credentials"].index_information()
            assert info["credentials_region_fields_photo"]["key"] == [("region", 1), ("fields.photo", 1)]
        finally:
            await second.close()
    finally:
        await first.client.drop_database(database)
        await first.close()


async def test_sqlite_runs_off_the_event_loop_thread(tmp_path):
    backend = await SQLiteBackend.open(tmp_path / "t.db")
    try:
        worker = await backend._run(threading.get_ident)
        assert worker != threading.get_ident()
    finally:
        await backend.close()


# -- opening -------------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["postgres://db/x", "sqlite:///", "sqlite://x.db", "", "x.db"])
async def test_open_store_rejects_unknown_uris(uri):
    with pytest.raises(ConfigError):
        await open_store(uri)


async def test_mongo_unreachable_raises_store_error_quickly():
    started = time.monotonic()
    with pytest.raises(StoreError):
        await MongoBackend.open("mongodb://127.0.0.1:9/ecert", timeout_ms=300)
    assert time.monotonic() - started < 3


class _FakeCollection:
    """A MongoDB collection whose ``insert_many`` fails as told, recording the head writes."""

    def __init__(self, failure: Exception | None = None, head_failure: Exception | None = None):
        self.failure, self.head_failure, self.heads = failure, head_failure, []

    async def insert_many(self, docs, ordered):
        if self.failure is not None:
            raise self.failure

    async def update_one(self, filter, update, upsert):
        if self.head_failure is not None:
            raise self.head_failure
        self.heads.append((filter, update))


def _bulk_error(write_errors: list[dict], concern_errors: list[dict], inserted: int) -> BulkWriteError:
    return BulkWriteError({"writeErrors": write_errors, "writeConcernErrors": concern_errors, "nInserted": inserted,
                           "nUpserted": 0, "nMatched": 0, "nModified": 0, "nRemoved": 0, "upserted": []})


_CHAIN = [{"_id": f"CN-ZJ:{i:012d}", "seq": i, "hash": f"h{i}"} for i in (1, 2, 3)]
_HEAD = ("trail_heads", {"_id": "CN-ZJ", "seq": 3, "hash": "h3"})


async def test_mongo_a_chain_not_acknowledged_durably_is_an_error_with_no_head():
    """A write concern failure (the majority or journal acknowledgement did not come) is no success,
    even with every document inserted: StoreError, and the head is not moved."""
    coll = _FakeCollection(_bulk_error([], [{"code": 64, "errmsg": "waiting for replication timed out"}], 3))
    backend = MongoBackend(None, {"trail": coll, "trail_heads": coll})
    with pytest.raises(StoreError) as err:
        await backend.insert_chain("trail", _CHAIN, _HEAD)
    assert "replication timed out" in str(err.value) and coll.heads == []
    coll.failure = _bulk_error([{"code": 121, "errmsg": "Document failed validation", "index": 1}], [], 1)
    with pytest.raises(StoreError):
        await backend.insert_chain("trail", _CHAIN, _HEAD)
    assert coll.heads == []


async def test_mongo_a_chain_stops_at_a_duplicate_and_its_head_only_moves_forward():
    coll = _FakeCollection(_bulk_error([{"code": 11000, "errmsg": "E11000 duplicate key", "index": 2}], [], 2))
    backend = MongoBackend(None, {"trail": coll, "trail_heads": coll})
    assert await backend.insert_chain("trail", _CHAIN, _HEAD) == 2 and coll.heads == []
    coll.failure = None
    assert await backend.insert_chain("trail", _CHAIN, _HEAD) == 3
    assert coll.heads == [({"_id": "CN-ZJ", "seq": {"$lt": 3}}, {"$set": {"seq": 3, "hash": "h3"}})]
    coll.head_failure = DuplicateKeyError("E11000 duplicate key")  # a newer head is stored: kept
    assert await backend.insert_chain("trail", _CHAIN, _HEAD) == 3


async def test_concurrent_inserts_share_commits_and_fail_alone(store: Store):
    """Group commit: many concurrent inserts, duplicates among them fail one by one."""
    docs = [{"_id": f"c{i % 150}", "region": "EU", "request_id": None, "status": "valid", "status_idx": i}
            for i in range(200)]
    results = await asyncio.gather(*(store.insert_credential(d) for d in docs), return_exceptions=True)
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(failures) == 50 and all(isinstance(r, DuplicateKey) for r in failures)
    for i in range(150):
        assert (await store.get_credential(f"c{i}"))["status_idx"] == i
