"""A region's appender (services/issuer/trail.py) over a real SQLite store: grouped appends that keep
one chain, ids that make no second entry, another appender on the same chain, what verifiers
deliver, and the access log's pages."""

from __future__ import annotations

import asyncio

import pytest

from ecert.errors import InvalidRequest, NotFound, PermissionDenied
from ecert.rules import trail
from ecert.rules.access import Principal, service_principal
from ecert.store import open_store
from ecert.vocab import TrailAction
from services.issuer.trail import Trail

CRED, OTHER = "A" * 26, "B" * 26
HOTEL = Principal("hotel", "", "0a1b2c3d4e5f", "上海外滩酒店")
AGENCY = Principal("agency", "CN-ZJ", "1234567890ab", "浙江省公安厅")


async def _known(p: Principal, cred_id: str) -> None:
    if p.role not in ("agency", "admin"):
        raise PermissionDenied("no")
    if cred_id not in (CRED, OTHER):
        raise NotFound("no such credential")


@pytest.fixture
async def store(tmp_path):
    s = await open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    await s.close()


def _trail(store, region="CN-ZJ") -> Trail:
    return Trail(region, store, now=lambda: 1_800_000_000, record_region=_known)


async def _intact(store, region="CN-ZJ") -> int:
    walk = trail.ChainWalk(region)
    for e in await store.trail_entries(region, limit=100_000):
        assert walk.feed(e) is None, walk.fault
    assert walk.finish(await store.trail_head(region)) is None, walk.fault
    return walk.count


async def test_concurrent_appends_make_one_chain(store):
    t = _trail(store)
    entries = await asyncio.gather(*(t.append(action=TrailAction.VERIFY, credential_id=CRED, actor=HOTEL,
                                              purpose="hotel_check_in", outcome="VALID", at=1_800_000_000 + i)
                                     for i in range(300)))
    assert sorted(e["seq"] for e in entries) == list(range(1, 301))
    assert await _intact(store) == 300
    stored = {e["id"]: e for e in await store.trail_entries("CN-ZJ", limit=1000)}
    assert all(stored[e["id"]] == e for e in entries)
    e = entries[0]
    assert (e["actor_org"], e["actor_key_id"], e["actor_role"], e["actor_region"]) == \
        ("上海外滩酒店", "0a1b2c3d4e5f", "hotel", "")


async def test_an_id_appended_before_makes_no_second_entry(store):
    t = _trail(store)
    first = await t.append(action="issue", credential_id=CRED, actor=AGENCY, outcome="valid", entry_id="issue-x")
    again = await t.append(action="issue", credential_id=CRED, actor=AGENCY, outcome="valid", entry_id="issue-x")
    assert again == first
    both = await asyncio.gather(*(t.append(action="verify", credential_id=CRED, actor=HOTEL, entry_id=f"v{i % 3}")
                                  for i in range(9)))
    assert len({e["seq"] for e in both}) == 3
    assert await _intact(store) == 4
    # the same id in another region's chain is that region's own entry
    sh = await _trail(store, "CN-SH").append(action="issue", credential_id=OTHER, actor=AGENCY, entry_id="issue-x")
    assert sh["region"] == "CN-SH" and sh["seq"] == 1


async def test_two_appenders_on_one_chain_never_fork_it(tmp_path):
    """Two processes appending to one region's chain (two issuers of a region by mistake, or one
    restarting while the other runs): each write that finds its places taken reads the chain again."""
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b = await open_store(uri), await open_store(uri)
    try:
        ta, tb = _trail(a), _trail(b)
        await ta.append(action="verify", credential_id=CRED, actor=HOTEL)
        await tb.append(action="verify", credential_id=CRED, actor=HOTEL)  # ta's view of the end is stale now
        results = await asyncio.gather(
            *(t.append(action="verify", credential_id=CRED, actor=HOTEL, entry_id=f"{name}{i}")
              for i in range(60) for name, t in (("a", ta), ("b", tb))))
        assert len({e["id"] for e in results}) == 120 and len({e["seq"] for e in results}) == 120
        assert await _intact(a) == 122
    finally:
        await a.close()
        await b.close()


