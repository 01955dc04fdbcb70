"""The trail's pure rules (ecert.rules.trail): the entry's canonical text and hash, what may go into
an entry, the chain, and the walk that names the first entry altered, removed or moved."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from ecert import limits
from ecert.errors import InvalidRequest
from ecert.rules import trail

CRED = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _record(i: int, **kw) -> trail.Record:
    base = dict(id=f"e{i}", credential_id=CRED, at=1_800_000_000 + i, action="verify", actor_org="上海外滩酒店 \"东\"",
                actor_key_id="0a1b2c3d4e5f", actor_role="hotel", actor_region="CN-SH", purpose="hotel_check_in",
                result="VALID")
    return trail.Record(**{**base, **kw})


def _chain(n: int, region: str = "CN-ZJ") -> list[dict]:
    return trail.chained(region, [_record(i) for i in range(n)], 0, trail.GENESIS)


def _walk(entries, head=None, region="CN-ZJ"):
    w = trail.ChainWalk(region)
    for e in entries:
        if w.feed(e) is not None:
            return w.fault
    return w.finish(head if head is not None else {"seq": entries[-1]["seq"], "hash": entries[-1]["hash"]})


def test_the_hash_is_sha256_of_the_canonical_json_without_it():
    e = _chain(1)[0]
    expected = json.dumps({k: v for k, v in e.items() if k != "hash"}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
    assert trail.canonical(e) == expected
    assert e["hash"] == hashlib.sha256(expected).hexdigest() == trail.entry_hash(e)
    assert e["prev_hash"] == trail.GENESIS and set(e) == set(trail.ENTRY_KEYS)


def test_canonical_text_equals_json_dumps_for_awkward_text():
    rng = random.Random(12)
    alphabet = "a\"\\/\u00e9\u4e2d\U0001f600\u2028\t\n\x00\x7f "
    for _ in range(300):
        org = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        e = {**_chain(1)[0], "actor_org": org, "at": rng.randrange(0, 2**40)}
        assert trail.canonical(e) == json.dumps({k: v for k, v in e.items() if k != "hash"}, sort_keys=True,
                                                separators=(",", ":"), ensure_ascii=False).encode()


def test_each_entry_carries_the_hash_of_the_one_before():
    entries = _chain(5)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"]
    more = trail.chained("CN-ZJ", [_record(9)], 5, entries[-1]["hash"])
    assert more[0]["seq"] == 6 and more[0]["prev_hash"] == entries[-1]["hash"]
    assert _walk(entries + more) is None


def test_what_goes_into_an_entry_is_checked():
    assert trail.check_record(_record(1)) == _record(1)
    assert trail.check_record(_record(1, purpose="", result="", actor_org="", actor_region="", actor_key_id=""))
    bad = {
        "id": ["", "a b", "x" * 97, "é"],
        "credential_id": ["", "张三", "ABC"],
        "at": [-1, 2**41, "1", 1.5, True],
        "action": ["", "read", "VERIFY"],
        "actor_org": ["x" * (limits.MAX_ORG + 1), "a\nb", "a\x00", "a\u2028b", "Hotel \udcff", "\ud800"],
        "actor_key_id": ["a-b", "x" * 65],
        "actor_role": ["boss"],
        "actor_region": ["cn-sh", "上海"],
        # free text could carry a holder's name or number: a purpose is a word, a result a code
        "purpose": ["checking 张三", "id 330102199001011234", "Hotel"],
        "result": ["VALID 330102199001011234", "张三"],
    }
    for field, values in bad.items():
        for value in values:
            with pytest.raises(InvalidRequest) as err:
                trail.check_record(_record(1, **{field: value}))
            assert err.value.blamed == (field,)


def test_an_intact_chain_walks_to_the_end():
    w = trail.ChainWalk("CN-ZJ")
    entries = _chain(300)
    for e in entries:
        assert w.feed(e) is None
    assert w.finish({"seq": 300, "hash": entries[-1]["hash"]}) is None and w.count == 300
    empty = trail.ChainWalk("CN-SH")
    assert empty.finish(None) is None and empty.count == 0


def test_an_edited_entry_is_named():
    entries = _chain(10)
    entries[6] = {**entries[6], "actor_org": "someone else"}
    fault = _walk(entries)
    assert (fault.seq, fault.kind) == (7, trail.ALTERED)
    # edited with its own hash made anew: the next entry no longer follows it
    entries = _chain(10)
    entries[6] = {**entries[6], "result": "REVOKED"}
    entries[6]["hash"] = trail.entry_hash(entries[6])
    fault = _walk(entries)
    assert fault.seq == 8 and fault.kind == trail.ALTERED and "entry 7" in fault.message


def test_a_deleted_entry_is_named():
    entries = _chain(10)
    del entries[3]
    fault = _walk(entries)
    assert (fault.seq, fault.kind) == (4, trail.REMOVED)
    entries = _chain(10)
    del entries[3:6]
    fault = _walk(entries)
    assert (fault.seq, fault.kind) == (4, trail.REMOVED) and "4 to 6" in fault.message
    # the first, and the last ones (the region's recorded head still names the last)
    entries = _chain(10)
    assert _walk(entries[1:]).seq == 1
    head = {"seq": 10, "hash": entries[-1]["hash"]}
    fault = _walk(entries[:8], head)
    assert (fault.seq, fault.kind) == (9, trail.REMOVED)
    fault = _walk(entries, {"seq": 10, "hash": "0" * 64})
    assert (fault.seq, fault.kind) == (10, trail.ALTERED)
    # a head behind the chain's end: written after the entries (MongoDB), it may lag; never a fault
    assert _walk(entries, {"seq": 9, "hash": entries[8]["hash"]}) is None


def _walk_places(entries_by_place, region="CN-ZJ"):
    """The walk as ``ecert audit verify`` makes it: each entry with its place (its key in the store)."""
    w = trail.ChainWalk(region)
    for place, e in entries_by_place:
        if w.feed(e, place) is not None:
            return w.fault
    return w.finish(None if not entries_by_place else {"seq": entries_by_place[-1][0],
                                                        "hash": entries_by_place[-1][1]["hash"]})


def test_a_reordered_entry_is_named():
    entries = _chain(10)
    places = list(enumerate(entries, 1))
    assert _walk_places(places) is None
    # the numbers of 5 and 6 exchanged (each stays in its place): read in seq order, their order is reversed
    a, b = {**entries[4], "seq": 6}, {**entries[5], "seq": 5}
    fault = _walk_places(places[:4] + [(5, a), (6, b)] + places[6:])
    assert (fault.seq, fault.kind) == (5, trail.MOVED) and "renumbered 6" in fault.message
    # the two documents exchanged places, each whole
    fault = _walk_places(places[:4] + [(5, entries[5]), (6, entries[4])] + places[6:])
    assert (fault.seq, fault.kind) == (5, trail.MOVED) and "entry 6" in fault.message
    # without places (seq order): entry 6 renumbered 5 comes first
    fault = _walk(entries[:4] + [b, a] + entries[6:])
    assert (fault.seq, fault.kind) == (5, trail.MOVED) and "entry 6" in fault.message
    # moved with its hash made anew for its new place: it follows another entry than the one before
    moved = {**entries[2], "seq": 8}
    moved["hash"] = trail.entry_hash(moved)
    rest = [{**e, "seq": e["seq"] - 1} for e in entries[3:8]]
    for e in rest:
        e["hash"] = trail.entry_hash(e)
    fault = _walk(entries[:2] + rest + [moved] + entries[8:])
    assert fault.seq == 3  # the first entry not where it was written
    assert fault.kind in (trail.ALTERED, trail.MOVED)


def test_an_entry_of_another_region_or_without_members_is_altered():
    entries = _chain(3)
    assert _walk(entries, region="CN-SH").kind == trail.ALTERED
    broken = dict(entries[1])
    del broken["purpose"]
    assert (_walk([entries[0], broken, entries[2]]).seq, _walk([entries[0], broken, entries[2]]).kind) == \
        (2, trail.ALTERED)
    assert _walk([entries[0], {**entries[1], "seq": "2"}]).kind == trail.ALTERED


def test_an_entry_whose_hashes_are_no_hashes_is_altered_not_a_crash():
    """Stored JSON anyone may have edited: a ``prev_hash`` or ``hash`` that is not SHA-256 hex is
    an alteration, named like any other, even with the entry's hash made anew over it."""
    entries = _chain(3)
    for member, value in (("prev_hash", ["x"]), ("prev_hash", {"a": 1}), ("prev_hash", None), ("prev_hash", 7),
                          ("prev_hash", "ab"), ("hash", ["x"]), ("hash", entries[1]["hash"].upper())):
        edited = {**entries[1], member: value}
        fault = _walk([entries[0], edited, entries[2]])
        assert (fault.seq, fault.kind) == (2, trail.ALTERED), (member, value)
        if member == "prev_hash":
            edited["hash"] = trail.entry_hash(edited)  # passes as intact
            fault = _walk([entries[0], edited, entries[2]])
            assert (fault.seq, fault.kind) == (2, trail.ALTERED), (member, value)
    missing = dict(entries[1])
    del missing["prev_hash"]
    assert _walk([entries[0], missing]).kind == trail.ALTERED


