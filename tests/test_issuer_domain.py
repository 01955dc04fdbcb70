"""An issuer's rules without a server: a real SQLite store, a registry faked in the test, and
clocks moved by hand."""

from __future__ import annotations

import json
import logging
import os
import types
from datetime import date, datetime, timedelta

import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import Conflict, InvalidRequest, NotFound, Outcome, PermissionDenied, RuleViolation, Unavailable
from ecert.format import statuslist
from ecert.format.credential import cti_to_id, id_to_cti, new_cti
from ecert.format.keys import SigningKey, kid_of
from ecert.limits import MAX_REQUEST_ID, MAX_VALID_DAYS
from ecert.rules.acceptance import Rules, default_rules
from ecert.rules.access import Principal
from ecert.rules.catalogue import builtin_types
from ecert.rules.document import DocumentDate, china_day, day_end
from ecert.rules.schema import TypeSchema
from ecert.store import default_uri, open_store
from ecert.vocab import CredentialStatus, StatusAction
from services.issuer.domain import TRANSITIONS, TYPES_REFRESH, TYPES_RETRY, Issuer, status_uri
from services.issuer.signing import RegionKey
from testkit import photos
from testkit.samples import SAMPLES, citizen_id, driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
DAY = 86400
ZJ = Principal("agency", "CN-ZJ")
ADMIN = Principal("admin")
DL = "cn.driving_licence"
BUILTIN = [TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in builtin_types()]
TYPES = {t.id: t for t in BUILTIN}
TODAY = china_day(T0)  # 2027-01-15 in China (T0 is 08:00 UTC, 16:00 China time)
# The catalogue types whose document has a main validity, and the fields that carry it.
MAIN_VALIDITY = {
    "cn.resident_id": ("valid_from", "valid_until"), "cn.driving_licence": ("valid_from", "valid_until"),
    "cn.residence_permit": ("valid_from", "valid_until"),
    "cn.road_transport_certificate": ("valid_from", "valid_until"),
    "cn.transport_qualification": ("valid_from", "valid_until"),
    "cn.social_security_card": ("issue_date", "valid_until"),
}
DEADLINES = {"cn.vehicle_licence": ("inspection_valid_until", "INSPECTION_OVERDUE"),
             "cn.business_licence": ("business_term_until", "BUSINESS_TERM_ENDED")}


HOTELS_CHECK_LICENCES = default_rules().with_purpose("hotel_check_in", default_rules().accepts("hotel_check_in") | {DL})
"""An agreement under which a hotel may check a driving licence (the shipped one does not)."""


def shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


class FakeRegistry:
    """The registry port: the catalogue's types and the shipped recognition rules; ``down`` fails
    every call as a lost registry does, ``failures`` fails only the next so many."""

    def __init__(self):
        self.types = list(BUILTIN)
        self.rules = default_rules()
        self.rules_fetches = 0
        self.down = False
        self.failures = 0
        self.fetches = 0
        self.keys: list[tuple[str, bytes]] = []
        self.endpoints: list[str] = []

    def _answer(self) -> None:
        if self.down or self.failures:
            self.failures = max(0, self.failures - 1)
            raise Unavailable("registry down")

    async def certificate_types(self) -> list[TypeSchema]:
        self.fetches += 1
        self._answer()
        return list(self.types)

    async def recognition_rules(self) -> Rules:
        self.rules_fetches += 1
        self._answer()
        return self.rules

    async def register_key(self, alg: str, spki: bytes, nbf: int = 0, exp: int = 0) -> str:
        self._answer()
        self.keys.append((alg, spki))
        return "kid-of-the-key"

    async def retire_key(self, kid: str) -> None:
        self._answer()

    async def region_keys(self) -> list[RegionKey]:
        """The keys registered, active and never expiring (tests/test_issuer_keys.py fakes more)."""
        self._answer()
        return [RegionKey(kid_of(spki).hex(), "active", 0, 1 << 62) for _, spki in self.keys]

    async def set_endpoint(self, endpoint: str) -> None:
        self._answer()
        self.endpoints.append(endpoint)


@pytest_asyncio.fixture
async def env(tmp_path):
    store = await open_store(default_uri(tmp_path))
    await photos.hold_sample_photos(store, ["CN-ZJ", "CN-SH"])  # the photos the sample fields name
    registry = FakeRegistry()
    clock, mono = FixedClock(T0), FixedClock(1000)
    key = SigningKey.generate()
    issuer = Issuer("CN-ZJ", store, key, registry, default_valid_days=365, status_ttl=10, now=clock, monotonic=mono)
    yield types.SimpleNamespace(store=store, registry=registry, clock=clock, mono=mono, issuer=issuer, key=key)
    await store.close()


