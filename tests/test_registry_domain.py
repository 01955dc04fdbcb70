"""The registry's rules without a server: a real SQLite store, a fixed clock."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, RuleViolation
from ecert.format.keys import SigningKey
from ecert.limits import MAX_NAME, MAX_RULE_ITEMS, MAX_SPKI
from ecert.rules.acceptance import default_rules
from ecert.rules.access import OTHER_REGION_AGENCY, Principal, service_principal
from ecert.rules.catalogue import builtin_types
from ecert.rules.trust import TrustList
from ecert.store import default_uri, open_store
from ecert.vocab import KeyStatus, Purpose
from services.registry.domain import DEFAULT_KEY_YEARS, Registry
from tests.fixtures import previous_release_types

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
TTL = 3600
ADMIN = Principal("admin")
ZJ_AGENCY = Principal("agency", "CN-ZJ")


@pytest_asyncio.fixture
async def registry(tmp_path):
    store = await open_store(default_uri(tmp_path))
    r = Registry(store, SigningKey.generate(), ttl=TTL, now=FixedClock(T0))
    await store.create_region("CN-ZJ", "Zhejiang")
    await store.create_region("CN-SH", "Shanghai")
    await r.publish()
    yield r
    await store.close()


@pytest_asyncio.fixture
async def seeded(tmp_path):
    """A registry seeded as a first start seeds it: the four regions, the catalogue, the agreement."""
    store = await open_store(default_uri(tmp_path))
    r = Registry(store, SigningKey.generate(), ttl=TTL, now=FixedClock(T0))
    await r.seed()
    await r.publish()
    yield r
    await store.close()


async def _version(r: Registry) -> int:
    return (await r.current()).version


def _signed(r: Registry) -> TrustList:
    assert r._current is not None
    return TrustList.from_signed(r._current.signed, r.root.public)


async def test_a_key_without_exp_lives_the_default_years_from_now(registry):
    key = SigningKey.generate()
    doc, created = await registry.register_key(service_principal("CN-ZJ"), "CN-ZJ", "ES256", key.spki)
    assert created and doc["kid"] == key.kid.hex() and doc["status"] == KeyStatus.ACTIVE
    assert doc["nbf"] == T0 and doc["exp"] == T0 + DEFAULT_KEY_YEARS * 365 * 86400
    doc, created = await registry.register_key(ZJ_AGENCY, "CN-ZJ", "ES256", key.spki, nbf=T0 + 5, exp=T0 + 50)
    assert not created and doc["exp"] == T0 + DEFAULT_KEY_YEARS * 365 * 86400  # the first registration stands
    other = SigningKey.generate()
    doc, _ = await registry.register_key(ADMIN, "CN-ZJ", "ES256", other.spki, nbf=T0 - 10, exp=T0 + 100)
    assert (doc["nbf"], doc["exp"]) == (T0 - 10, T0 + 100)


async def test_registering_publishes_only_what_is_new(registry):
    key = SigningKey.generate()
    before = await _version(registry)
    await registry.register_key(ADMIN, "CN-ZJ", "ES256", key.spki)
    after = await _version(registry)
    assert after == before + 1
    await registry.register_key(ADMIN, "CN-ZJ", "ES256", key.spki)
    assert await _version(registry) == after
    tl = TrustList.from_signed((await registry.current()).signed, registry.root.public)
    assert [k.kid for k in tl.regions["CN-ZJ"].keys] == [key.kid]


async def test_bad_keys_are_refused_by_name(registry):
    key = SigningKey.generate()
    with pytest.raises(InvalidRequest) as err:
        await registry.register_key(ADMIN, "CN-ZJ", "ES256", key.spki, nbf=T0, exp=T0)
    assert err.value.field == "exp"
    with pytest.raises(InvalidRequest) as err:
        await registry.register_key(ADMIN, "CN-ZJ", "ES256", b"\x30" * (MAX_SPKI + 1))
    assert err.value.field == "spki"
    with pytest.raises(InvalidRequest):
        await registry.register_key(ADMIN, "CN-ZJ", "RS256", key.spki)
    with pytest.raises(NotFound):
        await registry.register_key(ADMIN, "CN-AH", "ES256", key.spki)


async def test_only_the_region_or_an_admin_registers_its_keys(registry):
    key = SigningKey.generate()
    for p in (Principal("agency", "CN-SH"), service_principal("CN-SH"), Principal("hotel"), Principal("")):
        with pytest.raises(PermissionDenied):
            await registry.register_key(p, "CN-ZJ", "ES256", key.spki)
    assert await registry.store.list_keys("CN-ZJ") == []


async def test_an_admin_revokes_and_the_region_retires(registry):
    key, other = SigningKey.generate(), SigningKey.generate()
    for k in (key, other):
        await registry.register_key(ADMIN, "CN-ZJ", "ES256", k.spki)
    kid = key.kid.hex()
    for p in (ZJ_AGENCY, service_principal("CN-ZJ"), Principal("hotel")):
        with pytest.raises(PermissionDenied):
            await registry.revoke_key(p, "CN-ZJ", kid)
    for p in (Principal("agency", "CN-SH"), Principal("hotel")):
        with pytest.raises(PermissionDenied):
            await registry.retire_key(p, "CN-ZJ", kid)
    assert (await registry.retire_key(ZJ_AGENCY, "CN-ZJ", kid))["status"] == KeyStatus.RETIRED
    assert (await registry.retire_key(service_principal("CN-ZJ"), "CN-ZJ", other.kid.hex()))["status"] == "retired"
    registry.now.advance(30)
    before = await _version(registry)
    doc = await registry.revoke_key(ADMIN, "CN-ZJ", kid.upper())  # kids are read in either case
    assert doc["status"] == KeyStatus.REVOKED and doc["revoked_at"] == T0 + 30
    assert await _version(registry) == before + 1
    with pytest.raises(Conflict):  # a revoked key stays revoked
        await registry.retire_key(ADMIN, "CN-ZJ", kid)
    with pytest.raises(NotFound):
        await registry.revoke_key(ADMIN, "CN-ZJ", "00" * 8)


async def test_regions_are_created_by_admins_with_bounded_names(registry):
    with pytest.raises(PermissionDenied):
        await registry.create_region(ZJ_AGENCY, "CN-FJ", "Fujian")
    for name in ("", "x" * (MAX_NAME + 1)):
        with pytest.raises(InvalidRequest) as err:
            await registry.create_region(ADMIN, "CN-FJ", name)
        assert err.value.field == "name"
    with pytest.raises(InvalidRequest):
        await registry.create_region(ADMIN, "fujian", "Fujian")
    created = await registry.create_region(ADMIN, "CN-FJ", "x" * MAX_NAME)
    assert created.region["code"] == "CN-FJ" and created.keys == []
    with pytest.raises(Conflict) as err:
        await registry.create_region(ADMIN, "CN-FJ", "again")
    assert err.value.code == "REGION_EXISTS"
    assert "CN-FJ" in [r.region["code"] for r in await registry.regions()]


async def test_an_endpoint_is_set_by_its_region_or_an_admin(registry):
    before = await _version(registry)
    for p in (Principal(""), service_principal("CN-SH"), Principal("agency", "CN-SH"), Principal("hotel"),
              Principal("service")):
        with pytest.raises(PermissionDenied):
            await registry.set_region_endpoint(p, "CN-ZJ", "127.0.0.1:1")
    with pytest.raises(PermissionDenied):  # refused before saying whether the region exists
        await registry.set_region_endpoint(service_principal("CN-SH"), "CN-AH", "127.0.0.1:1")
    assert await _version(registry) == before
    r = await registry.set_region_endpoint(service_principal("CN-ZJ"), "CN-ZJ", "127.0.0.1:7")
    assert r.region["endpoint"] == "127.0.0.1:7" and await _version(registry) == before + 1
    await registry.set_region_endpoint(ZJ_AGENCY, "CN-ZJ", "127.0.0.1:7")  # the same again: nothing new
    assert await _version(registry) == before + 1
    with pytest.raises(InvalidRequest):
        await registry.set_region_endpoint(ADMIN, "CN-ZJ", "http://x:1")
    with pytest.raises(NotFound):
        await registry.set_region_endpoint(ADMIN, "CN-AH", "127.0.0.1:1")
    await registry.set_region_endpoint(ADMIN, "CN-ZJ", "")  # none online
    tl = TrustList.from_signed((await registry.current()).signed, registry.root.public)
    assert tl.regions["CN-ZJ"].endpoint == ""


async def test_the_trust_list_is_re_signed_once_half_its_validity_has_passed(registry):
    first = await registry.current()
    registry.now.advance(TTL // 2 - 1)
    assert await registry.current() is first
    registry.now.advance(1)
    again = await registry.current()
    assert again.version == first.version + 1 and again.iat == T0 + TTL // 2 and again.exp == again.iat + TTL


async def test_types_are_published_by_admins(registry):
    schema = '{"type": "object", "properties": {"n": {"type": "string"}}, "required": ["n"]}'
    with pytest.raises(PermissionDenied):
        await registry.publish_type(ZJ_AGENCY, "cn.test_type", 1, "Test", schema, "{}")
    with pytest.raises(InvalidRequest) as err:
        await registry.publish_type(ADMIN, "cn.test_type", 1, "Test", "[" * 1000, "{}")
    assert err.value.code == "SCHEMA_MALFORMED"
    before = await _version(registry)
    doc = await registry.publish_type(ADMIN, "cn.test_type", 1, "Test", schema, '{"hotel": ["n"]}')
    assert doc["disclosure"] == {"hotel": ["n"]} and await _version(registry) == before + 1
    await registry.publish_type(ADMIN, "cn.test_type", 1, "Test", schema, '{"hotel": ["n"]}')
    assert await _version(registry) == before + 1  # identical: nothing new
    with pytest.raises(Conflict):  # versions are immutable
        await registry.publish_type(ADMIN, "cn.test_type", 1, "Other", schema, "{}")
    assert [(t["id"], t["version"]) for t in await registry.types()] == [("cn.test_type", 1)]


# -- recognition rules ---------------------------------------------------------------------------

async def test_the_agreement_is_seeded_signed_and_kept_once_changed(seeded, tmp_path):
    tl = _signed(seeded)
    assert tl.rules is not None and tl.acceptance == default_rules()
    assert (await seeded.rules()).rules == default_rules()
    assert len(await seeded.store.list_rules()) == len(Purpose) + 5  # each purpose; the four regions and "*"
    await seeded.set_purpose_types(ADMIN, "hotel_check_in", ["cn.resident_id"])
    await seeded.seed()  # a registry starting again over a store that has rules keeps them
    after = await seeded.publish()
    assert after.rules.accepts("hotel_check_in") == {"cn.resident_id"}
    assert _signed(seeded).acceptance.accepts("hotel_check_in") == {"cn.resident_id"}


async def test_a_store_without_rules_publishes_the_agreement_and_a_first_change_starts_from_it(registry):
    assert await registry.store.list_rules() == []
    assert _signed(registry).acceptance == default_rules()
    await registry.set_recognition(ADMIN, "CN-SH", ["CN-SH"])
    rules = _signed(registry).acceptance
    assert rules.recognises("CN-SH") == {"CN-SH"}
    assert rules == default_rules().with_recognition("CN-SH", ["CN-SH"])


async def test_a_region_outside_the_agreement_is_recognised_once_an_admin_adds_it(seeded):
    await seeded.create_region(ADMIN, "CN-FJ", "福建省 / Fujian")
    created = await seeded.current()
    for rules in (created.rules, _signed(seeded).acceptance):
        assert rules.refusal("general", "cn.resident_id", "CN-SH", "CN-FJ") == \
            "credentials of CN-FJ are not recognised by CN-SH"
        assert rules.refusal("hotel_check_in", "cn.resident_id", "", "CN-FJ") is not None
        assert rules.refusal("general", "cn.resident_id", "CN-FJ", "CN-FJ") is not None  # it recognises none
        assert rules.refusal("general", "cn.resident_id", "CN-SH", "CN-ZJ") is None
    answer = await seeded.set_recognition(ADMIN, "CN-SH", ["CN-AH", "CN-FJ", "CN-JS", "CN-SH", "CN-ZJ"])
    assert answer.version == created.version + 1 == await _version(seeded)
    tl = _signed(seeded)
    assert tl.version == answer.version and answer.rules == tl.acceptance
    assert tl.acceptance.refusal("general", "cn.resident_id", "CN-SH", "CN-FJ") is None
    assert tl.acceptance.refusal("general", "cn.resident_id", "", "CN-FJ") is not None  # "*" does not name it
    answer = await seeded.set_recognition(ADMIN, "*", ["CN-FJ", "CN-ZJ"])
    assert _signed(seeded).acceptance.recognises("*") == {"CN-FJ", "CN-ZJ"} == answer.rules.recognises("")
    answer = await seeded.set_recognition(ADMIN, "CN-FJ", ["CN-FJ"])
    assert _signed(seeded).acceptance.refusal("general", "cn.resident_id", "CN-FJ", "CN-FJ") is None


async def test_every_rule_change_is_a_new_version_and_the_same_again_none(seeded):
    v = await _version(seeded)
    answer = await seeded.set_purpose_types(ADMIN, "hotel_check_in", ["cn.resident_id", "cn.social_security_card"])
    assert answer.version == v + 1 and answer.rules.accepts("hotel_check_in") == {"cn.resident_id",
                                                                                 "cn.social_security_card"}
    again = await seeded.set_purpose_types(ADMIN, Purpose.HOTEL_CHECK_IN,
                                           ["cn.social_security_card", "cn.resident_id", "cn.resident_id"])
    assert again.version == v + 1 == await _version(seeded)  # the same set: nothing new
    answer = await seeded.set_purpose_types(ADMIN, "business_check", [])
    assert answer.version == v + 2 and answer.rules.refusal("business_check", "cn.business_licence", "", "CN-SH")
    answer = await seeded.set_recognition(ADMIN, "CN-ZJ", ["CN-ZJ"])
    assert answer.version == v + 3
    assert (await seeded.set_recognition(ADMIN, "CN-ZJ", ["CN-ZJ"])).version == v + 3
    tl = _signed(seeded)
    assert tl.version == v + 3 and tl.acceptance.accepts("business_check") == frozenset()
    assert tl.acceptance.recognises("CN-ZJ") == {"CN-ZJ"}
    assert tl.acceptance.accepts("hotel_check_in") == {"cn.resident_id", "cn.social_security_card"}


async def test_rule_changes_refuse_bad_input_by_name_and_publish_nothing(seeded):
    v = await _version(seeded)
    for p in (ZJ_AGENCY, Principal("hotel"), Principal("traffic_police", "CN-SH"), Principal("integrator"),
              service_principal("CN-SH"), Principal("")):
        with pytest.raises(PermissionDenied):
            await seeded.set_purpose_types(p, "hotel_check_in", ["cn.resident_id"])
        with pytest.raises(PermissionDenied):
            await seeded.set_recognition(p, "CN-SH", ["CN-SH"])
    for purpose in ("", "hotel", "HOTEL_CHECK_IN", "x" * 5000):
        with pytest.raises(InvalidRequest) as err:
            await seeded.set_purpose_types(ADMIN, purpose, ["cn.resident_id"])
        assert (err.value.code, err.value.field) == ("PURPOSE_UNKNOWN", "purpose")
        assert "xxxx" not in err.value.message  # what the caller sent is not echoed
    with pytest.raises(RuleViolation) as err:
        await seeded.set_purpose_types(ADMIN, "hotel_check_in", ["cn.resident_id", "cn.passport"])
    assert (err.value.code, err.value.field) == ("TYPE_UNKNOWN", "types") and "cn.passport" in err.value.message
    for types in (["Not A Type"], [7], ["cn.resident_id"] * (MAX_RULE_ITEMS + 1)):
        with pytest.raises(InvalidRequest) as err:
            await seeded.set_purpose_types(ADMIN, "hotel_check_in", types)
        assert err.value.field == "types"
    with pytest.raises(NotFound) as err:
        await seeded.set_recognition(ADMIN, "CN-FJ", ["CN-SH"])
    assert (err.value.code, err.value.field) == ("REGION_UNKNOWN", "region") and "CN-FJ" in err.value.message
    with pytest.raises(RuleViolation) as err:
        await seeded.set_recognition(ADMIN, "CN-SH", ["CN-SH", "CN-FJ"])
    assert (err.value.code, err.value.field) == ("REGION_UNKNOWN", "recognises") and "CN-FJ" in err.value.message
    for region, regions, field in (("shanghai", ["CN-SH"], "region"), ("**", ["CN-SH"], "region"),
                                   ("CN-SH", ["*"], "recognises"), ("CN-SH", ["cn-zj"], "recognises"),
                                   ("CN-SH", ["CN-SH"] * (MAX_RULE_ITEMS + 1), "recognises")):
        with pytest.raises(InvalidRequest) as err:
            await seeded.set_recognition(ADMIN, region, regions)
        assert err.value.field == field
    assert await _version(seeded) == v
    assert _signed(seeded).acceptance == default_rules()
    ok = await seeded.set_purpose_types(ADMIN, "general", ["cn.resident_id"] * MAX_RULE_ITEMS)  # repeats count once
    assert ok.rules.accepts("general") == {"cn.resident_id"}


async def test_the_domains_load_no_transport():
    """The three services' rules run without gRPC, generated code, the RPC plumbing or aiohttp
    (``lint-imports`` holds the same contract over the source)."""
    code = ("import sys, services.registry.domain, services.issuer.domain, services.verifier.domain\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'ecertpb', 'aiohttp')"
            " or m == 'ecert.rpc' or m.startswith('ecert.rpc.'))\n"
            "print(' '.join(bad) or 'none')")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and out.decode().split() == ["none"]


# -- the catalogue upgrading its own types ----------------------------------------------------

async def test_a_store_seeded_by_the_previous_release_gets_its_current_types_and_an_admins_are_kept(tmp_path):
    """The previous release's registry left its own catalogue in the store (05d82be's texts, from
    tests/fixtures): the next start replaces each with the current text (its validity, deadlines,
    identifying fields, the other-region agency's view), but a text an admin changed is kept."""
    store = await open_store(default_uri(tmp_path))
    try:
        builtin = {t["id"]: t for t in builtin_types()}
        previous = {t["id"]: t for t in previous_release_types()}
        assert previous.keys() == builtin.keys()
        for t in previous.values():
            await store.put_type(t["id"], t["version"], t["name"], t["schema"], t["disclosure"])
        mine = previous["cn.vehicle_licence"]
        admins = json.loads(mine["schema"])
        admins["title"] = "an admin's own text"
        await store.replace_type(mine["id"], 1, mine["schema"], mine["name"],
                                 json.dumps(admins, ensure_ascii=False, sort_keys=True), mine["disclosure"])
        r = Registry(store, SigningKey.generate(), ttl=TTL, now=FixedClock(T0))
        await r.seed()
        stored = {t["id"]: t for t in await store.list_types()}
        for type_id, t in builtin.items():
            if type_id == mine["id"]:
                assert json.loads(stored[type_id]["schema"])["title"] == "an admin's own text"  # not the suite's
                assert "x-deadlines" not in json.loads(stored[type_id]["schema"])
                assert stored[type_id]["disclosure"] == mine["disclosure"]
            else:
                assert (stored[type_id]["schema"], stored[type_id]["disclosure"]) == (t["schema"], t["disclosure"]), \
                    type_id
        tl = TrustList.from_signed((await r.publish()).signed, r.root.public)
        assert tl.types[("cn.resident_id", 1)].document.valid_until == "valid_until"
        assert OTHER_REGION_AGENCY in tl.types[("cn.driving_licence", 1)].disclosure
        assert OTHER_REGION_AGENCY not in previous["cn.driving_licence"]["disclosure"]  # what was missing
        await r.seed()  # a second start changes nothing more
        assert {t["id"]: t["schema"] for t in await store.list_types()} == {k: v["schema"] for k, v in stored.items()}
        # The replacement is compare-and-set: a stored text that has changed meanwhile is not replaced.
        assert not await store.replace_type("cn.resident_id", 1, previous["cn.resident_id"]["schema"], "x", "{}", {})
    finally:
        await store.close()


async def test_the_rules_answer_is_their_one_written_form():
    from ecert.rules.acceptance import Rules
    from services.registry.domain import PublishedRules
    from services.registry.servicer import rules_pb

    rules = Rules({"general": ["cn.b", "cn.a", "cn.a"], "business_check": []}, {"CN-ZJ": ["CN-ZJ", "CN-AH"]})
    pb = rules_pb(PublishedRules(rules, 7))
    assert [(p.purpose, list(p.types)) for p in pb.purposes] == [("business_check", []), ("general", ["cn.a", "cn.b"])]
    assert [(r.region, list(r.recognises)) for r in pb.recognition] == [("CN-ZJ", ["CN-AH", "CN-ZJ"])]
    assert pb.trust_list_version == 7
