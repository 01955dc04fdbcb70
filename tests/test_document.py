"""A document's own validity, its secondary dates and the agreement of its fields
(ecert/rules/document.py and the catalogue's x-validity / x-deadlines / x-consistency /
x-identify), with time injected: no clock is read."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from ecert.errors import InvalidRequest, Outcome, RuleViolation
from ecert.rules import fastschema, identifiers
from ecert.rules.access import OTHER_REGION_AGENCY
from ecert.rules.catalogue import builtin_types, load_type_document
from ecert.rules.document import (
    CST_OFFSET,
    DocumentDate,
    DocumentRules,
    Warning,
    china_day,
    day_end,
    day_start,
    parse_document_rules,
)
from ecert.rules.schema import TypeSchema
from ecert.vocab import KEY_ROLES
from testkit.samples import SAMPLES, citizen_id

DOCS = {t["id"]: t for t in builtin_types()}
TYPES = {t["id"]: TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in DOCS.values()}
CST = timezone(timedelta(hours=8))
NOW = int(datetime(2027, 1, 15, 12, 0, tzinfo=CST).timestamp())  # noon in China
TODAY = "2027-01-15"
WITH_VALIDITY = sorted(t for t, ts in TYPES.items() if ts.document.has_validity)
EMPTY: tuple = ()
PERSON_TYPES = sorted(t for t, ts in TYPES.items() if "id_number" in ts.schema["properties"])


def shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def with_id(sample: dict, **changes) -> dict:
    """The sample with changes, its id_number rebuilt so it still agrees with birth_date and sex."""
    doc = {**sample, **changes}
    old = doc["id_number"]
    birth = doc.get("birth_date", f"{old[6:10]}-{old[10:12]}-{old[12:14]}").replace("-", "")
    seq = old[14:16] + ("1" if doc.get("sex", "男") == "男" else "2")
    doc["id_number"] = citizen_id(old[:6] + birth + seq)
    return doc


def refusal(ts: TypeSchema, fields: dict) -> RuleViolation:
    """What issuance says of ``fields``: the schema, then the document's rules."""
    with pytest.raises(RuleViolation) as err:
        ts.validate(fields)
        ts.document.check_issuance(fields, NOW)
    return err.value


# --------------------------------------------------------------------------- China time

def test_china_day_turns_at_16_00_utc():
    assert china_day(utc("2026-12-01T15:59:59+00:00")) == "2026-12-01"
    assert china_day(utc("2026-12-01T16:00:00+00:00")) == "2026-12-02"
    assert china_day(utc("2026-12-01T23:59:59+08:00")) == "2026-12-01"  # before the cached day, again
    assert china_day(utc("2026-12-31T16:00:00+00:00")) == "2027-01-01"
    assert china_day(0) == "1970-01-01" and china_day(-CST_OFFSET - 1) == "1969-12-31"
    assert china_day(utc("2028-02-28T16:00:00+00:00")) == "2028-02-29"
    for t in range(NOW - 3 * 86400, NOW + 3 * 86400, 3599):  # the cached day never answers for another
        assert china_day(t) == datetime.fromtimestamp(t, CST).date().isoformat(), t


def test_day_start_and_end_are_midnight_in_china():
    assert day_start("2027-01-15") == utc("2027-01-15T00:00:00+08:00") == utc("2027-01-14T16:00:00+00:00")
    assert day_end("2027-01-15") == utc("2027-01-16T00:00:00+08:00") == day_start("2027-01-16")
    assert day_end("2024-02-28") == day_start("2024-02-29")
    assert china_day(day_start(TODAY)) == TODAY == china_day(day_end(TODAY) - 1)
    assert china_day(day_end(TODAY)) == shift(TODAY, 1)


# --------------------------------------------------------------------------- main validity

