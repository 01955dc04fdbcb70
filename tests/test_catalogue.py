"""The built-in certificate-type catalogue (ecert/rules/catalogue/*.json)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
from jsonschema import Draft202012Validator

import ecert.rules
from ecert.rules.access import OTHER_REGION_AGENCY
from ecert.rules.catalogue import load_type_document
from ecert.rules.identifiers import KEYWORDS, format_checker
from ecert.rules.schema import TypeSchema, check_disclosure, check_type_id, parse_schema
from ecert.vocab import KEY_ROLES as ROLES
from testkit.samples import SAMPLE_PHOTO as PHOTO
from testkit.samples import SAMPLES

CATALOGUE = Path(ecert.rules.__file__).parent / "catalogue"
FILES = sorted(CATALOGUE.glob("*.json"))
EXPECTED_IDS = {
    "cn.resident_id", "cn.driving_licence", "cn.vehicle_licence", "cn.road_transport_certificate",
    "cn.transport_qualification", "cn.business_licence", "cn.social_security_card", "cn.residence_permit",
}
Validator = jsonschema.validators.extend(Draft202012Validator, KEYWORDS)

# (type, field, bad value): each must fail, and every error must name that field.
BROKEN = [
    ("cn.resident_id", "id_number", "310104199003071231"),          # wrong check character
    ("cn.resident_id", "id_number", "31010419900307123x"),          # lower-case x
    ("cn.resident_id", "valid_until", "2014-06-01"),                # before valid_from
    ("cn.resident_id", "valid_until", "永久"),
    ("cn.resident_id", "birth_date", "1990-02-30"),
    ("cn.resident_id", "sex", "M"),
    ("cn.resident_id", "photo", PHOTO.upper()),
    ("cn.driving_licence", "licence_class", "C7"),
    ("cn.driving_licence", "licence_class", "C1C1"),
    ("cn.driving_licence", "points", 13),
    ("cn.driving_licence", "first_issue_date", "1989-01-01"),       # before birth
    ("cn.driving_licence", "valid_until", "2016-05-19"),
    ("cn.driving_licence", "file_number", "31001234567"),
    ("cn.vehicle_licence", "plate_number", "沪I12345"),
    ("cn.vehicle_licence", "vin", "LSVAM4188C200000O"),
    ("cn.vehicle_licence", "inspection_valid_until", "2020-08-31"),  # before registration
    ("cn.vehicle_licence", "approved_passengers", -1),
    ("cn.road_transport_certificate", "plate_number", "沪B1234"),
    ("cn.road_transport_certificate", "valid_until", "2023-02-28"),
    ("cn.transport_qualification", "id_number", "530102198511070511"),
    ("cn.transport_qualification", "driving_class", "A2 D"),
    ("cn.transport_qualification", "qualification_classes", ""),
    ("cn.transport_qualification", "valid_until", "2018-03-31"),
    ("cn.business_licence", "uscc", "91310115MA1K3Y5B22"),
    ("cn.business_licence", "uscc", "91310115MA1K3Y5BI1"),
    ("cn.business_licence", "business_term_until", "2017-12-31"),
    ("cn.business_licence", "business_scope", "经" * 2001),
    ("cn.social_security_card", "id_number", "110101199902290026"),  # 1999-02-29
    ("cn.social_security_card", "valid_until", "2020-08-31"),
    ("cn.social_security_card", "issuing_region", "11000"),
    ("cn.residence_permit", "valid_until", "2024-02-29"),
    ("cn.residence_permit", "id_number", "5301021985110705"),
    ("cn.residence_permit", "name", ""),
]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


CATALOGUE_DOCS = {doc["id"]: doc for doc in map(load, FILES)}


def validator(type_id: str):
    return Validator(CATALOGUE_DOCS[type_id]["schema"], format_checker=format_checker())


def walk(node):
    """Every sub-schema (dict) of a schema."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def is_date_schema(prop: dict) -> bool:
    return prop.get("format") == "date" or any(s.get("format") == "date" for s in prop.get("anyOf", []))


# --------------------------------------------------------------------------- per file

