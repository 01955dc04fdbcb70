"""Issue 11, the recognition rules as data: :mod:`ecert.rules.acceptance`, the rules signed into
the trust list, and the gateway's routes that read and change them (a real suite: tests/harness.py)."""

from __future__ import annotations

from importlib import resources

import cbor2
import pytest

from ecert.format import cose, keys, trustlist
from ecert.format.keys import SigningKey
from ecert.limits import MAX_RULE_ITEMS
from ecert.rules.acceptance import PURPOSE_NAMES, STAR, Rules, default_rules
from ecert.rules.trust import TrustList, TrustListError
from ecert.vocab import ROLE_PURPOSES, Purpose, Role
from services.registry.servicer import root_key_paths
from testkit.samples import driving_licence
from tests.conftest import bearer

YRD = ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
CATALOGUE = sorted(e.name.removesuffix(".v1.json") for e in (resources.files("ecert.rules") / "catalogue").iterdir()
                   if e.name.endswith(".json"))


# -- Rules ---------------------------------------------------------------------------------------

def test_the_default_agreement_is_the_shipped_data():
    rules = default_rules()
    assert set(rules.purposes) == set(Purpose) and rules is default_rules()
    assert rules.accepts("hotel_check_in") == {"cn.resident_id", "cn.residence_permit"}
    assert rules.accepts("roadside_driver_check") == {"cn.driving_licence", "cn.resident_id", "cn.residence_permit",
                                                      "cn.transport_qualification"}
    assert rules.accepts("roadside_vehicle_check") == {"cn.vehicle_licence", "cn.road_transport_certificate"}
    assert rules.accepts("transport_inspection") == {"cn.road_transport_certificate", "cn.transport_qualification",
                                                     "cn.vehicle_licence", "cn.driving_licence"}
    assert rules.accepts("business_check") == {"cn.business_licence"}
    assert sorted(rules.accepts("general")) == CATALOGUE and len(CATALOGUE) == 8
    assert {region: sorted(r) for region, r in rules.recognition.items()} == {r: YRD for r in (*YRD, STAR)}


@pytest.mark.parametrize("type_id", [t for t in CATALOGUE if t not in ("cn.resident_id", "cn.residence_permit")])
def test_a_hotel_check_in_accepts_no_other_type(type_id):
    assert default_rules().refusal("hotel_check_in", type_id, "", "CN-ZJ") == \
        f"{type_id} is not accepted for hotel_check_in"


def test_refusal_names_the_type_and_purpose_or_the_two_regions():
    rules = default_rules()
    assert rules.refusal("hotel_check_in", "cn.resident_id", "", "CN-ZJ") is None
    assert rules.refusal(Purpose.HOTEL_CHECK_IN, "cn.resident_id", "CN-SH", "CN-AH") is None
    assert rules.refusal("general", "cn.resident_id", "CN-SH", "CN-FJ") == "credentials of CN-FJ are not recognised by CN-SH"
    assert rules.refusal("general", "cn.resident_id", "", "CN-FJ") == \
        "credentials of CN-FJ are not recognised for callers bound to no region"
    assert rules.refusal("general", "cn.resident_id", "CN-FJ", "CN-ZJ") == \
        "credentials of CN-ZJ are not recognised by CN-FJ"  # a region outside the agreement recognises none
    assert rules.refusal("sightseeing", "cn.resident_id", "", "CN-ZJ") == "cn.resident_id is not accepted for sightseeing"
    # the type is judged before the region
    assert rules.refusal("hotel_check_in", "cn.vehicle_licence", "CN-FJ", "CN-FJ").startswith("cn.vehicle_licence")