def test_the_catalogue_says_which_fields_carry_each_documents_validity():
    assert {t: (ts.document.valid_from, ts.document.valid_until, ts.document.open_end)
            for t, ts in TYPES.items()} == {
        "cn.resident_id": ("valid_from", "valid_until", "长期"),
        "cn.driving_licence": ("valid_from", "valid_until", "长期"),
        "cn.residence_permit": ("valid_from", "valid_until", None),
        "cn.road_transport_certificate": ("valid_from", "valid_until", None),
        "cn.transport_qualification": ("valid_from", "valid_until", None),
        "cn.social_security_card": ("issue_date", "valid_until", None),
        "cn.vehicle_licence": (None, None, None),
        "cn.business_licence": (None, None, None),
    }
    assert {t: ts.document.deadlines for t, ts in TYPES.items() if ts.document.deadlines} == {
        "cn.vehicle_licence": (("inspection_valid_until", "INSPECTION_OVERDUE"),),
        "cn.business_licence": (("business_term_until", "BUSINESS_TERM_ENDED"),),
    }


@pytest.mark.parametrize("type_id", sorted(TYPES))
def test_every_sample_is_current_and_consistent(type_id):
    ts, sample = TYPES[type_id], SAMPLES[type_id]
    ts.validate(sample)
    for now in (NOW, utc("2026-12-01T00:00:00+00:00"), utc("2029-12-31T12:00:00+00:00")):
        assert ts.document.check(sample, china_day(now)) is None, now
        ts.document.check_issuance(sample, now)
        assert ts.document.warnings(sample, china_day(now)) == ()


@pytest.mark.parametrize("type_id", WITH_VALIDITY)
def test_a_document_ending_tomorrow_is_valid_until_midnight_china_time_after_it(type_id):
    ts = TYPES[type_id]
    until = ts.document.valid_until
    tomorrow = shift(TODAY, 1)
    fields = {**SAMPLES[type_id], until: tomorrow}
    ts.validate(fields)
    assert ts.document.check(fields, china_day(NOW)) is None  # today
    last = utc(f"{tomorrow}T15:59:59+00:00")  # 23:59:59 in China on the last day
    assert ts.document.check(fields, china_day(last)) is None
    outcome, detail, document = ts.document.check(fields, china_day(last + 1))  # 16:00:00Z: the day after, in China
    assert outcome is Outcome.EXPIRED
    assert detail == f"the document's {until} ({tomorrow}) has passed"
    assert document == DocumentDate(until, tomorrow)  # what decided it, as data: the field and its date
    for name, value in fields.items():  # the detail names the field and its date, nothing else
        if name != until and isinstance(value, str) and len(value) > 2:
            assert value not in detail, name
    assert ts.document.check_issuance(fields, NOW) == day_end(tomorrow) == last + 1
    with pytest.raises(RuleViolation) as err:
        ts.document.check_issuance(fields, last + 1)
    assert err.value.code == "DOCUMENT_EXPIRED" and err.value.field == until and tomorrow not in err.value.message


@pytest.mark.parametrize("type_id", WITH_VALIDITY)
def test_a_document_starting_tomorrow_is_not_yet_valid_until_then(type_id):
    ts = TYPES[type_id]
    start = ts.document.valid_from
    tomorrow = shift(TODAY, 1)
    fields = {**SAMPLES[type_id], start: tomorrow}
    ts.validate(fields)
    outside = ts.document.check(fields, TODAY)
    assert outside.outcome is Outcome.NOT_YET_VALID and start in outside.detail and tomorrow in outside.detail
    assert outside[:2] == (outside.outcome, outside.detail)  # still the (outcome, detail) it was
    assert (outside.document.field, outside.document.date) == (start, tomorrow)
    first = utc(f"{TODAY}T16:00:00+00:00")  # 00:00 in China on the first day
    assert ts.document.check(fields, china_day(first - 1))[0] is Outcome.NOT_YET_VALID
    assert ts.document.check(fields, china_day(first)) is None
    err = refusal(ts, fields)
    assert err.code == "DOCUMENT_NOT_YET_VALID" and err.field == start and tomorrow not in err.message
    assert ts.document.check_issuance(fields, first) is not None


@pytest.mark.parametrize("type_id", WITH_VALIDITY)
def test_issuing_a_document_past_its_validity_is_refused(type_id):
    ts = TYPES[type_id]
    until = ts.document.valid_until
    err = refusal(ts, {**SAMPLES[type_id], until: shift(TODAY, -1)})
    assert err.code == "DOCUMENT_EXPIRED" and err.field == until and until in err.message


def test_an_open_end_never_expires_and_caps_nothing():
    for type_id in ("cn.resident_id", "cn.driving_licence"):
        ts = TYPES[type_id]
        fields = {**SAMPLES[type_id], "valid_until": "长期"}
        ts.validate(fields)
        assert ts.document.check(fields, "2999-12-31") is None
        assert ts.document.check_issuance(fields, NOW) is None