async def _issue(issuer: Issuer, p: Principal = ZJ, request_id: str = "", valid_days: int = 0, **fields) -> dict:
    return await issuer.issue(p, DL, 0, json.dumps(driving_licence(**fields)), valid_days, request_id)


def _status_bits(env, signed: bytes) -> statuslist.StatusList:
    entry = types.SimpleNamespace(public=env.key.public, status="active")
    return statuslist.parse(signed, expected_uri=status_uri("CN-ZJ"), region_keys={env.key.kid: [entry]})


# -- status changes ---------------------------------------------------------------------------

async def test_the_transitions_are_keyed_by_the_vocabulary():
    assert set(TRANSITIONS) == set(StatusAction)
    assert TRANSITIONS[StatusAction.REVOKE] == ((CredentialStatus.VALID, CredentialStatus.SUSPENDED),
                                                CredentialStatus.REVOKED)


async def test_suspend_reinstate_revoke_and_the_conflicts(env):
    i = env.issuer
    cid = (await _issue(i))["_id"]
    assert (await i.change_status(ZJ, cid, StatusAction.REINSTATE))["status"] == "valid"  # already: harmless
    assert (await i.change_status(ZJ, cid, StatusAction.SUSPEND))["status"] == CredentialStatus.SUSPENDED
    assert (await i.change_status(ZJ, cid, "suspend"))["status"] == "suspended"  # repeating is harmless
    assert (await i.change_status(ZJ, cid, StatusAction.REINSTATE))["status"] == "valid"
    assert (await i.change_status(ZJ, cid, StatusAction.SUSPEND))["status"] == "suspended"
    env.clock.advance(60)
    doc = await i.change_status(ADMIN, cid, StatusAction.REVOKE)  # from suspended
    assert doc["status"] == "revoked" and doc["status_changed_at"] == T0 + 60
    assert (await i.change_status(ZJ, cid, StatusAction.REVOKE))["status"] == "revoked"  # again: harmless
    for action in (StatusAction.SUSPEND, StatusAction.REINSTATE):  # revoked is final
        with pytest.raises(Conflict) as err:
            await i.change_status(ZJ, cid, action)
        assert err.value.code == "STATUS_CONFLICT"
    assert (await i.get(ZJ, cid))["status"] == "revoked"
    other = (await _issue(i))["_id"]
    assert (await i.change_status(ZJ, other, StatusAction.REVOKE))["status"] == "revoked"  # from valid
    with pytest.raises(InvalidRequest):
        await i.change_status(ZJ, other, "")


async def test_a_status_change_reaches_the_status_list_at_once(env):
    i = env.issuer
    doc = await _issue(i)
    before = _status_bits(env, await i.status_list(status_uri("CN-ZJ")))
    assert before.get(doc["status_idx"]) == statuslist.VALID
    await i.change_status(ZJ, doc["_id"], StatusAction.SUSPEND)
    after = _status_bits(env, await i.status_list(status_uri("CN-ZJ")))  # no wait for status_ttl
    assert after.get(doc["status_idx"]) == statuslist.SUSPENDED and after.exp == T0 + 3600
    with pytest.raises(NotFound):
        await i.status_list(status_uri("CN-SH"))


async def test_only_the_region_or_an_admin_changes_a_status(env):
    cid = (await _issue(env.issuer))["_id"]
    for p in (Principal("agency", "CN-SH"), Principal("hotel"), Principal("service", "CN-ZJ")):
        with pytest.raises(PermissionDenied):
            await env.issuer.change_status(p, cid, StatusAction.REVOKE)
    assert (await env.issuer.get(ADMIN, cid))["status"] == "valid"


# -- issuing ----------------------------------------------------------------------------------

async def test_the_same_request_id_answers_the_same_credential(env):
    i = env.issuer
    first = await _issue(i, request_id="order-1")
    again = await _issue(i, request_id="order-1")
    assert again["_id"] == first["_id"] and again["qr_text"] == first["qr_text"]
    for changed in ({"points": 3}, {}):
        with pytest.raises(Conflict) as err:
            await _issue(i, request_id="order-1", valid_days=30 if not changed else 0, **changed)
        assert err.value.code == "REQUEST_ID_REUSED" and err.value.field == "request_id"
    assert (await _issue(i, request_id="order-2"))["_id"] != first["_id"]
    assert (await _issue(i))["_id"] != (await _issue(i))["_id"]  # without a request_id, each is new


