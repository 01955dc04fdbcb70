"""Issue 3 through the gateway: the catalogue, identifier checks, display ids, disclosure, versions."""

from __future__ import annotations

import copy
import time
from datetime import date, timedelta

import pytest

from ecert.format.keys import SigningKey
from ecert.rules import identifiers
from ecert.rules.acceptance import default_rules
from ecert.rules.catalogue import builtin_types
from ecert.rules.document import china_day
from ecert.rules.schema import TypeSchema
from ecert.vocab import ROLE_PURPOSES
from testkit.samples import SAMPLES, citizen_id
from tests import forge
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROLE_KEYS = {"hotel": "hotel", "traffic_police": "police", "integrator": "integrator", "agency": "agency_sh",
             "admin": "admin"}
TYPES = {t["id"]: TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in builtin_types()}


def _purpose_for(role: str, type_id: str) -> str | None:
    """A purpose the role may name that the shipped agreement accepts the type for, if any."""
    rules = default_rules()
    return next((str(p) for p in ROLE_PURPOSES[role] if type_id in rules.purposes.get(p, ())), None)


def _days_from_today(days: int) -> str:
    return (date.fromisoformat(china_day(int(time.time()))) + timedelta(days=days)).isoformat()


async def _types(http, keys) -> dict:
    r = await http.get("/v1/certificate-types", headers=bearer(keys["hotel"]))
    return {(t["id"], t["version"]): t for t in (await r.json())["types"]}


async def _issue(http, keys, type_id, fields, status=201, **extra):
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_sh"]),
                        json={"region": "CN-SH", "type": type_id, "fields": fields, **extra})
    body = await r.json()
    assert r.status == status, body
    return body


async def _verify(http, key, text, purpose: str | None = None):
    r = await http.post("/v1/verifications", headers=bearer(key),
                        json={"payload": text, **({"purpose": purpose} if purpose else {})})
    assert r.status == 200
    return await r.json()


@pytest.mark.parametrize("type_id", sorted(SAMPLES))
async def test_every_type_issues_and_each_role_sees_its_policy(http, keys, type_id):
    policy = (await _types(http, keys))[(type_id, 1)]["disclosure"]
    cred = await _issue(http, keys, type_id, SAMPLES[type_id])
    assert identifiers.display_id_valid(cred["display_id"])
    assert cred["display_id"].startswith("1.2.156.3005.2.") and ".310000." in cred["display_id"]
    for role, key_name in ROLE_KEYS.items():
        purpose = _purpose_for(role, type_id)
        v = await _verify(http, keys[key_name], cred["qr_text"], purpose)
        assert v["credential"]["display_id"] == cred["display_id"]
        if purpose is None:  # e.g. a hotel and a vehicle licence: genuine, but not for checking in
            assert v["result"] == "NOT_ACCEPTED_FOR_PURPOSE", (role, v)
            assert v["fields"] == TYPES[type_id].identified(role, SAMPLES[type_id]), role
            continue
        assert v["result"] == "VALID", (role, v)
        expected = {f for f in policy.get(role, []) if f in SAMPLES[type_id]}
        assert set(v["fields"]) == expected, role


async def test_hotel_sees_check_in_fields_of_an_id_card_and_no_points(http, keys):
    card = await _issue(http, keys, "cn.resident_id", SAMPLES["cn.resident_id"])
    v = await _verify(http, keys["hotel"], card["qr_text"])
    assert set(v["fields"]) <= {"name", "sex", "ethnicity", "birth_date", "id_number", "address", "photo",
                                "valid_until"}
    assert {"name", "id_number"} <= set(v["fields"])
    licence = await _issue(http, keys, "cn.driving_licence", SAMPLES["cn.driving_licence"])
    hotel = await _verify(http, keys["hotel"], licence["qr_text"])
    police = await _verify(http, keys["police"], licence["qr_text"], "roadside_driver_check")
    assert "points" not in hotel["fields"] and "file_number" not in hotel["fields"]
    assert {"licence_class", "valid_until", "points"} <= set(police["fields"])


@pytest.mark.parametrize("type_id,field,value", [
    ("cn.resident_id", "id_number", "310104199003071231"),    # wrong GB 11643 check character
    ("cn.resident_id", "id_number", "310104199002301234"),    # 30 February
    ("cn.business_licence", "uscc", "91310115MA1K3Y5B22"),    # wrong GB 32100 check character
    ("cn.vehicle_licence", "plate_number", "沪I12345"),       # I is never used on plates
    ("cn.driving_licence", "licence_class", "C7"),
    ("cn.resident_id", "id_number", citizen_id("99010419900307123")),  # no province 99 in GB/T 2260
])
async def test_identifier_checks_at_issuance_name_the_field(http, keys, type_id, field, value):
    fields = {**SAMPLES[type_id], field: value}
    body = await _issue(http, keys, type_id, fields, status=422)
    assert body["error"]["code"] == "SCHEMA_INVALID"
    assert field in body["error"]["message"] and str(value) not in body["error"]["message"]


@pytest.mark.parametrize("type_id,fields,named", [
    ("cn.resident_id", {"valid_until": "2010-01-01"}, ("valid_from", "valid_until")),  # before valid_from
    ("cn.driving_licence", {"birth_date": "1970-01-01"}, ("id_number", "birth_date")),
    ("cn.driving_licence", {"sex": "女"}, ("id_number", "sex")),
    ("cn.driving_licence", {"first_issue_date": "2008-03-06"}, ("birth_date", "first_issue_date")),  # age 17
    ("cn.social_security_card", {"sex": "男"}, ("id_number", "sex")),
])
async def test_fields_that_disagree_are_refused_naming_both(http, keys, type_id, fields, named):
    body = await _issue(http, keys, type_id, {**SAMPLES[type_id], **fields}, status=422)
    assert body["error"]["code"] == "FIELDS_INCONSISTENT", body
    assert all(name in body["error"]["message"] for name in named)
    assert not any(str(v) in body["error"]["message"] for v in fields.values())
    assert body["error"]["fields"] == list(named)