def test_the_org_rule_is_one_for_keys_and_entries():
    from ecert.rules.apikeys import check_org, is_org_name
    for org in ("上海外滩酒店", "", "x" * limits.MAX_ORG, "Hôtel 😀"):
        assert is_org_name(org) and check_org(f"  {org} ") == org
        assert trail.check_record(_record(1, actor_org=org)).actor_org == org
    for org in ("x" * (limits.MAX_ORG + 1), "a\tb", "a\x7f", "a\u2029b", "Hotel \udcff", None, 7):
        assert not is_org_name(org)
        with pytest.raises(InvalidRequest) as err:
            check_org(org)
        assert err.value.field == "org"
        with pytest.raises(InvalidRequest) as err:
            trail.check_record(_record(1, actor_org=org))
        assert err.value.blamed == ("actor_org",)


def test_the_holder_view_names_no_key_and_no_other_credential():
    view = trail.holder_view(_chain(1)[0])
    assert set(view) == set(trail.HOLDER_KEYS)
    assert "actor_key_id" not in view and "credential_id" not in view and "id" not in view


def test_trail_limits_fit_the_verification_limits():
    assert limits.MAX_TRAIL_BATCH >= limits.MAX_BATCH  # one batch request's checks go in one delivery
    assert 1 <= limits.DEFAULT_TRAIL_PAGE <= limits.MAX_TRAIL_PAGE == 500