def test_types_without_a_main_validity_never_expire_by_their_dates():
    for type_id in ("cn.vehicle_licence", "cn.business_licence"):
        ts = TYPES[type_id]
        assert not ts.document.has_validity
        assert ts.document.check(SAMPLES[type_id], "2999-12-31") is None
        assert ts.document.check_issuance(SAMPLES[type_id], NOW) is None


def test_the_hot_path_answers_without_building_anything():
    """check(): None; warnings(): the one empty tuple (CPython shares it), when all is well."""
    for type_id, ts in TYPES.items():
        assert ts.document.check(SAMPLES[type_id], TODAY) is None
        assert ts.document.warnings(SAMPLES[type_id], TODAY) is EMPTY
    assert china_day(NOW) is china_day(NOW + 60)  # the cached day's text itself


# --------------------------------------------------------------------------- secondary dates

def test_an_overdue_inspection_is_a_warning_from_the_day_after():
    ts = TYPES["cn.vehicle_licence"]
    due = TODAY
    fields = {**SAMPLES["cn.vehicle_licence"], "inspection_valid_until": due}
    ts.validate(fields)
    assert ts.document.warnings(fields, china_day(utc(f"{due}T15:59:59+00:00"))) == ()
    [w] = ts.document.warnings(fields, china_day(utc(f"{due}T16:00:00+00:00")))
    assert w == Warning("INSPECTION_OVERDUE", "inspection_valid_until", due)
    assert (w.code, w.field, w.since) == ("INSPECTION_OVERDUE", "inspection_valid_until", due)
    assert ts.document.check(fields, "2999-01-01") is None  # still VALID: only a warning
    no_date = {k: v for k, v in fields.items() if k != "inspection_valid_until"}
    assert ts.document.warnings(no_date, "2999-01-01") == ()


def test_a_business_term_ends_unless_it_is_long_term():
    ts = TYPES["cn.business_licence"]
    ended = {**SAMPLES["cn.business_licence"], "business_term_until": "2026-12-31"}
    ts.validate(ended)
    assert ts.document.warnings(ended, "2027-01-01") == (
        Warning("BUSINESS_TERM_ENDED", "business_term_until", "2026-12-31"),)
    long_term = {**SAMPLES["cn.business_licence"], "business_term_until": "长期"}
    assert ts.document.warnings(long_term, "2999-12-31") == ()


# --------------------------------------------------------------------------- field agreement

@pytest.mark.parametrize("type_id", PERSON_TYPES)
def test_every_id_number_mismatch_is_refused_naming_both_fields(type_id):
    ts, sample = TYPES[type_id], SAMPLES[type_id]
    props = ts.schema["properties"]
    number = sample["id_number"]
    if "birth_date" in props:
        other_birth = shift(sample["birth_date"], -1)
        err = refusal(ts, {**sample, "birth_date": other_birth})
        assert err.code == "FIELDS_INCONSISTENT" and err.blamed == ("id_number", "birth_date"), err
        assert "id_number" in err.message and "birth_date" in err.message
        assert number not in err.message and other_birth not in err.message
        if "birth_date" not in ts.schema["required"]:  # absent: nothing to disagree with
            ts.document.check_issuance({k: v for k, v in sample.items() if k != "birth_date"}, NOW)
    other_sex = "女" if sample["sex"] == "男" else "男"
    err = refusal(ts, {**sample, "sex": other_sex})
    assert err.code == "FIELDS_INCONSISTENT" and err.blamed == ("id_number", "sex"), err
    assert "id_number" in err.message and "sex" in err.message and number not in err.message
    ts.document.check_issuance(with_id(sample, sex=other_sex), NOW)  # a number of that sex agrees
    # The address code: its province must be one of GB/T 2260 (a format check of id_number).
    unknown = citizen_id("99" + number[2:17])
    err = refusal(ts, {**sample, "id_number": unknown})
    assert err.code == "SCHEMA_INVALID" and err.blamed == ("id_number",) and unknown not in err.message
    for province in ("71", "81", "82", "83"):  # Taiwan, Hong Kong, Macao; 83: Taiwan residents' permits
        ts.validate({**sample, "id_number": citizen_id(province + number[2:17])})


