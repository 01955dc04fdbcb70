"""Issue 12, the photo library in an issuer's rules, without a server: uploads kept once, a
credential's photo held by its region, reuse by citizen ID number, and who is served a photo.
A real SQLite store and trail, the registry faked in the test, the clock moved by hand."""

from __future__ import annotations

import asyncio
import json
import logging
import types

import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RuleViolation,
    TooLarge,
    Unavailable,
    UnsupportedMedia,
)
from ecert.format.keys import SigningKey
from ecert.imaging import portrait
from ecert.limits import MAX_PHOTO_UPLOADS_WAITING
from ecert.rules.access import Principal
from ecert.store import default_uri, open_store
from ecert.vocab import TrailAction
from services.issuer.domain import Issuer
from services.issuer.photos import id_hash
from testkit import photos
from testkit.samples import SAMPLES, driving_licence
from tests.test_issuer_domain import FakeRegistry

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
ZJ = Principal("agency", "CN-ZJ", "zjkey", "浙江省公安厅交通管理局")
SH = Principal("agency", "CN-SH", "shkey", "上海市公安局")
ADMIN = Principal("admin", "", "adminkey", "运维")
HOTEL = Principal("hotel", "CN-SH", "hotelkey", "上海外滩酒店")
POLICE = Principal("traffic_police", "CN-JS", "policekey", "江苏交警")
INTEGRATOR = Principal("integrator", "", "intkey", "某集成商")
DL, ID = "cn.driving_licence", "cn.resident_id"
RESIDENT = {**SAMPLES[ID], "name": "陈思琪", "id_number": "33010619880512442X", "birth_date": "1988-05-12",
            "sex": "女"} | {
    "address": "浙江省杭州市西湖区文三路100号", "issuing_authority": "杭州市公安局西湖分局"}


class TrailSpy:
    """The issuer's real trail, and the appends made to it beyond issuance, in order (``action``,
    ``credential_id``, ``actor``, ``purpose``, ``outcome`` as the call gave them)."""

    def __init__(self, trail):
        self.trail = trail
        self.entries: list[dict] = []
        real = trail.append

        async def append(**call):
            entry = await real(**call)
            self.entries.append({"purpose": "", "outcome": "", **call, "entry": entry})
            return entry

        trail.append = append

    def of(self, action: TrailAction) -> list[dict]:
        return [e for e in self.entries if e["action"] == action]


@pytest_asyncio.fixture
async def env(tmp_path):
    store = await open_store(default_uri(tmp_path))
    clock = FixedClock(T0)
    issuers = {}
    for region in ("CN-ZJ", "CN-SH"):
        issuer = Issuer(region, store, SigningKey.generate(), FakeRegistry(), default_valid_days=365, status_ttl=10,
                        now=clock, monotonic=FixedClock(1000))
        issuers[region] = issuer
    spies = {region: TrailSpy(issuer.trail) for region, issuer in issuers.items()}
    yield types.SimpleNamespace(store=store, clock=clock, zj=issuers["CN-ZJ"], sh=issuers["CN-SH"],
                                zj_trail=spies["CN-ZJ"], sh_trail=spies["CN-SH"])
    await store.close()


async def _issue(issuer: Issuer, type_id: str, fields: dict, p: Principal = ZJ, request_id: str = "") -> dict:
    return await issuer.issue(p, type_id, 0, json.dumps(fields, ensure_ascii=False), 0, request_id)


# -- uploads --------------------------------------------------------------------------------------

async def test_an_upload_is_kept_once_and_recorded(env):
    first, created = await env.zj.photos.put(ZJ, photos.portrait(1, gps=True))
    assert created and first.digest == portrait.reencode(photos.portrait(1)).digest
    again, created = await env.zj.photos.put(ADMIN, photos.portrait(1))  # the same pixels, without the location
    assert not created and again.digest == first.digest
    held = await env.store.get_photo("CN-ZJ", first.digest)
    assert held["bytes"] == first.data and held["at"] == T0
    assert env.zj_trail.entries == []  # a picture filed is no use of anybody's credential yet
    assert not await env.store.has_photo("CN-SH", first.digest)  # each region its own library