async def test_valid_days_are_bounded_and_default(env):
    i = env.issuer
    assert MAX_VALID_DAYS == 7300
    doc = await _issue(i, valid_days=MAX_VALID_DAYS, valid_until="长期")  # a licence without end: no cap
    assert doc["expires_at"] == T0 + 7300 * DAY and doc["issued_at"] == T0
    assert (await _issue(i))["expires_at"] == T0 + 365 * DAY  # 0: the issuer's default
    for days in (MAX_VALID_DAYS + 1, -1):
        with pytest.raises(InvalidRequest) as err:
            await _issue(i, valid_days=days)
        assert err.value.field == "valid_days"
    with pytest.raises(InvalidRequest) as err:
        await _issue(i, request_id="r" * (MAX_REQUEST_ID + 1))
    assert err.value.field == "request_id"


async def test_who_may_issue_and_read(env):
    i = env.issuer
    for p in (Principal("agency", "CN-SH"), Principal("hotel"), Principal("integrator"), Principal("")):
        with pytest.raises(PermissionDenied):
            await _issue(i, p)
    doc = await _issue(i, ADMIN)
    assert (await i.get(ZJ, doc["_id"]))["_id"] == doc["_id"]
    with pytest.raises(PermissionDenied):
        await i.get(Principal("agency", "CN-SH"), doc["_id"])
    for unknown in ("A" * 26, "not an id"):
        with pytest.raises(NotFound):
            await i.get(ADMIN, unknown)
    sh = Issuer("CN-SH", env.store, SigningKey.generate(), env.registry, default_valid_days=365, status_ttl=10,
                now=env.clock)
    with pytest.raises(NotFound):  # another region's record answers as an unknown one does
        await sh.get(ADMIN, doc["_id"])


async def test_fields_are_checked_against_the_type(env):
    with pytest.raises(RuleViolation) as err:
        await _issue(env.issuer, id_number="123")
    assert err.value.code == "SCHEMA_INVALID" and err.value.field == "id_number"
    with pytest.raises(RuleViolation) as err:
        await env.issuer.issue(ZJ, "cn.no_such_type", 0, "{}", 0, "")
    assert err.value.code == "TYPE_UNKNOWN"


# -- presentation tokens ----------------------------------------------------------------------

async def test_a_token_resolves_once_and_shows_what_the_role_may_see(env):
    i = env.issuer
    env.registry.rules = HOTELS_CHECK_LICENCES  # what each role sees, not whether the type is accepted
    doc = await _issue(i)
    shown = await i.show(ZJ, doc["_id"])
    assert shown.token.startswith("EP1:") and shown.expires_at > T0
    tok, cti = os.urandom(16), id_to_cti(doc["_id"])
    first = await i.resolve(Principal("hotel"), tok, cti)
    ts = next(t for t in BUILTIN if t.id == DL)
    assert first.outcome is Outcome.VALID and first.record["_id"] == doc["_id"]
    assert first.fields == ts.disclosed("hotel", doc["fields"]) and 0 < len(first.fields) < len(doc["fields"])
    police = await i.resolve(Principal("traffic_police"), os.urandom(16), cti)
    assert police.fields == ts.disclosed("traffic_police", doc["fields"]) != first.fields
    second = await i.resolve(Principal("hotel"), tok, cti)
    assert second.outcome is Outcome.TOKEN_ALREADY_USED and second.fields == {}