def test_a_region_outside_the_agreement_is_recognised_once_the_rules_name_it():
    rules = default_rules()
    assert rules.refusal("hotel_check_in", "cn.resident_id", "", "CN-FJ") is not None
    added = rules.with_recognition(STAR, [*YRD, "CN-FJ"])
    assert added.refusal("hotel_check_in", "cn.resident_id", "", "CN-FJ") is None
    assert added.refusal("hotel_check_in", "cn.resident_id", "CN-SH", "CN-FJ") is not None  # Shanghai's entry: not
    assert rules.refusal("hotel_check_in", "cn.resident_id", "", "CN-FJ") is not None  # the original is unchanged
    fj = added.with_recognition("CN-FJ", ["CN-FJ"])
    assert fj.refusal("general", "cn.resident_id", "CN-FJ", "CN-FJ") is None
    assert fj.refusal("general", "cn.resident_id", "CN-FJ", "CN-ZJ") is not None


def test_rules_are_immutable_values():
    rules = default_rules()
    with pytest.raises(AttributeError):
        rules.purposes = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        rules.purposes["general"] = frozenset()  # type: ignore[index]
    with pytest.raises(AttributeError):
        rules._purposes = {}  # type: ignore[misc]
    changed = rules.with_purpose("general", ["cn.resident_id"])
    assert changed != rules and changed.accepts("general") == {"cn.resident_id"}
    assert rules.accepts("general") == frozenset(CATALOGUE)
    assert changed.with_purpose("general", CATALOGUE) == rules
    empty = Rules({}, {})
    assert empty.refusal("general", "cn.resident_id", "", "CN-ZJ") is not None
    assert empty.accepts("general") == frozenset() and empty.recognises("") == frozenset()


def test_the_payload_is_sorted_and_reads_back():
    rules = Rules({"general": ["cn.b", "cn.a"], "business_check": []}, {"CN-ZJ": ["CN-ZJ", "CN-SH"], "*": ["CN-SH"]})
    payload = rules.to_payload()
    assert payload == {"purposes": {"business_check": [], "general": ["cn.a", "cn.b"]},
                       "recognition": {"*": ["CN-SH"], "CN-ZJ": ["CN-SH", "CN-ZJ"]}}
    assert Rules.from_payload(payload) == rules
    assert Rules.from_payload(default_rules().to_payload()) == default_rules()
    for bad in (None, {}, {"purposes": {}}, {"purposes": {"general": ["cn.a", "cn.a"]}, "recognition": {}},
                {"purposes": {"general": "cn.a"}, "recognition": {}}, {"purposes": {}, "recognition": {"*": [1]}}):
        with pytest.raises(ValueError):
            Rules.from_payload(bad)


def test_every_purpose_has_a_name_in_both_languages():
    assert set(PURPOSE_NAMES) == set(Purpose)
    for name in PURPOSE_NAMES.values():
        chinese, english = name.split(" / ")
        assert not chinese.isascii() and english.isascii() and english


# -- the rules in the signed trust list ------------------------------------------------------------

ROOT = SigningKey.generate()


def _signed(rules: dict | None, version: int = 5) -> bytes:
    payload = trustlist.build_payload(version=version, iat=1000, exp=10**10, regions=[], keys=[], types=[],
                                      rules=rules)
    return trustlist.sign(ROOT, payload)


def test_signed_rules_round_trip():
    rules = default_rules().with_purpose("hotel_check_in", ["cn.resident_id"]).with_recognition(STAR, ["CN-SH"])
    tl = TrustList.from_signed(_signed(rules.to_payload()), ROOT.public)
    assert tl.acceptance == rules and tl.rules is not None
    assert tl.acceptance.refusal("hotel_check_in", "cn.residence_permit", "", "CN-SH") is not None
    assert tl.acceptance.refusal("hotel_check_in", "cn.resident_id", "", "CN-ZJ") is not None
    assert tl.acceptance.refusal("hotel_check_in", "cn.resident_id", "", "CN-SH") is None
    old = TrustList.from_signed(_signed(None), ROOT.public)  # a list from before there were rules
    assert old.rules is None and old.acceptance == default_rules()


def _altered(signed: bytes, change) -> bytes:
    """The COSE_Sign1 with its payload changed by ``change`` and the original signature kept."""
    outer = cbor2.loads(signed)
    protected, unprotected, payload, signature = outer.value
    body = cbor2.loads(payload)
    change(body)
    return cbor2.dumps(cbor2.CBORTag(cose.COSE_SIGN1_TAG, [protected, unprotected, cbor2.dumps(body), signature]))