async def test_only_the_regions_agency_or_an_admin_files_photos_and_bad_pictures_are_named(env):
    for who in (SH, HOTEL, POLICE, INTEGRATOR):
        with pytest.raises(PermissionDenied):
            await env.zj.photos.put(who, photos.portrait(2))
    with pytest.raises(UnsupportedMedia):
        await env.zj.photos.put(ZJ, b"GIF89a....")
    with pytest.raises(TooLarge):
        await env.zj.photos.put(ZJ, bytes(photos.portrait(2)[:3]) + b"\0" * (6 * 1024 * 1024))
    with pytest.raises(RuleViolation) as err:
        await env.zj.photos.put(ZJ, photos.portrait(2, size=(640, 480)))
    assert err.value.code == "PHOTO_NOT_PORTRAIT"
    assert env.zj_trail.entries == []  # nothing filed, nothing recorded


async def test_uploads_over_the_waiting_bound_are_busy(env, monkeypatch):
    """While MAX_PHOTO_UPLOADS_WAITING uploads are being re-encoded or wait for it, one more is 503
    BUSY at once (it holds no picture); once they are done, uploads are taken again."""
    held = photos.HeldReencoding(monkeypatch)
    uploads = [asyncio.create_task(env.zj.photos.put(ZJ, photos.portrait(13))) for _ in range(MAX_PHOTO_UPLOADS_WAITING)]
    assert await asyncio.to_thread(held.entered.wait, 10)  # every upload has started: re-encoding, or waiting for it
    try:
        with pytest.raises(Unavailable) as err:
            await env.zj.photos.put(ADMIN, photos.portrait(14))
        assert err.value.code == "BUSY"
        with pytest.raises(PermissionDenied):  # the caller is judged first
            await env.zj.photos.put(HOTEL, photos.portrait(14))
    finally:
        held.release()
    done = await asyncio.gather(*uploads)
    assert [created for _, created in done].count(True) == 1 and len({s.digest for s, _ in done}) == 1
    assert not await env.store.has_photo("CN-ZJ", held.real(photos.portrait(14)).digest)  # the busy one: not filed
    stored, created = await env.zj.photos.put(ADMIN, photos.portrait(14))
    assert created and await env.store.has_photo("CN-ZJ", stored.digest)


# -- issuance -------------------------------------------------------------------------------------

async def test_a_credential_must_name_a_photo_its_region_holds(env):
    with pytest.raises(RuleViolation) as err:
        await _issue(env.zj, DL, driving_licence())
    assert (err.value.code, err.value.field) == ("PHOTO_UNKNOWN", "photo")
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(3))
    doc = await _issue(env.zj, DL, driving_licence(photo=stored.digest))
    assert doc["fields"]["photo"] == stored.digest
    with pytest.raises(RuleViolation) as err:  # held in Zhejiang, not in Shanghai
        await _issue(env.sh, DL, driving_licence(photo=stored.digest), p=SH)
    assert err.value.code == "PHOTO_UNKNOWN"
    with pytest.raises(RuleViolation) as err:  # a malformed digest is the schema's to refuse, first
        await _issue(env.zj, DL, driving_licence(photo="XYZ"))
    assert err.value.code == "SCHEMA_INVALID"


async def test_a_second_document_reuses_the_portrait_on_file_for_the_id_number(env):
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(4))
    licence = await _issue(env.zj, DL, driving_licence(photo=stored.digest, id_number=RESIDENT["id_number"],
                                                       birth_date="1988-05-12", sex="女"))
    assert [e["action"] for e in await env.store.credential_trail("CN-ZJ", licence["_id"])] == ["issue"]  # named
    card = await _issue(env.zj, ID, {**RESIDENT, "photo": {"reuse_for": RESIDENT["id_number"].lower()}})
    assert card["fields"]["photo"] == stored.digest
    entries = await env.store.credential_trail("CN-ZJ", card["_id"])  # the reuse, right after the issuance
    assert [(e["action"], e["actor_key_id"], e["result"]) for e in entries] == [
        ("issue", "zjkey", "valid"), ("photo_reuse", "zjkey", "reused")]
    # the index holds the newest portrait, keyed by the number's hash, never the number
    held = await env.store.get_photo_owner("CN-ZJ", id_hash(RESIDENT["id_number"]))
    assert held["digest"] == stored.digest and held["credential_id"] == card["_id"]
    assert RESIDENT["id_number"] not in json.dumps(held) and RESIDENT["id_number"].lower() not in json.dumps(held)
    # a new portrait filed with a later document is the one reused from then on
    env.clock.advance(3600)
    newer, _ = await env.zj.photos.put(ZJ, photos.portrait(5))
    await _issue(env.zj, ID, {**RESIDENT, "photo": newer.digest})
    env.clock.advance(60)
    third = await _issue(env.zj, ID, {**RESIDENT, "photo": {"reuse_for": RESIDENT["id_number"]}})
    assert third["fields"]["photo"] == newer.digest != licence["fields"]["photo"]