@pytest.mark.parametrize(("type_id", "years"), [("cn.driving_licence", 18), ("cn.transport_qualification", 18)])
def test_a_licence_is_first_issued_after_the_holders_18th_birthday(type_id, years):
    ts, sample = TYPES[type_id], SAMPLES[type_id]
    birth = sample["birth_date"]
    birthday = f"{int(birth[:4]) + years}{birth[4:]}"
    err = refusal(ts, {**sample, "first_issue_date": shift(birthday, -1)})
    assert err.code == "FIELDS_INCONSISTENT" and err.blamed == ("birth_date", "first_issue_date")
    assert "18th" in err.message and birthday not in err.message
    ts.document.check_issuance({**sample, "first_issue_date": birthday}, NOW)
    leap = with_id(sample, birth_date="2000-02-29")  # of age on 1 March 2018
    for first, ok in (("2018-02-28", False), ("2018-03-01", True)):
        fields = {**leap, "first_issue_date": first}
        ts.validate(fields)
        if ok:
            ts.document.check_issuance(fields, NOW)
        else:
            assert refusal(ts, fields).code == "FIELDS_INCONSISTENT"


def test_types_without_an_id_number_have_no_id_rules():
    for type_id in set(TYPES) - set(PERSON_TYPES):
        assert "x-consistency" not in TYPES[type_id].schema, type_id


@pytest.mark.parametrize("type_id", sorted(TYPES))
def test_dates_out_of_order_name_both_fields_at_issuance(type_id):
    ts, sample = TYPES[type_id], SAMPLES[type_id]
    pairs = [p for p in ts.schema["x-date-order"] if p[0] in sample and sample[p[0]][:1].isdigit()]
    assert pairs
    for earlier, later in pairs:
        fields = {**sample, later: shift(sample[earlier], -1)}
        with pytest.raises(RuleViolation) as err:
            ts.validate(fields)
        e = err.value
        assert e.code == "FIELDS_INCONSISTENT" and later in e.blamed and len(e.blamed) == 2, (earlier, later)
        assert all(name in e.message for name in e.blamed) and fields[later] not in e.message
        assert not ts.is_valid(fields)  # verification: SCHEMA_INVALID, as before
        with pytest.raises(RuleViolation) as err:  # another schema error too: that one is reported
            ts.validate({**fields, "no_such_field": 1})
        assert err.value.code == "SCHEMA_INVALID"
    earlier, later = pairs[-1]
    fields = {**sample, later: shift(sample[earlier], -1)}
    failing = list(identifiers.date_order_failures(ts.schema["x-date-order"], fields))
    with pytest.raises(RuleViolation) as err:
        ts.validate(fields)
    assert err.value.blamed == failing[0]


# --------------------------------------------------------------------------- who it names

@pytest.mark.parametrize("type_id", sorted(TYPES))
def test_identifying_fields_stay_within_each_roles_disclosure(type_id):
    ts, sample = TYPES[type_id], SAMPLES[type_id]
    for entry in (*KEY_ROLES, OTHER_REGION_AGENCY, "service", "nobody"):
        shown = ts.identified(entry, sample)
        assert set(shown) <= set(ts.disclosed(entry, sample)), entry
        assert all(shown[k] == sample[k] for k in shown)
    assert ts.identified("integrator", sample) == {}
    named = DOCS[type_id]["disclosure"][OTHER_REGION_AGENCY][0]
    assert ts.identified(OTHER_REGION_AGENCY, sample) == ts.identified(named, sample)
    hotel = ts.identified("hotel", sample)
    if type_id in ("cn.resident_id", "cn.residence_permit", "cn.driving_licence", "cn.transport_qualification"):
        assert hotel == {"name": sample["name"]}
    else:  # a vehicle, a business, a social security card: the hotel sees nothing of them
        assert hotel == {}
    police = set(ts.identified("traffic_police", sample))
    assert police or type_id == "cn.social_security_card", type_id
    assert police <= {"name", "sex", "birth_date", "id_number", "photo", "file_number", "certificate_number",
                      "plate_number", "vehicle_type", "owner", "vin", "operator_name", "uscc",
                      "legal_representative"}
    assert ts.identified("agency", sample) and ts.identified("admin", sample)


# --------------------------------------------------------------------------- malformed types