@pytest.mark.parametrize("change", [
    lambda b: b["rules"]["purposes"]["hotel_check_in"].append("cn.vehicle_licence"),
    lambda b: b["rules"]["recognition"]["*"].append("CN-FJ"),
    lambda b: b["rules"]["recognition"].__setitem__("CN-FJ", ["CN-FJ"]),
    lambda b: b.pop("rules"),  # dropped: the list would fall back to the defaults
], ids=["type added", "region added", "entry added", "rules dropped"])
def test_a_trust_list_whose_rules_were_altered_after_signing_is_refused(change):
    signed = _signed(default_rules().with_recognition(STAR, ["CN-SH"]).to_payload())
    assert TrustList.from_signed(signed, ROOT.public).acceptance.recognises("") == {"CN-SH"}
    with pytest.raises(TrustListError, match="not signed by the pinned root key"):
        TrustList.from_signed(_altered(signed, change), ROOT.public)
    unchanged = _altered(signed, lambda b: None)
    assert TrustList.from_signed(unchanged, ROOT.public).version == 5  # the rewrite itself is faithful


# -- through the gateway -------------------------------------------------------------------------

async def _get_rules(http, key) -> dict:
    r = await http.get("/v1/recognition-rules", headers=bearer(key))
    body = await r.json()
    assert r.status == 200, body
    return body


async def _put(http, key, path: str, body, status: int = 200) -> dict:
    r = await http.put(path, json=body, headers=bearer(key))
    answer = await r.json()
    assert r.status == status, answer
    return answer


async def _signed_list(http, suite, key) -> TrustList:
    r = await http.get("/v1/trust-list.cbor", headers=bearer(key))
    root = keys.public_from_pem(root_key_paths(suite.var_dir)[1].read_bytes())
    return TrustList.from_signed(await r.read(), root)


async def test_every_key_role_reads_the_rules_the_trust_list_carries(http, keys, suite):
    for role in ("hotel", "police", "integrator", "agency_zj", "admin"):
        rules = await _get_rules(http, keys[role])
        tl = await _signed_list(http, suite, keys[role])
        assert rules["trust_list_version"] == tl.version
        assert Rules.from_payload(rules) == tl.acceptance
    r = await http.get("/v1/trust-list", headers=bearer(keys["hotel"]))
    assert (await r.json())["rules"] == {"purposes": rules["purposes"], "recognition": rules["recognition"]}
    assert (await http.get("/v1/recognition-rules")).status == 401


async def test_each_role_lists_its_purposes_the_default_first(http, keys):
    by_role = {"hotel": Role.HOTEL, "police": Role.TRAFFIC_POLICE, "integrator": Role.INTEGRATOR,
               "agency_sh": Role.AGENCY, "admin": Role.ADMIN}
    for key, role in by_role.items():
        r = await http.get("/v1/purposes", headers=bearer(keys[key]))
        purposes = (await r.json())["purposes"]
        assert r.status == 200
        assert [p["id"] for p in purposes] == [p.value for p in ROLE_PURPOSES[role]]
        assert [p["default"] for p in purposes] == [True] + [False] * (len(purposes) - 1)
        assert all(p["name"] == PURPOSE_NAMES[Purpose(p["id"])] for p in purposes)
    r = await http.get("/v1/purposes", headers=bearer(keys["hotel"]))
    assert await r.json() == {"purposes": [{"id": "hotel_check_in", "name": "住宿登记 / Hotel check-in", "default": True}],
                              "role": "hotel", "region": None}  # a hotel's key has no region
    r = await http.get("/v1/purposes", headers=bearer(keys["agency_sh"]))
    assert (await r.json())["region"] == "CN-SH"  # the scanner page judges recognition offline by it