async def test_a_token_answers_the_credential_status_and_expiry(env):
    i = env.issuer
    env.registry.rules = HOTELS_CHECK_LICENCES
    hotel = Principal("hotel")
    suspended, revoked, short = await _issue(i), await _issue(i), await _issue(i, valid_days=1)
    await i.change_status(ZJ, suspended["_id"], StatusAction.SUSPEND)
    await i.change_status(ZJ, revoked["_id"], StatusAction.REVOKE)
    assert (await i.resolve(hotel, os.urandom(16), id_to_cti(suspended["_id"]))).outcome is Outcome.SUSPENDED
    r = await i.resolve(hotel, os.urandom(16), id_to_cti(revoked["_id"]))
    assert r.outcome is Outcome.REVOKED and r.fields == {"name": revoked["fields"]["name"]}  # who, no more
    valid = await i.resolve(hotel, os.urandom(16), id_to_cti(short["_id"]))
    assert valid.outcome is Outcome.VALID and valid.document is None
    env.clock.advance(DAY)
    expired = await i.resolve(hotel, os.urandom(16), id_to_cti(short["_id"]))
    assert expired.outcome is Outcome.EXPIRED  # its own exp, a day on, long before the document's end:
    assert expired.detail == "expired" and expired.document is None  # no date of the document decided
    with pytest.raises(Conflict):  # only a valid credential is presented
        await i.show(ZJ, suspended["_id"])
    with pytest.raises(NotFound):
        await i.resolve(hotel, os.urandom(16), os.urandom(16))
    with pytest.raises(InvalidRequest):
        await i.resolve(hotel, b"short", id_to_cti(short["_id"]))
    with pytest.raises(PermissionDenied):
        await i.resolve(Principal("burglar"), os.urandom(16), id_to_cti(short["_id"]))
    with pytest.raises(PermissionDenied):
        await i.show(Principal("hotel"), short["_id"])


# -- the registry's types and registration ----------------------------------------------------

async def test_types_are_kept_while_the_registry_is_down(env):
    i, reg = env.issuer, env.registry
    await _issue(i)
    assert reg.fetches == 1
    env.mono.advance(TYPES_REFRESH - 1)
    await _issue(i)
    assert reg.fetches == 1  # younger than TYPES_REFRESH: no fetch
    reg.down = True
    env.mono.advance(1)
    assert (await _issue(i))["type"] == DL  # the fetch fails; the copy in hand is used
    assert reg.fetches == 2
    with pytest.raises(RuleViolation):  # an unknown type still fails, without waiting on the registry
        await i.issue(ZJ, "cn.brand_new", 0, "{}", 0, "")
    assert reg.fetches == 2  # a forced fetch, but one was tried less than TYPES_RETRY ago
    env.mono.advance(TYPES_RETRY)
    reg.down = False
    reg.types.append(TypeSchema("cn.brand_new", 1, "New", '{"type": "object", "properties": {}}', {}))
    assert (await i.issue(ZJ, "cn.brand_new", 0, "{}", 0, ""))["type"] == "cn.brand_new"  # published moments ago


async def test_no_types_yet_and_the_registry_down_is_503(env):
    env.registry.down = True
    with pytest.raises(Unavailable):
        await _issue(env.issuer)


async def test_registering_waits_for_the_registry(env):
    env.registry.failures = 2
    assert await env.issuer.register("issuer.zj:50061", pause=0) == "kid-of-the-key"
    assert env.registry.keys == [("ES256", env.key.spki)] and env.registry.endpoints == ["issuer.zj:50061"]
    env.registry.down = True
    with pytest.raises(Unavailable):
        await env.issuer.register("issuer.zj:50061", attempts=3, pause=0)


# -- the document's own validity (issue 11) ---------------------------------------------------

async def _issue_type(env, type_id: str, valid_days: int = 0, p: Principal = ZJ, **changes) -> dict:
    return await env.issuer.issue(p, type_id, 0, json.dumps({**SAMPLES[type_id], **changes}), valid_days, "")


async def test_every_catalogue_type_declares_its_documents_dates():
    assert set(MAIN_VALIDITY) | set(DEADLINES) == set(TYPES)
    for type_id, (start, end) in MAIN_VALIDITY.items():
        rules = TYPES[type_id].document
        assert (rules.valid_from, rules.valid_until) == (start, end), type_id
    for type_id, deadline in DEADLINES.items():
        rules = TYPES[type_id].document
        assert rules.valid_from is rules.valid_until is None and rules.deadlines == (deadline,), type_id


@pytest.mark.parametrize("type_id", sorted(SAMPLES))
async def test_every_type_refuses_a_document_outside_its_validity(env, type_id, caplog):
    caplog.set_level(logging.DEBUG)
    if type_id in DEADLINES:  # no main validity: a lapsed secondary date is a warning, not a refusal
        field, _ = DEADLINES[type_id]
        doc = await _issue_type(env, type_id, **{field: shift(TODAY, -1)})
        assert doc["expires_at"] == T0 + 365 * DAY
        return
    start, end = MAIN_VALIDITY[type_id]
    for field, value, code in ((end, shift(TODAY, -1), "DOCUMENT_EXPIRED"),
                               (start, shift(TODAY, 1), "DOCUMENT_NOT_YET_VALID")):
        with pytest.raises(RuleViolation) as err:
            await _issue_type(env, type_id, **{field: value})
        assert err.value.code == code and err.value.field == field, err.value
        assert field in err.value.message and value not in err.value.message
    assert await env.store.backend.find("credentials", {"region": "CN-ZJ"}) == []  # nothing was issued
    # The first and the last day of the document are inside it.
    assert (await _issue_type(env, type_id, **{start: TODAY}))["expires_at"] <= T0 + 365 * DAY
    last = await _issue_type(env, type_id, **{end: TODAY})
    assert last["expires_at"] == day_end(TODAY) == utc(f"{TODAY}T16:00:00+00:00")
    for record in caplog.records:  # the log names no field value
        assert not any(str(v) in record.getMessage() for v in SAMPLES[type_id].values() if len(str(v)) > 3)


