"""An issuer's rules without a server: a real SQLite store, a registry faked in the test, and
clocks moved by hand."""

from __future__ import annotations

import json
import os
import types

import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import Conflict, InvalidRequest, NotFound, Outcome, PermissionDenied, RuleViolation, Unavailable
from ecert.format import statuslist
from ecert.format.credential import id_to_cti
from ecert.format.keys import SigningKey
from ecert.limits import MAX_REQUEST_ID, MAX_VALID_DAYS
from ecert.rules.access import Principal
from ecert.rules.catalogue import builtin_types
from ecert.rules.schema import TypeSchema
from ecert.store import default_uri, open_store
from ecert.vocab import CredentialStatus, StatusAction
from services.issuer.domain import TRANSITIONS, TYPES_REFRESH, TYPES_RETRY, Issuer, status_uri
from testkit.samples import driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
DAY = 86400
ZJ = Principal("agency", "CN-ZJ")
ADMIN = Principal("admin")
DL = "cn.driving_licence"
BUILTIN = [TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in builtin_types()]


class FakeRegistry:
    """The registry port: the catalogue's types; ``down`` fails every call as a lost registry does,
    ``failures`` fails only the next so many."""

    def __init__(self):
        self.types = list(BUILTIN)
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

    async def register_key(self, alg: str, spki: bytes) -> str:
        self._answer()
        self.keys.append((alg, spki))
        return "kid-of-the-key"

    async def set_endpoint(self, endpoint: str) -> None:
        self._answer()
        self.endpoints.append(endpoint)


@pytest_asyncio.fixture
async def env(tmp_path):
    store = await open_store(default_uri(tmp_path))
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
    doc = await _issue(i, valid_days=MAX_VALID_DAYS)
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
    doc = await _issue(i)
    token, exp = await i.present(ZJ, doc["_id"])
    assert token.startswith("EP1:") and exp > T0
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
    hotel = Principal("hotel")
    suspended, revoked, short = await _issue(i), await _issue(i), await _issue(i, valid_days=1)
    await i.change_status(ZJ, suspended["_id"], StatusAction.SUSPEND)
    await i.change_status(ZJ, revoked["_id"], StatusAction.REVOKE)
    assert (await i.resolve(hotel, os.urandom(16), id_to_cti(suspended["_id"]))).outcome is Outcome.SUSPENDED
    r = await i.resolve(hotel, os.urandom(16), id_to_cti(revoked["_id"]))
    assert r.outcome is Outcome.REVOKED and r.fields == {}
    assert (await i.resolve(hotel, os.urandom(16), id_to_cti(short["_id"]))).outcome is Outcome.VALID
    env.clock.advance(DAY)
    assert (await i.resolve(hotel, os.urandom(16), id_to_cti(short["_id"]))).outcome is Outcome.EXPIRED
    with pytest.raises(Conflict):  # only a valid credential is presented
        await i.present(ZJ, suspended["_id"])
    with pytest.raises(NotFound):
        await i.resolve(hotel, os.urandom(16), os.urandom(16))
    with pytest.raises(InvalidRequest):
        await i.resolve(hotel, b"short", id_to_cti(short["_id"]))
    with pytest.raises(PermissionDenied):
        await i.resolve(Principal("burglar"), os.urandom(16), id_to_cti(short["_id"]))
    with pytest.raises(PermissionDenied):
        await i.present(Principal("hotel"), short["_id"])


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
