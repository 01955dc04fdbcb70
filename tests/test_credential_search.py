"""``GET /v1/credentials`` on the real suite: a region's agency (or an admin naming the region) finds
what it issued by type, status, time of issue and the holder's ID number, newest first, a page at a
time through an opaque cursor; the number is found by its keyed hash and never stored for searching;
each credential answered is recorded in its holder's trail; every malformed parameter is a 400
naming it, and any other caller a 403."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import time
from urllib.parse import quote

import pytest
import pytest_asyncio

from ecert.rules import apikeys
from services.issuer.search import KEY_FILE
from services.issuer.servicer import region_dir
from testkit.samples import SAMPLES, citizen_id
from tests.conftest import bearer, gateway_client
from tests.harness import start_suite

pytestmark = pytest.mark.asyncio(loop_scope="session")

ZJ = "CN-ZJ"
AGENCY_ORG = "浙江省公安厅户政窗口"
HOLDER_A = SAMPLES["cn.resident_id"]["id_number"]  # 31010419900307123X: its check character is X
HOLDER_B = citizen_id("33010619900307123")
HOLDER_C = citizen_id("33010219850612001")
NOBODY = citizen_id("11010519491001003")
BASE = (int(time.time()) // 3600 + 48) * 3600  # two days on: after every credential another test issued
T0, T1, T2, T3 = BASE, BASE + 100, BASE + 200, BASE + 300
AT_T1, AT_T2, AT_T3 = 5, 4, 3  # credentials of C issued in the same second: the cursor's id breaks ties


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self) -> int:
        return self.t


def _resident(number: str, birth: str) -> dict:
    return {**SAMPLES["cn.resident_id"], "id_number": number, "birth_date": birth}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(tmp_path_factory):
    """A suite of its own (the counts below are exact), its issuers on a clock of the test's, and
    what was issued in CN-ZJ."""
    suite = await start_suite(tmp_path_factory.mktemp("search"))
    clock = Clock()
    for issuer in suite.issuers.values():
        issuer.now = clock
    keys = {
        "agency": (await apikeys.create_api_key(suite.store, "agency", ZJ, org=AGENCY_ORG))[0],
        "agency_sh": await suite.api_key("agency", "CN-SH"),
        "admin": await suite.api_key("admin"),
        "hotel": await suite.api_key("hotel"),
        "police": await suite.api_key("traffic_police", "CN-JS"),
        "integrator": await suite.api_key("integrator"),
    }
    async with gateway_client(suite) as http:
        issued: dict[str, list[dict]] = {"A": [], "B": [], "C": []}

        async def issue(holder: str, fields: dict, type_: str = "cn.resident_id", region: str = ZJ) -> dict:
            key = keys["agency"] if region == ZJ else keys["agency_sh"]
            r = await http.post("/v1/credentials", headers=bearer(key),
                                json={"region": region, "type": type_, "fields": fields})
            body = await r.json()
            assert r.status == 201, body
            issued[holder].append(body)
            return body

        await issue("A", SAMPLES["cn.resident_id"])
        clock.t = T0 + 10
        await issue("A", SAMPLES["cn.driving_licence"], "cn.driving_licence")
        await issue("B", _resident(HOLDER_B, "1990-03-07"))
        for t, n in ((T1, AT_T1), (T2, AT_T2), (T3, AT_T3)):
            clock.t = t
            for _ in range(n):
                await issue("C", _resident(HOLDER_C, "1985-06-12"))
        clock.t = T3 + 10
        other = await issue("A", SAMPLES["cn.resident_id"], region="CN-SH")  # the same holder in another region
        issued["A"].remove(other)
        revoked, suspended = issued["C"][0]["id"], issued["C"][1]["id"]
        for cred, action in ((revoked, "revoke"), (suspended, "suspend")):
            r = await http.post(f"/v1/credentials/{cred}:{action}", headers=bearer(keys["agency"]))
            assert r.status == 200
        clock.t = T3 + 20
        yield {"suite": suite, "http": http, "keys": keys, "issued": issued, "clock": clock, "revoked": revoked,
               "suspended": suspended, "other_region": other["id"]}
    await suite.close()


async def _search(world, key: str = "agency", **params) -> tuple[int, dict]:
    r = await world["http"].get("/v1/credentials", headers=bearer(world["keys"][key]),
                                params={k: str(v) for k, v in params.items()})
    return r.status, await r.json()


async def _all(world, key: str = "agency", **params) -> list[dict]:
    """Every page of a search, in order."""
    items, cursor, pages = [], None, 0
    while True:
        status, body = await _search(world, key, **params, **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        items += body["items"]
        pages += 1
        assert pages < 100
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _ids(items) -> list[str]:
    return [c["id"] for c in items]


def _newest_first(creds) -> list[str]:
    return [c["id"] for c in sorted(creds, key=lambda c: (c["issued_at"], c["id"]), reverse=True)]


def _blamed(body: dict) -> list[str]:
    error = body["error"]
    return list(error.get("fields") or ([error["field"]] if error.get("field") else []))


# -- finding -----------------------------------------------------------------------------------

async def test_pages_through_more_than_a_page_with_no_duplicate_and_no_gap(world):
    mine = world["issued"]["A"] + world["issued"]["B"] + world["issued"]["C"]
    resident = [c for c in mine if c["type"] == "cn.resident_id"]
    assert len(resident) > 2 * 2
    for limit in (1, 2, 5):
        items = await _all(world, type="cn.resident_id", issued_after=_iso(T0), limit=limit)
        assert _ids(items) == _newest_first(resident)  # each once, none skipped, newest first (ties by id)
    status, body = await _search(world, type="cn.resident_id", issued_after=_iso(T0), limit=2)
    assert status == 200 and len(body["items"]) == 2 and isinstance(body["next_cursor"], str)


async def test_an_answer_is_a_summary_without_personal_fields(world):
    status, body = await _search(world, holder_id=HOLDER_B)
    assert status == 200
    (item,) = body["items"]
    b = world["issued"]["B"][0]
    assert item == {"id": b["id"], "region": ZJ, "type": "cn.resident_id", "version": b["version"], "status": "valid",
                    "issued_at": _iso(T0 + 10), "expires_at": b["expires_at"], "display_id": b["display_id"]}
    assert body["next_cursor"] is None


async def test_filters_by_type_status_and_time_of_issue(world):
    issued = world["issued"]
    assert _ids(await _all(world, type="cn.driving_licence", issued_after=_iso(T0))) == [issued["A"][1]["id"]]
    assert _ids(await _all(world, status="revoked", issued_after=_iso(T0))) == [world["revoked"]]
    assert _ids(await _all(world, status="suspended")) == [world["suspended"]]
    valid = await _all(world, status="valid", issued_after=_iso(T0))
    assert world["revoked"] not in _ids(valid) and len(valid) == 2 + 1 + AT_T1 + AT_T2 + AT_T3 - 2
    # issued_after inclusive, issued_before exclusive: consecutive windows share nothing
    at_t1 = await _all(world, issued_after=_iso(T1), issued_before=_iso(T2))
    at_t2 = await _all(world, issued_after=_iso(T2), issued_before=_iso(T3))
    assert len(at_t1) == AT_T1 and len(at_t2) == AT_T2
    assert {c["issued_at"] for c in at_t1} == {_iso(T1)} and {c["issued_at"] for c in at_t2} == {_iso(T2)}
    # a bound in a fraction of a second takes the next whole one
    assert len(await _all(world, issued_after=_iso(T1 - 1)[:-1] + ".5Z", issued_before=_iso(T2))) == AT_T1
    # every filter at once, paged
    both = await _all(world, type="cn.resident_id", status="valid", issued_after=_iso(T1),
                      issued_before=_iso(T3), holder_id=HOLDER_C, limit=3)
    assert len(both) == AT_T1 + AT_T2 - 2


async def test_finds_a_holder_by_id_number_and_only_in_its_region(world):
    a = world["issued"]["A"]
    for number in (HOLDER_A, HOLDER_A.lower(), f"  {HOLDER_A} "):  # the check character x is X
        assert _ids(await _all(world, holder_id=number)) == _newest_first(a)
    assert _ids(await _all(world, holder_id=HOLDER_B)) == [world["issued"]["B"][0]["id"]]
    assert await _all(world, holder_id=NOBODY) == []
    sh = await _all(world, "agency_sh", holder_id=HOLDER_A)  # another region's issuer, its own key
    assert _ids(sh) == [world["other_region"]]
    admin = await _all(world, "admin", region=ZJ, holder_id=HOLDER_A, type="cn.driving_licence")
    assert _ids(admin) == [a[1]["id"]]


def _issuer_config(suite):
    class Cfg:  # region_dir reads these two only
        var_dir = suite.var_dir
        region = ZJ
    return Cfg


async def test_the_store_keeps_only_a_keyed_hash_to_search_by(world):
    suite = world["suite"]
    key_file = region_dir(_issuer_config(suite)) / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = bytes.fromhex(key_file.read_text().strip())
    assert len(key) == 32 and key == suite.issuers[ZJ].search.key
    docs = await suite.store.backend.find("credentials", {"region": ZJ})
    numbers = {HOLDER_A, HOLDER_B, HOLDER_C}
    for doc in docs:
        number = doc["fields"]["id_number"]
        assert doc["holder_hash"] == hmac.new(key, number.encode(), hashlib.sha256).hexdigest()
        assert doc["holder_hash"] != hashlib.sha256(number.encode()).hexdigest()  # keyed: not a plain digest
        rest = json.dumps({k: v for k, v in doc.items() if k != "fields"}, ensure_ascii=False)
        assert not any(n in rest or n.lower() in rest for n in numbers)  # the number only in the document's fields
    sh_hash = (await suite.store.get_credential(world["other_region"]))["holder_hash"]
    assert sh_hash not in {d["holder_hash"] for d in docs}  # each region its own key: no hash joins two regions


async def test_each_credential_found_is_recorded_in_its_holder_s_trail(world):
    http, keys = world["http"], world["keys"]
    b = world["issued"]["B"][0]["id"]
    world["clock"].t = T3 + 30
    assert _ids(await _all(world, holder_id=HOLDER_B, purpose="business_check")) == [b]
    world["clock"].t = T3 + 40
    assert b in _ids(await _all(world, issued_after=_iso(T0), issued_before=_iso(T1)))
    r = await http.get(f"/v1/credentials/{b}/access-log", headers=bearer(keys["agency"]))
    body = await r.json()
    searches = [e for e in body["entries"] if e["action"] == "search"]
    assert [(e["actor_org"], e["actor_role"], e["actor_region"], e["purpose"], e["result"], e["at"])
            for e in searches][-2:] == [
        (AGENCY_ORG, "agency", ZJ, "business_check", "by_holder", _iso(T3 + 30)),
        (AGENCY_ORG, "agency", ZJ, "general", "listed", _iso(T3 + 40))]
    entries = await world["suite"].store.trail_entries(ZJ, 0, 10_000)
    text = json.dumps(entries, ensure_ascii=False)
    assert HOLDER_B not in text and HOLDER_A not in text  # the trail never holds the number


async def test_a_search_answering_nothing_records_nothing(world):
    before = len(await world["suite"].store.trail_entries(ZJ, 0, 10_000))
    assert await _all(world, holder_id=NOBODY) == []
    assert len(await world["suite"].store.trail_entries(ZJ, 0, 10_000)) == before


# -- who may search --------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["hotel", "police", "integrator"])
async def test_callers_that_read_no_records_are_refused(world, key):
    for params in ({}, {"region": ZJ}, {"holder_id": HOLDER_A, "region": ZJ}):
        status, body = await _search(world, key, **params)
        assert status == 403, body


async def test_an_agency_searches_its_own_region_only(world):
    status, body = await _search(world, "agency_sh", region=ZJ, holder_id=HOLDER_A)
    assert status == 403 and body["error"]["code"] == "FORBIDDEN"
    status, body = await _search(world, "agency", region=ZJ, limit=1)
    assert status == 200 and body["items"][0]["region"] == ZJ
    status, body = await _search(world, "agency_sh", limit=200)
    assert status == 200 and {c["region"] for c in body["items"]} == {"CN-SH"}


async def test_an_admin_names_the_region(world):
    status, body = await _search(world, "admin")
    assert status == 400 and _blamed(body) == ["region"]
    status, body = await _search(world, "admin", region="XX-ZZ")
    assert status == 404 and body["error"]["code"] == "REGION_UNKNOWN", body
    status, body = await _search(world, "admin", region="CN-AH")  # a region the registry knows, with no issuer
    assert status == 503 and body["error"]["code"] == "REGION_UNAVAILABLE", body
    assert len(await _all(world, "admin", region=ZJ, issued_after=_iso(T0), limit=200)) == \
        len(world["issued"]["A"]) + 1 + AT_T1 + AT_T2 + AT_T3


async def test_no_key_is_401(world):
    r = await world["http"].get("/v1/credentials")
    assert r.status == 401


# -- bad parameters --------------------------------------------------------------------------

BAD = [
    ({"status": "expired"}, "status"),
    ({"status": "VALID"}, "status"),
    ({"type": "Cn.Resident"}, "type"),
    ({"type": "x" * 65}, "type"),
    ({"issued_after": "2026-01-01"}, "issued_after"),
    ({"issued_after": "yesterday"}, "issued_after"),
    ({"issued_after": "2026-01-01T00:00:00"}, "issued_after"),  # no offset
    ({"issued_after": "2026-02-30T00:00:00Z"}, "issued_after"),
    ({"issued_before": "1969-12-31T23:59:59Z"}, "issued_before"),
    ({"issued_after": "2026-02-01T00:00:00Z", "issued_before": "2026-01-01T00:00:00Z"}, "issued_before"),
    ({"issued_after": "2026-01-01T00:00:00Z", "issued_before": "2026-01-01T00:00:00Z"}, "issued_before"),
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "not a cursor"}, "cursor"),
    ({"cursor": "MTpub3Q"}, "cursor"),
    ({"cursor": "x" * 300}, "cursor"),
    ({"holder_id": "3301-0619"}, "holder_id"),
    ({"holder_id": "9" * 65}, "holder_id"),
    ({"holder_id": "张三"}, "holder_id"),
    ({"region": "zj"}, "region"),
    ({"purpose": "gossip"}, "purpose"),
    ({"holderid": HOLDER_A}, "holderid"),  # a misspelt filter would otherwise answer every credential
]


@pytest.mark.parametrize("params,name", BAD, ids=[n + "-" + str(i) for i, (_, n) in enumerate(BAD)])
async def test_a_bad_parameter_is_a_400_naming_it(world, params, name):
    status, body = await _search(world, **params)
    assert status == 400, body
    assert _blamed(body) == [name], body
    text = json.dumps(body, ensure_ascii=False)
    assert HOLDER_A not in text and "3301-0619" not in text  # never repeated back


async def test_a_parameter_given_twice_is_a_400(world):
    r = await world["http"].get(f"/v1/credentials?status=valid&status=revoked", headers=bearer(world["keys"]["agency"]))
    body = await r.json()
    assert r.status == 400 and _blamed(body) == ["status"]


async def test_a_cursor_works_only_for_the_search_that_answered_it(world):
    status, body = await _search(world, holder_id=HOLDER_C, limit=2)
    cursor = body["next_cursor"]
    assert status == 200 and cursor
    status, again = await _search(world, holder_id=HOLDER_C, limit=2, cursor=cursor)  # the limit may change
    assert status == 200 and not set(_ids(again["items"])) & set(_ids(body["items"]))
    for other in ({"holder_id": HOLDER_A}, {"holder_id": HOLDER_C, "status": "valid"}, {}):
        status, refused = await _search(world, **other, cursor=cursor)
        assert status == 400 and _blamed(refused) == ["cursor"]
    r = await world["http"].get(f"/v1/credentials?cursor={quote(cursor)}&holder_id={HOLDER_C}",
                                headers=bearer(world["keys"]["agency_sh"]))
    assert r.status == 400  # another region's issuer: a search it did not answer (other key: other hash)
    status, body = await _search(world, status="valid", limit=1)
    status, refused = await _search(world, "agency_sh", status="valid", cursor=body["next_cursor"])
    assert status == 400 and _blamed(refused) == ["cursor"]  # the region is the cursor's too


async def test_a_cursor_made_outside_the_issuer_is_refused(world):
    """A cursor's digest is keyed by the region's search key: a client cannot make one (nor learn
    from one anything of the holder hash it was answered for)."""
    import base64
    import calendar

    status, body = await _search(world, limit=1)
    assert status == 200 and body["next_cursor"]
    last = body["items"][-1]
    issued_at = calendar.timegm(time.strptime(last["issued_at"], "%Y-%m-%dT%H:%M:%SZ"))
    plain = hashlib.sha256("\x1f".join((ZJ, "", "", "0", "0", "")).encode()).hexdigest()[:16]
    for digest in (plain, "0" * 16):
        forged = base64.urlsafe_b64encode(f"1:{issued_at}:{last['id']}:{digest}".encode()).decode().rstrip("=")
        status, refused = await _search(world, limit=1, cursor=forged)
        assert status == 400 and _blamed(refused) == ["cursor"], refused
    status, again = await _search(world, limit=1, cursor=body["next_cursor"])
    assert status == 200 and again["items"] and again["items"][0]["id"] != last["id"]


async def test_the_issuer_checks_who_searches_whatever_the_gateway_did(world):
    from ecert.errors import PermissionDenied
    from ecert.rules.access import Principal
    from services.issuer.search import SUMMARY, Query

    issuer = world["suite"].issuers[ZJ]
    for p in (Principal("hotel", "", "k1"), Principal("traffic_police", "CN-JS", "k2"),
              Principal("integrator", "", "k3"), Principal("agency", "CN-SH", "k4"), Principal("", "", "")):
        with pytest.raises(PermissionDenied):
            await issuer.find(p, Query(holder_id=HOLDER_A))
    page = await issuer.find(Principal("admin", "", "k5"), Query(holder_id=HOLDER_A, limit=1))
    assert page.items and set(page.items[0]) == {"_id", *SUMMARY}  # no holder hash, no field of the document
