"""Issue 3 through the gateway: the catalogue, identifier checks, display ids, disclosure, versions."""

from __future__ import annotations

import copy

import pytest

from ecert.format.keys import SigningKey
from ecert.rules import identifiers
from testkit.samples import SAMPLES
from tests import forge
from tests.conftest import bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROLE_KEYS = {"hotel": "hotel", "traffic_police": "police", "integrator": "integrator", "agency": "agency_sh",
             "admin": "admin"}


async def _types(http, keys) -> dict:
    r = await http.get("/v1/certificate-types", headers=bearer(keys["hotel"]))
    return {(t["id"], t["version"]): t for t in (await r.json())["types"]}


async def _issue(http, keys, type_id, fields, status=201, **extra):
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_sh"]),
                        json={"region": "CN-SH", "type": type_id, "fields": fields, **extra})
    body = await r.json()
    assert r.status == status, body
    return body


async def _verify(http, key, text):
    r = await http.post("/v1/verifications", headers=bearer(key), json={"payload": text})
    assert r.status == 200
    return await r.json()


@pytest.mark.parametrize("type_id", sorted(SAMPLES))
async def test_every_type_issues_and_each_role_sees_its_policy(http, keys, type_id):
    policy = (await _types(http, keys))[(type_id, 1)]["disclosure"]
    cred = await _issue(http, keys, type_id, SAMPLES[type_id])
    assert identifiers.display_id_valid(cred["display_id"])
    assert cred["display_id"].startswith("1.2.156.3005.2.") and ".310000." in cred["display_id"]
    for role, key_name in ROLE_KEYS.items():
        v = await _verify(http, keys[key_name], cred["qr_text"])
        assert v["result"] == "VALID", (role, v)
        assert v["credential"]["display_id"] == cred["display_id"]
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
    police = await _verify(http, keys["police"], licence["qr_text"])
    assert "points" not in hotel["fields"] and "file_number" not in hotel["fields"]
    assert {"licence_class", "valid_until", "points"} <= set(police["fields"])


@pytest.mark.parametrize("type_id,field,value", [
    ("cn.resident_id", "id_number", "310104199003071231"),    # wrong GB 11643 check character
    ("cn.resident_id", "id_number", "310104199002301234"),    # 30 February
    ("cn.business_licence", "uscc", "91310115MA1K3Y5B22"),    # wrong GB 32100 check character
    ("cn.vehicle_licence", "plate_number", "沪I12345"),       # I is never used on plates
    ("cn.driving_licence", "licence_class", "C7"),
    ("cn.resident_id", "valid_until", "2010-01-01"),          # before valid_from
])
async def test_identifier_checks_at_issuance_name_the_field(http, keys, type_id, field, value):
    fields = {**SAMPLES[type_id], field: value}
    body = await _issue(http, keys, type_id, fields, status=422)
    assert body["error"]["code"] == "SCHEMA_INVALID"
    assert field in body["error"]["message"]


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