async def test_an_admin_changes_the_rules_and_each_change_is_a_new_trust_list_version(http, keys, suite):
    admin = keys["admin"]
    before = await _get_rules(http, admin)
    path = "/v1/recognition-rules/purposes/business_check"
    try:
        changed = await _put(http, admin, path, {"types": ["cn.business_licence", "cn.resident_id"]})
        assert changed["purposes"]["business_check"] == ["cn.business_licence", "cn.resident_id"]
        assert changed["trust_list_version"] == before["trust_list_version"] + 1
        again = await _put(http, admin, path, {"types": ["cn.resident_id", "cn.business_licence"]})
        assert again == changed  # the same content: no new version
        tl = await _signed_list(http, suite, keys["hotel"])
        assert tl.version == changed["trust_list_version"]
        assert tl.acceptance.accepts("business_check") == {"cn.business_licence", "cn.resident_id"}
        assert await _get_rules(http, keys["hotel"]) == changed
    finally:
        restored = await _put(http, admin, path, {"types": before["purposes"]["business_check"]})
    assert restored["trust_list_version"] == before["trust_list_version"] + 2
    assert {k: restored[k] for k in ("purposes", "recognition")} == {k: before[k] for k in ("purposes", "recognition")}


async def test_a_region_outside_the_agreement_is_recognised_once_an_admin_adds_it(http, keys, suite):
    admin = keys["admin"]
    r = await http.post("/v1/regions", json={"code": "CN-JX", "name": "江西省 / Jiangxi"}, headers=bearer(admin))
    assert r.status in (201, 409), await r.text()  # 409: made by an earlier run of this test in the session
    rules = await _get_rules(http, admin)
    assert "CN-JX" not in rules["recognition"] and all("CN-JX" not in r for r in rules["recognition"].values())
    tl = await _signed_list(http, suite, admin)
    assert tl.acceptance.refusal("general", "cn.resident_id", "CN-SH", "CN-JX") is not None
    try:
        added = await _put(http, admin, "/v1/recognition-rules/regions/CN-SH", {"recognises": [*YRD, "CN-JX"]})
        assert added["recognition"]["CN-SH"] == ["CN-AH", "CN-JS", "CN-JX", "CN-SH", "CN-ZJ"]
        own = await _put(http, admin, "/v1/recognition-rules/regions/CN-JX", {"recognises": ["CN-JX", "CN-SH"]})
        assert own["trust_list_version"] == added["trust_list_version"] + 1
        tl = await _signed_list(http, suite, admin)
        assert tl.version == own["trust_list_version"]
        assert tl.acceptance.refusal("general", "cn.resident_id", "CN-SH", "CN-JX") is None
        assert tl.acceptance.refusal("general", "cn.resident_id", "CN-JX", "CN-SH") is None
        assert tl.acceptance.refusal("general", "cn.resident_id", "CN-JX", "CN-ZJ") is not None
        assert tl.acceptance.refusal("general", "cn.resident_id", "", "CN-JX") is not None  # "*" does not name it
    finally:
        await _put(http, admin, "/v1/recognition-rules/regions/CN-SH", {"recognises": YRD})
        await _put(http, admin, "/v1/recognition-rules/regions/CN-JX", {"recognises": []})