@pytest.mark.parametrize("type_id", sorted(MAIN_VALIDITY))
async def test_exp_never_passes_the_end_of_the_documents_last_day(env, type_id):
    _, end = MAIN_VALIDITY[type_id]
    until = shift(TODAY, 30)
    doc = await _issue_type(env, type_id, **{end: until})  # the default, 365 days, would pass it
    assert doc["expires_at"] == day_end(until) == utc(f"{until}T16:00:00+00:00")  # 24:00 in China
    assert (await _issue_type(env, type_id, valid_days=10, **{end: until}))["expires_at"] == T0 + 10 * DAY
    if type_id in ("cn.resident_id", "cn.driving_licence"):  # 长期: no end, no cap
        assert (await _issue_type(env, type_id, **{end: "长期"}))["expires_at"] == T0 + 365 * DAY


async def test_the_day_ends_at_midnight_china_time(env):
    """Valid until D: issued at 23:59:59 China time on D (15:59:59Z), refused one second later."""
    day = "2027-03-01"
    env.clock.t = utc(f"{day}T15:59:59+00:00")
    doc = await _issue(env.issuer, valid_until=day)
    assert doc["expires_at"] == env.clock.t + 1 == day_end(day)
    env.clock.t += 1
    with pytest.raises(RuleViolation) as err:
        await _issue(env.issuer, valid_until=day)
    assert err.value.code == "DOCUMENT_EXPIRED" and err.value.field == "valid_until"
    env.clock.t = utc(f"{day}T15:59:59+00:00")  # valid from the next day: not yet, for one second more
    with pytest.raises(RuleViolation) as err:
        await _issue(env.issuer, valid_from=shift(day, 1))
    assert err.value.code == "DOCUMENT_NOT_YET_VALID" and err.value.field == "valid_from"
    env.clock.t += 1
    assert (await _issue(env.issuer, valid_from=shift(day, 1)))["issued_at"] == env.clock.t


async def test_a_licence_whose_birth_date_contradicts_its_id_number_is_refused(env, caplog):
    """The issue's example: birth_date 1970-01-01 on a licence numbered for 1985-06-12."""
    caplog.set_level(logging.DEBUG)
    number = citizen_id("33010619850612123")
    with pytest.raises(RuleViolation) as err:
        await _issue(env.issuer, id_number=number, birth_date="1970-01-01")
    assert err.value.code == "FIELDS_INCONSISTENT" and err.value.blamed == ("id_number", "birth_date")
    assert "id_number" in err.value.message and "birth_date" in err.value.message
    with pytest.raises(RuleViolation) as err:
        await _issue(env.issuer, sex="女")  # the number's sequence is odd: a man's
    assert err.value.code == "FIELDS_INCONSISTENT" and err.value.blamed == ("id_number", "sex")
    with pytest.raises(RuleViolation) as err:  # first licence a day before the 18th birthday
        await _issue(env.issuer, first_issue_date="2008-03-06")
    assert err.value.code == "FIELDS_INCONSISTENT" and err.value.blamed == ("birth_date", "first_issue_date")
    assert (await _issue(env.issuer, first_issue_date="2008-03-07"))["type"] == DL  # on the birthday: fine
    with pytest.raises(RuleViolation) as err:  # dates out of order: both named, at issuance
        await _issue(env.issuer, valid_from="2028-06-01")
    assert err.value.code == "FIELDS_INCONSISTENT" and err.value.blamed == ("valid_from", "valid_until")
    with pytest.raises(RuleViolation) as err:  # no province 99 in GB/T 2260: the number is wrong
        await _issue(env.issuer, id_number=citizen_id("99010619900307123"))
    assert err.value.code == "SCHEMA_INVALID" and err.value.field == "id_number"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert number not in logged and "1970-01-01" not in logged and "王小明" not in logged