async def test_reuse_is_refused_without_a_portrait_on_file_or_for_someone_else(env):
    with pytest.raises(RuleViolation) as err:
        await _issue(env.zj, ID, {**RESIDENT, "photo": {"reuse_for": RESIDENT["id_number"]}})
    assert (err.value.code, err.value.field) == ("PHOTO_NOT_ON_FILE", "photo")
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(6))
    await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})
    with pytest.raises(RuleViolation) as err:  # Shanghai has no portrait of this resident
        await _issue(env.sh, ID, {**RESIDENT, "photo": {"reuse_for": RESIDENT["id_number"]}}, p=SH)
    assert err.value.code == "PHOTO_NOT_ON_FILE"
    other = SAMPLES[ID]["id_number"]  # another person's number: their portrait is not this holder's
    with pytest.raises(RuleViolation) as err:
        await _issue(env.zj, ID, {**RESIDENT, "photo": {"reuse_for": other}})
    assert err.value.code == "FIELDS_INCONSISTENT" and err.value.fields == ("photo", "id_number")
    for bad in ({"reuse_for": ""}, {"reuse_for": 330106}, {"reuse_for": RESIDENT["id_number"], "x": 1}, {},
                {"reuse_for": "1" * 65}):
        with pytest.raises(InvalidRequest) as err:
            await _issue(env.zj, ID, {**RESIDENT, "photo": bad})
        assert err.value.field == "photo"
    assert await _reuses(env) == []


async def _reuses(env) -> list[dict]:
    """Zhejiang's trail entries recording a portrait reused (as the store holds them)."""
    return [e for e in await env.store.trail_entries("CN-ZJ") if e["action"] == TrailAction.PHOTO_REUSE]


async def test_a_repeated_request_with_reuse_answers_the_first_credential(env):
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(7))
    await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})
    fields = {**RESIDENT, "photo": {"reuse_for": RESIDENT["id_number"]}}
    first = await _issue(env.zj, ID, fields, request_id="zj-2027-0001")
    again = await _issue(env.zj, ID, fields, request_id="zj-2027-0001")
    assert again["_id"] == first["_id"] and [e["credential_id"] for e in await _reuses(env)] == [first["_id"]]


# -- serving --------------------------------------------------------------------------------------

async def test_a_photo_is_served_to_the_roles_shown_it_and_each_access_is_recorded(env):
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(8))
    card = await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})
    for who in (HOTEL, POLICE, ZJ, ADMIN):
        assert (await env.zj.photos.get(who, stored.digest, card["_id"]))["bytes"] == stored.data
    for who in (INTEGRATOR, SH):  # an integrator sees no photo; another region's agency reads as the type says
        with pytest.raises(PermissionDenied):
            await env.zj.photos.get(who, stored.digest, card["_id"])
    access = env.zj_trail.of(TrailAction.PHOTO_ACCESS)
    assert [(e["actor"].role, e["purpose"], e["outcome"], e["credential_id"]) for e in access] == [
        ("hotel", "hotel_check_in", "served", card["_id"]),
        ("traffic_police", "roadside_driver_check", "served", card["_id"]),
        ("agency", "general", "served", card["_id"]), ("admin", "general", "served", card["_id"])]
    held = await env.zj.photos.get(HOTEL, stored.digest, card["_id"], without_image=True, purpose="hotel_check_in")
    assert held["bytes"] == b"" and env.zj_trail.entries[-1]["outcome"] == "not_modified"
    log = (await env.zj.trail.access_log(ZJ, card["_id"])).entries  # what the holder reads
    assert [(e["action"], e["actor_org"], e["actor_region"], e["result"]) for e in log] == [
        ("issue", ZJ.org, "CN-ZJ", "valid"), ("photo_access", HOTEL.org, "CN-SH", "served"),
        ("photo_access", POLICE.org, "CN-JS", "served"), ("photo_access", ZJ.org, "CN-ZJ", "served"),
        ("photo_access", ADMIN.org, "", "served"), ("photo_access", HOTEL.org, "CN-SH", "not_modified")]