async def test_what_a_verifier_delivers(store):
    t = _trail(store)
    records = [trail.Record(id=f"line-1.{i}", credential_id=CRED, at=1_800_000_000, action="verify",
                            actor_org="上海外滩酒店", actor_key_id="0a1b2c3d4e5f", actor_role="hotel",
                            purpose="hotel_check_in", result="VALID") for i in range(5)]
    bad = trail.Record(id="line-1.5", credential_id=CRED, at=1, action="verify", purpose="checking 张三")
    got = await t.record_delivered(service_principal(), [*records, bad])
    assert (got.recorded, got.duplicates, got.refused) == (5, 0, ["line-1.5"])
    got = await t.record_delivered(service_principal(), records[2:])  # delivered again: no second entries
    assert (got.recorded, got.duplicates) == (0, 3)
    assert await _intact(store) == 5
    with pytest.raises(PermissionDenied):  # only the suite's own verifier delivers
        await t.record_delivered(HOTEL, records)
    with pytest.raises(InvalidRequest):
        await t.record_delivered(service_principal(), records * 201)


async def test_the_access_log_in_pages(store):
    t = _trail(store)
    for i in range(7):
        await t.append(action="verify", credential_id=CRED if i % 2 == 0 else OTHER, actor=HOTEL,
                       outcome="VALID", at=1_800_000_000 + i)
    page = await t.access_log(AGENCY, CRED, 0, 2)
    assert [e["seq"] for e in page.entries] == [1, 3] and page.next == 3
    page = await t.access_log(AGENCY, CRED, page.next, 2)
    assert [e["seq"] for e in page.entries] == [5, 7] and page.next is None
    assert [e["seq"] for e in (await t.access_log(AGENCY, CRED)).entries] == [1, 3, 5, 7]  # limit 0: default
    with pytest.raises(PermissionDenied):
        await t.access_log(HOTEL, CRED)
    with pytest.raises(NotFound):
        await t.access_log(AGENCY, "C" * 26)
    for after, limit in ((-1, 10), (0, 501), (0, -3), (2**41, 10)):
        with pytest.raises(InvalidRequest):
            await t.access_log(AGENCY, CRED, after, limit)


async def test_members_out_of_shape_are_refused_before_anything_is_written(store):
    t = _trail(store)
    with pytest.raises(InvalidRequest) as err:
        await t.append(action="verify", credential_id=CRED, actor=HOTEL, purpose="for 张三 330102199001011234")
    assert err.value.blamed == ("purpose",)
    with pytest.raises(InvalidRequest):
        await t.append(action="looked", credential_id=CRED, actor=HOTEL)
    assert await store.trail_entries("CN-ZJ") == []


async def test_a_verifier_delivers_checks_only_under_ids_of_its_own(store):
    """A delivery cannot write an issuance, a status change or a photo's use into a holder's log, nor
    take the id of an entry the issuer makes itself (which would stand in for that entry)."""
    t = _trail(store)

    def rec(i: str, action: str = "verify", result: str = "VALID") -> trail.Record:
        return trail.Record(id=i, credential_id=CRED, at=1_800_000_000, action=action, actor_org="某某公安局",
                            actor_key_id="0a1b2c3d4e5f", actor_role="service", actor_region="CN-ZJ", result=result)

    forged = [rec("line-2.0", "status_change", "revoked"), rec("line-2.1", "issue", "valid"),
              rec("line-2.2", "photo_reuse", "reused"), rec("line-2.3", "resolve"), rec("line-2.4", "present", ""),
              rec(f"issue-{CRED}"), rec(f"photo-reuse-{CRED}"), rec(f"status-{CRED}-1")]
    got = await t.record_delivered(service_principal(), [*forged, rec("line-2.9")])
    assert (got.recorded, got.duplicates) == (1, 0) and got.refused == [r.id for r in forged]
    assert [(e["action"], e["id"]) for e in await store.trail_entries("CN-ZJ")] == [("verify", "line-2.9")]