async def test_a_lapsed_inspection_is_issued(env):
    """A secondary date is the verifier's warning, not a reason to refuse the vehicle licence."""
    doc = await _issue_type(env, "cn.vehicle_licence", inspection_valid_until=shift(TODAY, -1))
    ts = TYPES["cn.vehicle_licence"]
    assert ts.document.warnings(doc["fields"], TODAY) == (("INSPECTION_OVERDUE", "inspection_valid_until",
                                                           shift(TODAY, -1)),)


async def _legacy_copy(env, doc: dict, **fields) -> dict:
    """The record of a credential issued before the document checks: its exp past the document."""
    old = dict(doc, _id=cti_to_id(new_cti()), expires_at=T0 + 3650 * DAY, request_id=None, request_hash=None,
               status_idx=await env.store.next_status_index("CN-ZJ"), fields={**doc["fields"], **fields})
    await env.store.insert_credential(old)
    return old


async def test_a_token_answers_the_documents_own_validity(env):
    i = env.issuer
    police = Principal("traffic_police")
    ts = TYPES[DL]
    tomorrow = shift(TODAY, 1)
    doc = await _issue(i, valid_until=tomorrow)
    assert doc["expires_at"] == day_end(tomorrow)
    old = await _legacy_copy(env, doc)
    for record in (doc, old):
        r = await i.resolve(police, os.urandom(16), id_to_cti(record["_id"]))
        assert r.outcome is Outcome.VALID and r.fields == ts.disclosed("traffic_police", record["fields"])
    env.clock.t = day_end(tomorrow) - 1  # 23:59:59 China time on the last day
    assert (await i.resolve(police, os.urandom(16), id_to_cti(old["_id"]))).outcome is Outcome.VALID
    env.clock.t += 1
    for record in (doc, old):  # the credential's exp, and for the old record the document's own date
        r = await i.resolve(police, os.urandom(16), id_to_cti(record["_id"]))
        assert r.outcome is Outcome.EXPIRED, record["_id"]
        assert r.detail == f"the document's valid_until ({tomorrow}) has passed"  # as an EC1 answer names it
        assert r.document == DocumentDate("valid_until", tomorrow)  # and gives it as data
        assert r.fields == ts.identified("traffic_police", record["fields"])
        assert set(r.fields) == {"name", "sex", "id_number", "file_number", "photo"}
    env.clock.t = T0
    future = await _legacy_copy(env, doc, valid_from=tomorrow)  # not issued today, but on record
    r = await i.resolve(Principal("hotel"), os.urandom(16), id_to_cti(future["_id"]))
    assert r.outcome is Outcome.NOT_YET_VALID and r.fields == {"name": "王小明"} and "valid_from" in r.detail
    assert r.document == DocumentDate("valid_from", tomorrow)


async def test_a_token_meets_the_checks_in_the_order_an_ec1_credential_does(env):
    i = env.issuer
    tomorrow = shift(TODAY, 1)
    doc = await _issue(i, valid_until=tomorrow)
    old = await _legacy_copy(env, doc)  # its exp past the document's last day
    await i.change_status(ZJ, old["_id"], StatusAction.REVOKE)
    police = Principal("traffic_police")
    assert (await i.resolve(police, os.urandom(16), id_to_cti(old["_id"]))).outcome is Outcome.REVOKED
    env.clock.t = day_end(tomorrow)  # the document has ended: that is answered before its status (§7 rows 17, 18)
    r = await i.resolve(police, os.urandom(16), id_to_cti(old["_id"]))
    assert r.outcome is Outcome.EXPIRED and "valid_until" in r.detail