def test_catalogue_holds_the_eight_types():
    assert len(FILES) >= 8
    assert len(CATALOGUE_DOCS) == len(FILES), "duplicate type ids"
    assert EXPECTED_IDS <= set(CATALOGUE_DOCS)
    codes = [doc["code"] for doc in CATALOGUE_DOCS.values()]
    assert len(set(codes)) == len(codes), "type codes must be unique"
    assert set(SAMPLES) == EXPECTED_IDS


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_shape(path):
    doc = load(path)
    assert set(doc) == {"id", "version", "name", "code", "schema", "disclosure"}
    assert check_type_id(doc["id"]) == doc["id"]
    assert doc["version"] == 1 and path.name == f"{doc['id']}.v{doc['version']}.json"
    zh, _, en = doc["name"].partition(" / ")
    assert re.search(r"[\u4e00-\u9fff]", zh) and en.isascii() and en
    assert re.fullmatch(r"[0-9A-Z]+", doc["code"])
    schema = doc["schema"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:ecert:type:{doc['id']}:{doc['version']}"
    assert schema["x-ecert-type-code"] == doc["code"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] and set(schema["required"]) <= set(schema["properties"])
    Draft202012Validator.check_schema(schema)
    Validator.check_schema(schema)
    assert parse_schema(json.dumps(schema, ensure_ascii=False)) == schema
    TypeSchema(doc["id"], doc["version"], doc["name"], json.dumps(schema, ensure_ascii=False), doc["disclosure"])
    loaded = load_type_document(doc)
    assert json.loads(loaded["schema"]) == schema and loaded["disclosure"] == doc["disclosure"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_properties_are_bilingual_and_bounded(path):
    schema = load(path)["schema"]
    for name, prop in schema["properties"].items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert re.search(r"[\u4e00-\u9fff]", prop.get("title", "")), f"{name}: Chinese title"
        en = prop.get("x-title-en", "")
        assert en and en.isascii(), f"{name}: English title"
    for sub in walk(schema["properties"]):
        if sub.get("type") == "string":
            assert isinstance(sub.get("maxLength"), int), f"unbounded string in {path.name}: {sub}"
        if sub.get("type") == "integer":
            assert "minimum" in sub and "maximum" in sub, sub
    if "photo" in schema["properties"]:
        photo = schema["properties"]["photo"]
        assert photo["contentEncoding"] == "base16" and photo["pattern"] == "^[0-9a-f]{64}$"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_date_order_pairs_name_date_fields(path):
    schema = load(path)["schema"]
    props = schema["properties"]
    for earlier, later in schema.get("x-date-order", []):
        assert is_date_schema(props[earlier]) and is_date_schema(props[later]), (earlier, later)
    if "valid_from" in props and "valid_until" in props:
        assert ["valid_from", "valid_until"] in schema["x-date-order"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_disclosure_fields_exist(path):
    doc = load(path)
    props = doc["schema"]["properties"]
    assert check_disclosure(doc["disclosure"], doc["schema"]) == doc["disclosure"]
    assert set(doc["disclosure"]) == set(ROLES) | {OTHER_REGION_AGENCY}
    for role, fields in doc["disclosure"].items():
        if role == OTHER_REGION_AGENCY:
            continue
        assert set(fields) <= set(props), role
        assert len(set(fields)) == len(fields), role
    assert set(doc["disclosure"]["agency"]) == set(props)
    assert set(doc["disclosure"]["admin"]) == set(props)


# --------------------------------------------------------------------------- disclosure policy

HOTEL_CHECK_IN = {"name", "sex", "ethnicity", "birth_date", "id_number", "address", "photo", "valid_until"}


def disclosure(type_id, role):
    return set(CATALOGUE_DOCS[type_id]["disclosure"][role])


def test_hotel_sees_check_in_fields_only():
    for type_id in ("cn.resident_id", "cn.residence_permit"):
        props = set(CATALOGUE_DOCS[type_id]["schema"]["properties"])
        assert disclosure(type_id, "hotel") == HOTEL_CHECK_IN & props
    assert disclosure("cn.driving_licence", "hotel") <= {"name", "id_number", "photo"}
    for type_id in CATALOGUE_DOCS:
        hotel = disclosure(type_id, "hotel")
        assert not hotel & {"points", "file_number", "licence_status", "registered_address", "bank",
                            "card_number"}, type_id


def test_traffic_police_see_licence_status_fields():
    assert {"licence_class", "valid_from", "valid_until", "points", "licence_status"} <= disclosure(
        "cn.driving_licence", "traffic_police")
    assert {"plate_number", "vin", "inspection_valid_until", "vehicle_status"} <= disclosure(
        "cn.vehicle_licence", "traffic_police")
    assert {"certificate_number", "plate_number", "valid_from", "valid_until"} <= disclosure(
        "cn.road_transport_certificate", "traffic_police")
    assert {"qualification_classes", "valid_from", "valid_until"} <= disclosure(
        "cn.transport_qualification", "traffic_police")


def test_every_type_names_a_partial_view_for_agencies_of_other_regions():
    """Finding 7: an agency verifying another region's credential sees the named role's fields,
    never the full record, and never the holder's address or birth date."""
    for type_id, doc in CATALOGUE_DOCS.items():
        props = set(doc["schema"]["properties"])
        named = doc["disclosure"][OTHER_REGION_AGENCY]
        assert len(named) == 1 and named[0] in ("hotel", "traffic_police", "integrator"), type_id
        ts = TypeSchema(doc["id"], doc["version"], doc["name"], json.dumps(doc["schema"]), doc["disclosure"])
        sample = SAMPLES[type_id]
        seen = ts.disclosed(OTHER_REGION_AGENCY, sample)
        assert seen == ts.disclosed(named[0], sample) and seen, type_id
        assert set(seen) < props and not set(seen) & {"address", "birth_date", "registered_address"}, type_id
        assert ts.disclosed("agency", sample) == sample, type_id
    assert CATALOGUE_DOCS["cn.driving_licence"]["disclosure"][OTHER_REGION_AGENCY] == ["traffic_police"]


def test_integrator_sees_a_minimal_set():
    for type_id in CATALOGUE_DOCS:
        integrator = disclosure(type_id, "integrator")
        props = CATALOGUE_DOCS[type_id]["schema"]["properties"]
        assert 0 < len(integrator) <= 5, type_id
        assert not integrator & {"id_number", "photo", "address", "birth_date", "points"}, type_id
        assert integrator & {"valid_until", "business_term_until", "inspection_valid_until"}, type_id
        assert len(integrator) < len(props)


# --------------------------------------------------------------------------- samples

@pytest.mark.parametrize("type_id", sorted(SAMPLES))
def test_sample_validates(type_id):
    schema = CATALOGUE_DOCS[type_id]["schema"]
    sample = SAMPLES[type_id]
    assert set(sample) == set(schema["properties"]), "samples exercise every field"
    assert list(validator(type_id).iter_errors(sample)) == []
    minimal = {k: v for k, v in sample.items() if k in schema["required"]}
    assert list(validator(type_id).iter_errors(minimal)) == []


@pytest.mark.parametrize(("type_id", "field", "value"), BROKEN, ids=lambda v: str(v)[:24])
def test_broken_sample_names_the_field(type_id, field, value):
    doc = copy.deepcopy(SAMPLES[type_id])
    doc[field] = value
    errors = list(validator(type_id).iter_errors(doc))
    assert errors, "should fail"
    assert {e.absolute_path[0] if e.absolute_path else None for e in errors} == {field}, [
        (list(e.absolute_path), e.message) for e in errors]
    best = jsonschema.exceptions.best_match(validator(type_id).iter_errors(doc))
    assert list(best.absolute_path)[:1] == [field]


def test_long_term_validity_is_accepted_only_where_real_documents_have_it():
    doc = dict(SAMPLES["cn.resident_id"], valid_until="长期")
    assert list(validator("cn.resident_id").iter_errors(doc)) == []
    doc = dict(SAMPLES["cn.residence_permit"], valid_until="长期")
    assert list(validator("cn.residence_permit").iter_errors(doc)) != []


@pytest.mark.parametrize("type_id", sorted(SAMPLES))
def test_missing_required_and_extra_fields_fail(type_id):
    schema = CATALOGUE_DOCS[type_id]["schema"]
    doc = dict(SAMPLES[type_id])
    del doc[schema["required"][0]]
    assert [e.validator for e in validator(type_id).iter_errors(doc)] == ["required"]
    doc = dict(SAMPLES[type_id], nickname="x")
    assert [e.validator for e in validator(type_id).iter_errors(doc)] == ["additionalProperties"]