async def test_bad_rule_changes_are_refused_with_their_codes(http, keys):
    admin = keys["admin"]
    before = await _get_rules(http, admin)
    purposes, regions = "/v1/recognition-rules/purposes", "/v1/recognition-rules/regions"
    for key in ("hotel", "police", "integrator", "agency_sh"):
        body = await _put(http, keys[key], f"{purposes}/general", {"types": []}, 403)
        assert body["error"]["code"] == "FORBIDDEN"
        await _put(http, keys[key], f"{regions}/*", {"recognises": []}, 403)
    body = await _put(http, admin, f"{purposes}/sightseeing", {"types": ["cn.resident_id"]}, 400)
    assert body["error"]["code"] == "PURPOSE_UNKNOWN" and "sightseeing" not in body["error"]["message"]
    body = await _put(http, admin, f"{purposes}/general", {"types": ["cn.resident_id", "cn.passport"]}, 422)
    assert body["error"]["code"] == "TYPE_UNKNOWN" and "cn.passport" in body["error"]["message"]
    body = await _put(http, admin, f"{regions}/CN-QH", {"recognises": ["CN-SH"]}, 404)
    assert body["error"]["code"] == "REGION_UNKNOWN" and "CN-QH" in body["error"]["message"]
    body = await _put(http, admin, f"{regions}/CN-SH", {"recognises": ["CN-SH", "CN-QH"]}, 422)
    assert body["error"]["code"] == "REGION_UNKNOWN" and "CN-QH" in body["error"]["message"]
    for path, bad in ((f"{purposes}/general", {"types": "cn.resident_id"}), (f"{purposes}/general", {}),
                      (f"{purposes}/general", {"types": [5]}), (f"{purposes}/general", {"types": ["Not A Type"]}),
                      (f"{purposes}/general", {"types": ["cn.resident_id"] * (MAX_RULE_ITEMS + 1)}),
                      (f"{regions}/shanghai", {"recognises": ["CN-SH"]}), (f"{regions}/CN-SH", {"recognises": ["*"]}),
                      (f"{regions}/CN-SH", {"recognises": ["CN-SH"] * (MAX_RULE_ITEMS + 1)}),
                      (f"{regions}/CN-SH", {"recognises": None})):
        body = await _put(http, admin, path, bad, 400)
        assert body["error"]["code"] in ("INVALID_REQUEST", "MALFORMED_JSON"), (path, bad, body)
    assert await _get_rules(http, admin) == before  # nothing changed, nothing published


async def test_an_unknown_purpose_is_one_refusal_on_every_route_that_names_one(http, keys):
    """The rules path, a verification and a show code: 400 PURPOSE_UNKNOWN with one message, which
    lists the purposes and does not echo the text."""
    asked = [("PUT", "/v1/recognition-rules/purposes/sightseeing", {"types": []}, keys["admin"]),
             ("POST", "/v1/verifications", {"payload": "EC1:X", "purpose": "sightseeing"}, keys["hotel"]),
             ("POST", f"/v1/credentials/{'A' * 26}/presentations", {"purpose": "sightseeing"}, keys["agency_zj"])]
    for method, path, body, key in asked:
        r = await http.request(method, path, json=body, headers=bearer(key))
        error = (await r.json())["error"]
        assert (r.status, error["code"], error["message"]) == (
            400, "PURPOSE_UNKNOWN", f"purpose must be one of {', '.join(Purpose)}"), path


async def test_a_rule_change_reaches_the_running_verifier(http, keys, suite):
    """Traffic police of CN-JS stop recognising CN-ZJ's credentials, then again: the verifier judges
    by the trust list it holds, once its refresh has fetched the new version."""
    r = await http.post("/v1/credentials", headers=bearer(keys["agency_zj"]),
                        json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
    assert r.status == 201, await r.text()
    qr_text = (await r.json())["qr_text"]

    async def verify_as_police() -> dict:
        r = await http.post("/v1/verifications", json={"payload": qr_text}, headers=bearer(keys["police"]))
        assert r.status == 200
        return await r.json()

    assert (await verify_as_police())["result"] == "VALID"
    try:
        changed = await _put(http, keys["admin"], "/v1/recognition-rules/regions/CN-JS",
                             {"recognises": ["CN-AH", "CN-JS", "CN-SH"]})
        await suite.refresh()
        answer = await verify_as_police()
        assert answer["result"] == "NOT_ACCEPTED_FOR_PURPOSE", answer
        assert answer["detail"] == "credentials of CN-ZJ are not recognised by CN-JS"
        assert answer["trust_list_version"] == changed["trust_list_version"]
    finally:
        await _put(http, keys["admin"], "/v1/recognition-rules/regions/CN-JS", {"recognises": YRD})
        await suite.refresh()
    assert (await verify_as_police())["result"] == "VALID"
