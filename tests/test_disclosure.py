"""Finding 7: an agency sees a full record only for its own region's credentials. Verifying
another region's credential it sees the fields of the role the type names for that purpose
(``disclosure["other_region_agency"]``), never everything. At unit level: the rule
(``ecert.rules.access.disclosure_role``), the type document's validation, the verifier's answer
(``write_result``) and the issuer's token resolution."""

from __future__ import annotations

import json
import os

import pytest

from ecert.clock import FixedClock
from ecert.errors import InvalidRequest, Outcome
from ecert.format.credential import id_to_cti
from ecert.format.keys import SigningKey
from ecert.rules.access import OTHER_REGION_AGENCY, Principal, disclosure_role
from ecert.rules.catalogue import builtin_types, load_type_document
from ecert.rules.schema import TypeSchema, check_disclosure
from ecert.store import default_uri, open_store
from services.issuer.domain import Issuer
from services.registry.domain import Registry
from services.verifier.servicer import write_result
from testkit import photos
from testkit.samples import driving_licence
from tests.fixtures import previous_release_types
from tests.test_issuer_domain import BUILTIN, FakeRegistry
from tests.test_verifier_domain import T0, FakeUpstream, ec1, make, signed_list

DL = next(t for t in builtin_types() if t["id"] == "cn.driving_licence")
DL_TS = TypeSchema(DL["id"], DL["version"], DL["name"], DL["schema"], DL["disclosure"])
ZJ_AGENCY, SH_AGENCY = Principal("agency", "CN-ZJ"), Principal("agency", "CN-SH")
ALL_FIELDS = set(driving_licence())
POLICE_FIELDS = set(DL["disclosure"]["traffic_police"]) & ALL_FIELDS


# -- the rule ---------------------------------------------------------------------------------

def test_the_rule_is_written_once():
    assert disclosure_role(ZJ_AGENCY, "CN-ZJ") == "agency"
    assert disclosure_role(SH_AGENCY, "CN-ZJ") == OTHER_REGION_AGENCY
    assert disclosure_role(Principal("agency"), "CN-ZJ") == OTHER_REGION_AGENCY  # no region: not CN-ZJ's
    assert disclosure_role(Principal("admin"), "CN-ZJ") == "admin"
    assert disclosure_role(Principal("hotel", "CN-SH"), "CN-ZJ") == "hotel"
    assert disclosure_role(Principal("traffic_police"), "CN-ZJ") == "traffic_police"


def test_the_type_names_the_role_an_agency_of_another_region_sees():
    fields = driving_licence()
    assert set(DL_TS.disclosed("agency", fields)) == ALL_FIELDS
    seen = DL_TS.disclosed(OTHER_REGION_AGENCY, fields)
    assert seen == DL_TS.disclosed("traffic_police", fields) and set(seen) == POLICE_FIELDS
    assert not set(seen) & {"address", "birth_date", "nationality"}
    assert DL_TS.as_dict()["disclosure"][OTHER_REGION_AGENCY] == ["traffic_police"]  # carried as written


@pytest.mark.parametrize("entry", [None, ["admin"], ["agency"], ["nobody"], "hotel", []])
def test_without_a_valid_entry_an_agency_of_another_region_sees_nothing(entry):
    """Also for a type from a trust list that names no entry or a bad one (it was made elsewhere)."""
    disclosure = {k: v for k, v in DL["disclosure"].items() if k != OTHER_REGION_AGENCY}
    if entry is not None:
        disclosure[OTHER_REGION_AGENCY] = entry
    ts = TypeSchema(DL["id"], DL["version"], DL["name"], DL["schema"], disclosure)
    assert ts.disclosed(OTHER_REGION_AGENCY, driving_licence()) == {}
    assert set(ts.disclosed("agency", driving_licence())) == ALL_FIELDS


@pytest.mark.parametrize("entry", [["admin"], ["agency"], ["hotel", "integrator"], [], "hotel", ["nobody"],
                                   [["hotel"]], {"hotel": 1}])
def test_a_type_document_with_a_bad_entry_is_refused(entry):
    schema = json.loads(DL["schema"])
    schema.pop("x-identify", None)  # names roles this test's disclosures leave out
    with pytest.raises(InvalidRequest) as err:
        check_disclosure({"hotel": ["name"], OTHER_REGION_AGENCY: entry}, schema)
    assert err.value.field == "disclosure" and OTHER_REGION_AGENCY in str(err.value)
    doc = {"id": "cn.test_card", "name": "Test card", "schema": schema,
           "disclosure": {"hotel": ["name"], OTHER_REGION_AGENCY: entry}}
    with pytest.raises(InvalidRequest):
        load_type_document(doc)
    doc["disclosure"][OTHER_REGION_AGENCY] = ["hotel"]
    assert load_type_document(doc)["disclosure"] == {"hotel": ["name"], OTHER_REGION_AGENCY: ["hotel"]}