@pytest.mark.parametrize("type_id", sorted(SAMPLES))
async def test_every_type_refuses_a_document_outside_its_own_validity(http, keys, type_id):
    rules = TYPES[type_id].document
    if not rules.has_validity:  # a vehicle or a business: its dates are warnings, never a refusal
        field = rules.deadlines[0][0]
        await _issue(http, keys, type_id, {**SAMPLES[type_id], field: _days_from_today(-2)})
        return
    for field, days, code in ((rules.valid_until, -2, "DOCUMENT_EXPIRED"),
                              (rules.valid_from, 2, "DOCUMENT_NOT_YET_VALID")):
        body = await _issue(http, keys, type_id, {**SAMPLES[type_id], field: _days_from_today(days)}, status=422)
        assert body["error"]["code"] == code and field in body["error"]["message"], body
    ends = _days_from_today(3)
    cred = await _issue(http, keys, type_id, {**SAMPLES[type_id], rules.valid_until: ends})
    assert (await _verify(http, keys["admin"], cred["qr_text"]))["result"] == "VALID"
    # The credential ends with the document's last day: 24:00 China time, 16:00 UTC.
    assert cred["expires_at"] == f"{ends}T16:00:00Z", cred["expires_at"]


async def test_identifier_checks_at_verification(http, keys, suite):
    key = SigningKey.generate()
    r = await http.post("/v1/regions/CN-SH/keys", headers=bearer(keys["agency_sh"]),
                        json={"alg": "ES256", "spki": forge.spki_b64(key)})
    assert r.status == 201
    await suite.refresh()
    good = forge.sign(key, forge.claims("CN-SH", type_id="cn.resident_id", fields=SAMPLES["cn.resident_id"]))
    assert (await _verify(http, keys["hotel"], good))["result"] == "VALID"
    for field, value in (("id_number", "310104199003071231"), ("valid_until", "2001-01-01")):
        bad = forge.sign(key, forge.claims("CN-SH", type_id="cn.resident_id",
                                           fields={**SAMPLES["cn.resident_id"], field: value}))
        v = await _verify(http, keys["hotel"], bad)
        assert v["result"] == "SCHEMA_INVALID" and v["fields"] == {}


async def test_type_versions_coexist(http, keys, suite):
    v1 = await _issue(http, keys, "cn.residence_permit", SAMPLES["cn.residence_permit"])
    doc = copy.deepcopy((await _types(http, keys))[("cn.residence_permit", 1)])
    doc["version"] = 2
    doc["schema"]["properties"]["residence_card_number"] = {"type": "string", "maxLength": 32,
                                                            "title": "居住证号", "x-title-en": "Permit number"}
    doc["schema"]["$id"] = "urn:ecert:type:cn.residence_permit:2"
    doc["disclosure"]["traffic_police"] = doc["disclosure"].get("traffic_police", []) + ["residence_card_number"]
    r = await http.post("/v1/certificate-types", headers=bearer(keys["admin"]), json=doc)
    assert r.status == 201, await r.json()
    await suite.refresh()
    v2 = await _issue(http, keys, "cn.residence_permit", {**SAMPLES["cn.residence_permit"],
                                                          "residence_card_number": "ZJ123"})
    assert v2["version"] == 2
    pinned = await _issue(http, keys, "cn.residence_permit", SAMPLES["cn.residence_permit"], version=1)
    assert pinned["version"] == 1
    for cred in (v1, v2, pinned):
        assert (await _verify(http, keys["police"], cred["qr_text"]))["result"] == "VALID"
    police = await _verify(http, keys["police"], v2["qr_text"])
    assert police["fields"]["residence_card_number"] == "ZJ123"
    # a published version is immutable
    doc["name"] = "changed"
    r = await http.post("/v1/certificate-types", headers=bearer(keys["admin"]), json=doc)
    assert r.status == 409


@pytest.mark.parametrize("schema,disclosure", [
    ({"type": "nonsense"}, {}),
    ({"type": "object", "properties": {"a": {"type": "string", "maxLength": "ten"}}}, {}),
    ({"type": "object", "properties": {"tags": {"type": "array"}}}, {}),   # not a credential field type
    ({"type": "object", "properties": {"a": {"type": "string"}}}, {"hotel": ["b"]}),
    ({"type": "object", "properties": {"a": {"type": "string"}}}, {"burglar": ["a"]}),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "x-validity": {"until": "b"}}, {}),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "x-validity": {"until": "a"}}, {}),  # no date
    ({"type": "object", "properties": {"a": {"type": "string", "format": "date"}},
      "x-deadlines": [{"field": "a", "code": "overdue"}]}, {}),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "x-identify": {"hotel": ["a"]}}, {}),
    ("{not json", {}),
])
async def test_malformed_types_are_refused_clearly(http, keys, schema, disclosure):
    r = await http.post("/v1/certificate-types", headers=bearer(keys["admin"]),
                        json={"id": "cn.test_type", "version": 1, "name": "测试 / Test", "schema": schema,
                              "disclosure": disclosure})
    body = await r.json()
    assert r.status == 400, body
    assert body["error"]["message"]


async def test_publishing_types_is_admin_only(http, keys):
    r = await http.post("/v1/certificate-types", headers=bearer(keys["agency_sh"]),
                        json={"id": "cn.x", "version": 1, "name": "x", "schema": {"type": "object",
                                                                                  "properties": {}}})
    assert r.status == 403