async def test_an_other_regions_agency_sees_a_licence_photo_as_its_type_says(env):
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(9))
    licence = await _issue(env.zj, DL, driving_licence(photo=stored.digest))
    # cn.driving_licence: another region's agency reads as traffic police, who see the photo
    assert (await env.zj.photos.get(SH, stored.digest, licence["_id"]))["digest"] == stored.digest


async def test_a_photo_is_served_only_for_a_credential_of_this_region_that_names_it(env):
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(10))
    other, _ = await env.zj.photos.put(ZJ, photos.portrait(11))
    card = await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})
    with pytest.raises(NotFound):  # the credential names another photo
        await env.zj.photos.get(HOTEL, other.digest, card["_id"])
    with pytest.raises(NotFound):  # another region's issuer holds no such credential
        await env.sh.photos.get(HOTEL, stored.digest, card["_id"])
    with pytest.raises(NotFound):
        await env.zj.photos.get(HOTEL, stored.digest, "A" * 26)
    with pytest.raises(NotFound):
        await env.zj.photos.get(HOTEL, stored.digest, "not an id")
    with pytest.raises(InvalidRequest):  # a name that is no SHA-256 (the hex's case does not matter)
        await env.zj.photos.get(HOTEL, "z" * 64, card["_id"])
    with pytest.raises(PermissionDenied):  # the suite's own principal is no verifier
        await env.zj.photos.get(Principal("service", "CN-ZJ"), stored.digest, card["_id"])
    assert env.zj_trail.of(TrailAction.PHOTO_ACCESS) == [] and env.sh_trail.entries == []


async def test_a_photo_asked_for_by_its_digest_alone_is_served_for_the_newest_credential_showing_it(env):
    """No credential named: the region's credentials naming the photo, the newest first, the first whose
    type shows it to the caller; its trail records the access."""
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(15))
    licence = await _issue(env.zj, DL, driving_licence(photo=stored.digest, id_number=RESIDENT["id_number"],
                                                       birth_date="1988-05-12", sex="女"))
    env.clock.advance(60)
    card = await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})  # the newest naming it
    assert (await env.zj.photos.get(HOTEL, stored.digest))["bytes"] == stored.data
    # another region's agency is shown a licence's photo (as traffic police), never a resident ID card's
    assert (await env.zj.photos.get(SH, stored.digest.upper(), without_image=True))["bytes"] == b""
    access = env.zj_trail.of(TrailAction.PHOTO_ACCESS)
    assert [(e["credential_id"], e["actor"].role, e["purpose"], e["outcome"]) for e in access] == [
        (card["_id"], "hotel", "hotel_check_in", "served"), (licence["_id"], "agency", "general", "not_modified")]
    log = (await env.zj.trail.access_log(ZJ, card["_id"])).entries  # what the holder reads
    assert [(e["action"], e["actor_org"], e["result"]) for e in log][-1] == ("photo_access", HOTEL.org, "served")


async def test_a_photo_asked_for_by_its_digest_alone_is_404_unnamed_and_403_not_shown(env):
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(16))
    with pytest.raises(NotFound) as err:  # filed, but no credential names it yet
        await env.zj.photos.get(HOTEL, stored.digest)
    assert err.value.field == "digest"
    await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})
    with pytest.raises(NotFound):  # Shanghai issued nothing naming it
        await env.sh.photos.get(HOTEL, stored.digest)
    with pytest.raises(NotFound):
        await env.zj.photos.get(HOTEL, "ab" * 32)
    for who in (INTEGRATOR, SH):  # a resident ID card shows its photo to neither
        with pytest.raises(PermissionDenied):
            await env.zj.photos.get(who, stored.digest)
    assert env.zj_trail.of(TrailAction.PHOTO_ACCESS) == [] and env.sh_trail.entries == []


async def test_nothing_personal_is_logged(env, caplog):
    caplog.set_level(logging.DEBUG)
    stored, _ = await env.zj.photos.put(ZJ, photos.portrait(12, gps=True))
    await _issue(env.zj, ID, {**RESIDENT, "photo": stored.digest})
    card = await _issue(env.zj, ID, {**RESIDENT, "photo": {"reuse_for": RESIDENT["id_number"]}})
    await env.zj.photos.get(HOTEL, stored.digest, card["_id"])
    text = caplog.text
    assert caplog.records and RESIDENT["name"] not in text and RESIDENT["id_number"] not in text
    assert stored.digest not in text and id_hash(RESIDENT["id_number"]) not in text