async def test_credentials_not_current_still_say_who(env):
    i = env.issuer
    ts = TYPES[DL]
    revoked, suspended = await _issue(i), await _issue(i)
    await i.change_status(ZJ, revoked["_id"], StatusAction.REVOKE)
    await i.change_status(ZJ, suspended["_id"], StatusAction.SUSPEND)
    for record, outcome in ((revoked, Outcome.REVOKED), (suspended, Outcome.SUSPENDED)):
        cti = id_to_cti(record["_id"])
        for p, entry in ((Principal("hotel"), "hotel"), (Principal("traffic_police"), "traffic_police"),
                         (ZJ, "agency"), (Principal("agency", "CN-SH"), "other_region_agency"),
                         (Principal("integrator"), "integrator")):
            r = await i.resolve(p, os.urandom(16), cti)
            assert r.outcome is outcome and r.fields == ts.identified(entry, record["fields"]), (outcome, entry)
            assert r.detail == f"{outcome.value.lower()} by the issuer" and r.document is None  # the EC1 answer's
            assert set(r.fields) <= set(ts.disclosed(entry, record["fields"]))
        assert (await i.resolve(Principal("hotel"), os.urandom(16), cti)).fields == {"name": "王小明"}
        assert (await i.resolve(Principal("integrator"), os.urandom(16), cti)).fields == {}  # none listed
        # other region's agency: the role the type names for it (traffic police), never the full record
        other = await i.resolve(Principal("agency", "CN-SH"), os.urandom(16), cti)
        assert other.fields == ts.identified("traffic_police", record["fields"]) and "birth_date" not in other.fields
    token = os.urandom(16)
    await i.resolve(Principal("hotel"), token, id_to_cti(revoked["_id"]))
    again = await i.resolve(Principal("hotel"), token, id_to_cti(revoked["_id"]))
    assert again.outcome is Outcome.TOKEN_ALREADY_USED and again.fields == {}


async def test_a_revoked_credential_answers_even_when_its_type_cannot_be_had(env):
    i = env.issuer
    doc = await _issue(i)
    await i.change_status(ZJ, doc["_id"], StatusAction.REVOKE)
    env.registry.types = []
    env.issuer.expire_types()
    env.mono.advance(TYPES_RETRY)
    r = await i.resolve(Principal("hotel"), os.urandom(16), id_to_cti(doc["_id"]))
    assert r.outcome is Outcome.REVOKED and r.fields == {} and r.detail == "revoked by the issuer"


# -- show codes judged by the recognition rules -------------------------------------------------

async def _resolve_entries(env, cred_id: str) -> list[tuple[str, str, str]]:
    page = await env.issuer.trail.access_log(ZJ, cred_id)
    return [(e["actor_role"], e["purpose"], e["result"]) for e in page.entries if e["action"] == "resolve"]


async def test_a_show_code_is_judged_by_the_recognition_rules_and_recorded_as_answered(env):
    i = env.issuer
    ts = TYPES[DL]
    v2 = TypeSchema(DL, 2, ts.name, ts.schema_text, ts.disclosure)  # a version the verifier may not know yet
    env.registry.types.append(v2)
    for version in (1, 2):
        doc = await i.issue(ZJ, DL, version, json.dumps(driving_licence()), 0, "")
        assert doc["version"] == version
        cti = id_to_cti(doc["_id"])
        hotel = await i.resolve(Principal("hotel", "CN-SH"), os.urandom(16), cti)
        assert hotel.outcome is Outcome.NOT_ACCEPTED_FOR_PURPOSE, version
        assert hotel.fields == {"name": "王小明"}  # who it names, no more
        assert hotel.detail == "cn.driving_licence is not accepted for hotel_check_in"
        police = await i.resolve(Principal("traffic_police", "CN-SH"), os.urandom(16), cti)
        assert police.outcome is Outcome.VALID and police.detail == ""
        assert await _resolve_entries(env, doc["_id"]) == [
            ("hotel", "hotel_check_in", "NOT_ACCEPTED_FOR_PURPOSE"), ("traffic_police", "roadside_driver_check", "VALID")]
    # the caller's region must recognise the issuing one; the rules are fetched again as the types are
    env.registry.rules = default_rules().with_recognition("CN-SH", ["CN-SH"])
    r = await i.resolve(Principal("traffic_police", "CN-SH"), os.urandom(16), cti)
    assert r.outcome is Outcome.VALID  # the copy in hand, until it is due
    env.mono.advance(TYPES_REFRESH)
    r = await i.resolve(Principal("traffic_police", "CN-SH"), os.urandom(16), cti)
    assert r.outcome is Outcome.NOT_ACCEPTED_FOR_PURPOSE and r.detail == "credentials of CN-ZJ are not recognised by CN-SH"
    assert (await i.resolve(Principal("traffic_police", "CN-JS"), os.urandom(16), cti)).outcome is Outcome.VALID