def _mutated(type_id: str, change) -> dict:
    doc = copy.deepcopy(DOCS[type_id])
    doc["schema"] = json.loads(doc["schema"])
    change(doc["schema"], doc)
    return doc


def _set(key, value):
    def change(schema, doc):
        schema[key] = value
    return change


BAD_MEMBERS = [
    ("cn.resident_id", _set("x-validity", {"from": "valid_from", "until": "valid_till"}), "valid_till"),
    ("cn.resident_id", _set("x-validity", {"until": "name"}), "not a date"),
    ("cn.resident_id", _set("x-validity", {"until": "valid_until", "end": "长期"}), "'end'"),
    ("cn.resident_id", _set("x-validity", {}), "x-validity"),
    ("cn.resident_id", _set("x-validity", {"until": "valid_until", "open_end": "永久"}), "open_end"),
    ("cn.residence_permit", _set("x-validity", {"until": "valid_until", "open_end": "长期"}), "open_end"),
    ("cn.resident_id", _set("x-validity", ["valid_from", "valid_until"]), "x-validity"),
    ("cn.vehicle_licence", _set("x-deadlines", [{"field": "inspection_due", "code": "INSPECTION_OVERDUE"}]),
     "inspection_due"),
    ("cn.vehicle_licence", _set("x-deadlines", [{"field": "inspection_valid_until", "code": "overdue"}]),
     "UPPER_SNAKE"),
    ("cn.vehicle_licence", _set("x-deadlines", [{"field": "inspection_valid_until", "code": "A" * 65}]), "code"),
    ("cn.vehicle_licence", _set("x-deadlines", [{"field": "inspection_valid_until"}]), "'code'"),
    ("cn.vehicle_licence", _set("x-deadlines", [{"field": "owner", "code": "X"}]), "not a date"),
    ("cn.vehicle_licence", _set("x-deadlines", {"inspection_valid_until": "INSPECTION_OVERDUE"}), "x-deadlines"),
    ("cn.resident_id", _set("x-consistency", [{"rule": "citizen-id-age", "id": "id_number", "field": "sex"}]),
     "rule"),
    ("cn.resident_id", _set("x-consistency", [{"rule": "citizen-id-sex", "id": "id_no", "field": "sex"}]),
     "id_no"),
    ("cn.resident_id", _set("x-consistency", [{"rule": "citizen-id-sex", "id": "name", "field": "sex"}]),
     "cn-citizen-id"),
    ("cn.resident_id", _set("x-consistency", [{"rule": "citizen-id-sex", "id": "id_number", "field": "name"}]),
     "name"),
    ("cn.resident_id", _set("x-consistency", [{"rule": "citizen-id-birth-date", "id": "id_number",
                                               "field": "birthday"}]), "birthday"),
    ("cn.driving_licence", _set("x-consistency", [{"rule": "min-age", "birth": "birth_date",
                                                   "at": "first_issue_date", "years": 0}]), "years"),
    ("cn.driving_licence", _set("x-consistency", [{"rule": "min-age", "birth": "birth_date",
                                                   "at": "first_issue", "years": 18}]), "first_issue"),
    ("cn.driving_licence", _set("x-consistency", [{"rule": "min-age", "birth": "birth_date", "years": 18}]),
     "'at'"),
    ("cn.resident_id", _set("x-consistency", [{"rule": ["min-age"], "birth": "birth_date"}]), "rule"),
    ("cn.resident_id", _set("x-consistency", [{"rule": {"min-age": 1}}]), "rule"),
    ("cn.resident_id", _set("x-date-order", 5), "x-date-order"),
    ("cn.resident_id", _set("x-date-order", "ab"), "x-date-order"),
    ("cn.resident_id", _set("x-date-order", [["birth_date"]]), "x-date-order[0]"),
    ("cn.resident_id", _set("x-date-order", [["birth_date", "valid_from", "valid_until"]]), "x-date-order[0]"),
    ("cn.resident_id", _set("x-date-order", [["birth_date", "valid_from"], {"a": 1}]), "x-date-order[1]"),
    ("cn.resident_id", _set("x-date-order", [["birth_date", "zz"]]), "'zz'"),
    ("cn.resident_id", _set("x-date-order", [[1, "valid_from"]]), "no field name"),
    ("cn.resident_id", _set("x-date-order", [["valid_from", "valid_from"]]), "two fields"),
    ("cn.resident_id", _set("x-identify", {"hotel": ["name", "nickname"]}), "nickname"),
    ("cn.resident_id", _set("x-identify", {"burglar": ["name"]}), "burglar"),
    ("cn.resident_id", _set("x-identify", {OTHER_REGION_AGENCY: ["name"]}), OTHER_REGION_AGENCY),
    ("cn.resident_id", _set("x-identify", ["name"]), "x-identify"),
    ("cn.resident_id", _set("x-identify", {"integrator": ["id_number"]}), "disclosure"),  # beyond its view
    ("cn.social_security_card", _set("x-identify", {"hotel": ["name"]}), "disclosure"),
]