# -- the verifier's answer --------------------------------------------------------------------

async def test_an_agency_of_another_region_sees_the_named_role_s_fields(tmp_path):
    up = FakeUpstream(signed_list(1))  # the catalogue's driving licence, issued by CN-ZJ
    cache, verifier, _, _ = make(tmp_path, up)
    await cache.refresh_trust()
    text = ec1()
    answers = {}
    for name, p in (("sh", SH_AGENCY), ("zj", ZJ_AGENCY), ("admin", Principal("admin"))):
        verdict = await verifier.verify(p, text)
        assert verdict.res.outcome is Outcome.VALID
        answers[name] = write_result(p, verdict.res, verdict.fresh, verdict.now)
        assert answers[name].credential.region == "CN-ZJ"
    assert set(json.loads(answers["sh"].fields_json)) == POLICE_FIELDS
    assert set(json.loads(answers["zj"].fields_json)) == ALL_FIELDS
    assert set(json.loads(answers["admin"].fields_json)) == ALL_FIELDS


# -- the issuer's token resolution ------------------------------------------------------------

async def test_a_token_resolved_for_an_agency_of_another_region_shows_the_named_role_s_fields(tmp_path):
    store = await open_store(default_uri(tmp_path))
    await photos.hold_sample_photos(store, ["CN-ZJ"])  # the photo driving_licence() names
    try:
        issuer = Issuer("CN-ZJ", store, SigningKey.generate(), FakeRegistry(), default_valid_days=365,
                        status_ttl=10, now=FixedClock(T0), monotonic=FixedClock(1000))
        doc = await issuer.issue(ZJ_AGENCY, "cn.driving_licence", 0, json.dumps(driving_licence()), 0, "")
        cti = id_to_cti(doc["_id"])
        sh = await issuer.resolve(SH_AGENCY, os.urandom(16), cti)
        zj = await issuer.resolve(ZJ_AGENCY, os.urandom(16), cti)
        assert sh.outcome is zj.outcome is Outcome.VALID
        ts = next(t for t in BUILTIN if t.id == "cn.driving_licence")
        assert sh.fields == ts.disclosed("traffic_police", doc["fields"]) and set(sh.fields) == POLICE_FIELDS
        assert zj.fields == doc["fields"]
    finally:
        await store.close()


# -- a store seeded before the entry existed --------------------------------------------------

async def test_a_store_seeded_by_the_previous_release_gets_the_entry(tmp_path):
    """The previous release (05d82be) stored its catalogue without the entry: the registry's start
    replaces the suite's own texts, so an agency of another region sees the named role's fields."""
    store = await open_store(default_uri(tmp_path))
    try:
        for t in previous_release_types():
            assert OTHER_REGION_AGENCY not in t["disclosure"]
            await store.put_type(t["id"], t["version"], t["name"], t["schema"], t["disclosure"])
        registry = Registry(store, SigningKey.generate(), ttl=86400, now=FixedClock(T0))
        await registry.seed()
        stored = {t["id"]: t for t in await store.list_types()}["cn.driving_licence"]
        assert stored["disclosure"] == DL["disclosure"]
        upgraded = TypeSchema(DL["id"], 1, DL["name"], stored["schema"], stored["disclosure"])
        assert set(upgraded.disclosed(disclosure_role(SH_AGENCY, "CN-ZJ"), driving_licence())) == POLICE_FIELDS
    finally:
        await store.close()


async def test_a_registry_whose_store_holds_an_admins_text_without_the_entry_still_starts(tmp_path, caplog):
    """Type versions are immutable: a stored text that is none of the catalogue's own (an admin's,
    here without the entry) is kept, and its credentials show agencies of other regions nothing,
    rather than the registry failing to start."""
    store = await open_store(default_uri(tmp_path))
    try:
        for t in builtin_types():
            older = {k: v for k, v in t["disclosure"].items() if k != OTHER_REGION_AGENCY}
            await store.put_type(t["id"], t["version"], t["name"], t["schema"], older)
        registry = Registry(store, SigningKey.generate(), ttl=86400, now=FixedClock(T0))
        await registry.seed()
        assert "cn.driving_licence v1 is stored with other content" in caplog.text
        stored = {t["id"]: t for t in await store.list_types()}
        assert OTHER_REGION_AGENCY not in stored["cn.driving_licence"]["disclosure"]
        kept = TypeSchema(DL["id"], 1, DL["name"], DL["schema"], stored["cn.driving_licence"]["disclosure"])
        assert kept.disclosed(disclosure_role(SH_AGENCY, "CN-ZJ"), driving_licence()) == {}
    finally:
        await store.close()