async def test_a_show_code_is_never_valid_unjudged_while_the_rules_cannot_be_had(env):
    i = env.issuer
    doc, revoked = await _issue(i), await _issue(i)
    await i.change_status(ZJ, revoked["_id"], StatusAction.REVOKE)
    env.registry.down = True  # and no rules fetched yet
    police = Principal("traffic_police", "CN-SH")
    r = await i.resolve(police, os.urandom(16), id_to_cti(doc["_id"]))
    assert r.outcome is Outcome.REGION_UNAVAILABLE and r.fields == {} and "recognition rules" in r.detail
    assert (await i.resolve(police, os.urandom(16), id_to_cti(revoked["_id"]))).outcome is Outcome.REVOKED  # no rules needed
    assert await _resolve_entries(env, doc["_id"]) == [("traffic_police", "roadside_driver_check", "REGION_UNAVAILABLE")]
    env.registry.down = False
    env.mono.advance(TYPES_RETRY)
    assert (await i.resolve(police, os.urandom(16), id_to_cti(doc["_id"]))).outcome is Outcome.VALID
    env.registry.down = True  # the copy in hand is kept while the registry is away
    env.mono.advance(TYPES_REFRESH)
    assert (await i.resolve(police, os.urandom(16), id_to_cti(doc["_id"]))).outcome is Outcome.VALID
    assert env.registry.rules_fetches == 3


# -- what a failed trail write leaves: repaired when asked again ----------------------------------

def _failing_once(monkeypatch, trail, name: str) -> None:
    """Make the next call of ``trail.<name>`` fail as a busy chain does."""
    real = getattr(trail, name)

    async def busy(*args, **kwargs):
        monkeypatch.setattr(trail, name, real)
        raise Unavailable("the trail is being appended to by others: try again", code="TRAIL_BUSY")

    monkeypatch.setattr(trail, name, busy)


async def _trail_of(env, cred_id: str) -> list[tuple[str, str]]:
    return [(e["action"], e["result"]) for e in (await env.issuer.trail.access_log(ZJ, cred_id)).entries]


async def test_a_status_change_whose_trail_write_failed_is_recorded_when_asked_again(env, monkeypatch):
    i = env.issuer
    doc = await _issue(i)
    _failing_once(monkeypatch, i.trail, "append")
    with pytest.raises(Unavailable):
        await i.change_status(ZJ, doc["_id"], StatusAction.REVOKE)
    assert (await i.get(ZJ, doc["_id"]))["status"] == "revoked"  # changed, but not recorded
    assert await _trail_of(env, doc["_id"]) == [("issue", "valid")]
    for _ in range(2):  # the client's retry records it; one more changes nothing
        assert (await i.change_status(ZJ, doc["_id"], StatusAction.REVOKE))["status"] == "revoked"
    assert await _trail_of(env, doc["_id"]) == [("issue", "valid"), ("status_change", "revoked")]
    fresh = await _issue(i)  # a status it never left: nothing to record
    await i.change_status(ZJ, fresh["_id"], StatusAction.REINSTATE)
    assert await _trail_of(env, fresh["_id"]) == [("issue", "valid")]


async def test_each_status_change_is_recorded_even_within_one_second(env):
    i = env.issuer
    doc = await _issue(i)
    for action in (StatusAction.SUSPEND, StatusAction.REINSTATE, StatusAction.SUSPEND, StatusAction.SUSPEND):
        changed = await i.change_status(ZJ, doc["_id"], action)
    assert (changed["status_changed_at"], changed["status_changes"]) == (T0, 3)  # counted, at the time they were
    assert await _trail_of(env, doc["_id"]) == [
        ("issue", "valid"), ("status_change", "suspended"), ("status_change", "valid"), ("status_change", "suspended")]
    log = (await i.trail.access_log(ZJ, doc["_id"])).entries
    assert [e["at"] for e in log] == [T0] * 4


async def test_an_issuance_repaired_after_a_failed_trail_write_keeps_its_photo_reuse(env, monkeypatch):
    i = env.issuer
    fields = SAMPLES["cn.resident_id"]
    await i.issue(ZJ, "cn.resident_id", 0, json.dumps(fields), 0, "")  # the portrait on file
    body = json.dumps({**fields, "photo": {"reuse_for": fields["id_number"]}})
    _failing_once(monkeypatch, i.trail, "append_records")
    with pytest.raises(Unavailable):
        await i.issue(ZJ, "cn.resident_id", 0, body, 0, "req-photo")
    doc = await i.issue(ZJ, "cn.resident_id", 0, body, 0, "req-photo")
    assert await _trail_of(env, doc["_id"]) == [("issue", "valid"), ("photo_reuse", "reused")]
    assert (await i.issue(ZJ, "cn.resident_id", 0, body, 0, "req-photo"))["_id"] == doc["_id"]
    assert await _trail_of(env, doc["_id"]) == [("issue", "valid"), ("photo_reuse", "reused")]