@pytest.mark.parametrize(("type_id", "change", "named"), BAD_MEMBERS,
                         ids=[f"{i}-{t}-{n}"[:40] for i, (t, _, n) in enumerate(BAD_MEMBERS)])
def test_bad_x_members_are_refused_when_a_type_is_loaded(type_id, change, named):
    doc = _mutated(type_id, change)
    with pytest.raises(InvalidRequest) as err:
        load_type_document(doc)
    assert err.value.code == "SCHEMA_MALFORMED" and err.value.field == "schema"
    assert named in err.value.message, err.value.message


def test_a_type_is_accepted_only_if_a_trust_list_reader_can_build_it(monkeypatch):
    """load_type_document ends by building the TypeSchema a reader builds: what fails there (and so
    would make every verifier refuse the whole list) is SCHEMA_MALFORMED at publish."""
    from ecert.rules import catalogue

    def broken(*_args):
        raise ValueError("not enough values to unpack")
    monkeypatch.setattr(catalogue, "TypeSchema", broken)
    with pytest.raises(InvalidRequest) as err:
        load_type_document(DOCS["cn.resident_id"])
    assert (err.value.code, err.value.field) == ("SCHEMA_MALFORMED", "schema") and "unpack" not in err.value.message


def test_the_catalogue_loads_and_a_trust_list_type_checks_its_members_too():
    for type_id in DOCS:
        load_type_document(_mutated(type_id, lambda schema, doc: None))
    bad = _mutated("cn.resident_id", _set("x-validity", {"until": "valid_till"}))
    with pytest.raises(InvalidRequest):
        TypeSchema(bad["id"], 1, bad["name"], json.dumps(bad["schema"]), bad["disclosure"])


def test_a_type_s_date_order_is_its_document_s():
    """``x-date-order`` is read once, with the other members: the pairs issuance names."""
    assert TYPES["cn.resident_id"].document.date_order == (("birth_date", "valid_from"), ("valid_from", "valid_until"))
    assert all(ts.document.date_order == tuple(map(tuple, ts.schema["x-date-order"])) for ts in TYPES.values())


def test_a_type_without_x_members_has_no_document_rules():
    ts = TypeSchema("cn.plain", 1, "Plain", json.dumps({"type": "object", "properties": {
        "valid_until": {"type": "string", "format": "date"}}}), {"hotel": ["valid_until"]})
    assert not ts.document.has_validity and ts.document.deadlines == () and ts.document.date_order == ()
    assert ts.document.check({"valid_until": "2000-01-01"}, TODAY) is None
    assert ts.document.check_issuance({"valid_until": "2000-01-01"}, NOW) is None
    assert ts.identified("hotel", {"valid_until": "2000-01-01"}) == {}


def test_document_rules_are_immutable_and_parse_alone():
    rules = parse_document_rules({"type": "object", "properties": {"d": {"type": "string", "format": "date"}},
                                  "x-validity": {"until": "d"}})
    assert isinstance(rules, DocumentRules) and rules.valid_until == "d" and rules.valid_from is None
    with pytest.raises(AttributeError):
        rules.valid_until = "e"  # type: ignore[misc]
    assert rules.check({"d": "2027-01-14"}, TODAY)[0] is Outcome.EXPIRED


def test_the_compiled_schemas_read_the_new_members_as_annotations():
    for type_id, ts in TYPES.items():
        assert ts._fast is not None, type_id
        assert fastschema.compile_schema(ts.schema, identifiers.STRING_FORMAT_CHECKS)(SAMPLES[type_id])
