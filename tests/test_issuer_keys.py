"""The region's signing keys: rotation with no gap, revocation while the issuer runs, scheduled
rotation, the keyring on disk and the registry's data cached for a start without the registry.

Domain level: a real registry (:class:`services.registry.domain.Registry`) over SQLite in a
temporary folder, reached through a port that can be made to fail, and clocks moved by hand.
Credentials are judged by :func:`ecert.rules.verify.verify` against the trust list the registry
signs. One process-level test at the end rotates and revokes through gRPC.
"""

from __future__ import annotations

import json
import logging
import stat
import types

import grpc
import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import ConfigError, Outcome, PermissionDenied, Unavailable
from ecert.format import credential, keys
from ecert.rpc.convert import principal_to_pb
from ecert.rules import verify
from ecert.rules.access import Principal, service_principal
from ecert.rules.schema import TypeSchema
from ecert.rules.trust import TrustList
from ecert.runtime import pki
from ecert.store import default_uri, open_store
from ecert.vocab import KeyStatus
from ecertpb.v1 import issuer_pb2, issuer_pb2_grpc, registry_pb2, registry_pb2_grpc, verifier_pb2, verifier_pb2_grpc
from services.issuer.domain import TYPES_REFRESH, Issuer
from services.issuer.keyring import CURRENT, KEYS_DIR, LEGACY_FILE, Keyring
from services.issuer.registry_cache import FILE as CACHE_FILE
from services.issuer.registry_cache import RegistryCache
from services.issuer.signing import DAY, ROTATE_RETRY, RegionKey
from services.registry.domain import RETIRE_GRACE, Registry
from testkit import photos
from testkit.samples import driving_licence
from tests.harness import start_suite

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
ZJ = Principal("agency", "CN-ZJ")
SH = Principal("agency", "CN-SH")
ADMIN = Principal("admin")
POLICE = Principal("traffic_police", "CN-JS")
DL = "cn.driving_licence"
PASS = b"keyring passphrase"


class Port:
    """The issuer's registry port over a real :class:`Registry`, as the region's service principal
    (what :mod:`services.issuer.upstream` does over gRPC). ``down``: every call fails as a lost
    registry does; ``retire_down``: only retirements do."""

    def __init__(self, registry: Registry, region: str = "CN-ZJ"):
        self.r = registry
        self.region = region
        self.p = service_principal(region)
        self.down = False
        self.retire_down = False
        self.registered: list[str] = []

    def _up(self) -> None:
        if self.down:
            raise Unavailable("registry down")

    async def certificate_types(self) -> list[TypeSchema]:
        self._up()
        return [TypeSchema(t["id"], t["version"], t["name"], t["schema"], t["disclosure"]) for t in await self.r.types()]

    async def recognition_rules(self):
        self._up()
        return (await self.r.rules()).rules

    async def register_key(self, alg: str, spki: bytes, nbf: int = 0, exp: int = 0) -> str:
        self._up()
        doc, _ = await self.r.register_key(self.p, self.region, alg, spki, nbf, exp)
        self.registered.append(doc["kid"])
        return doc["kid"]

    async def retire_key(self, kid: str) -> None:
        self._up()
        if self.retire_down:
            raise Unavailable("registry down")
        await self.r.retire_key(self.p, self.region, kid)

    async def region_keys(self) -> list[RegionKey]:
        self._up()
        return [RegionKey(k["kid"], k["status"], k["nbf"], k["exp"]) for k in await self.r.store.list_keys(self.region)]

    async def set_endpoint(self, endpoint: str) -> None:
        self._up()
        await self.r.set_region_endpoint(self.p, self.region, endpoint)


@pytest_asyncio.fixture
async def env(tmp_path):
    store = await open_store(default_uri(tmp_path))
    await photos.hold_sample_photos(store, ["CN-ZJ"])
    clock, mono = FixedClock(T0), FixedClock(1000)
    root = keys.SigningKey.generate()
    registry = Registry(store, root, ttl=86400, now=clock)
    await registry.seed()
    await registry.publish()
    port = Port(registry)
    e = types.SimpleNamespace(store=store, registry=registry, root=root, port=port, clock=clock, mono=mono,
                              folder=tmp_path / "issuer" / "CN-ZJ")

    def make(**options) -> Issuer:
        ring = options.pop("keyring", None) or Keyring.open(e.folder, PASS)
        return Issuer("CN-ZJ", store, ring, options.pop("port", port), default_valid_days=365, status_ttl=10,
                      now=clock, monotonic=mono, **options)

    e.make = make
    e.issuer = make()
    await e.issuer.register("issuer.zj:50061", pause=0)
    yield e
    await store.close()


async def _issue(issuer: Issuer, request_id: str = "") -> dict:
    return await issuer.issue(ZJ, DL, 0, json.dumps(driving_licence()), 0, request_id)


async def _trust(env) -> TrustList:
    """The trust list as a verifier holds it once refreshed."""
    return TrustList.from_signed((await env.registry.publish()).signed, env.root.public)


async def _outcome(env, text: str, trust: TrustList | None = None) -> verify.Result:
    return verify.verify(text, trust or await _trust(env), env.clock())


async def _key(env, kid: str) -> dict:
    return await env.store.get_key("CN-ZJ", kid)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- rotation --------------------------------------------------------------------------------------

async def test_rotation_keeps_old_and_new_credentials_valid_and_new_ones_carry_the_new_kid(env):
    i = env.issuer
    old = await _issue(i)
    first = i.key.kid.hex()
    env.clock.advance(60)
    info = await i.rotate(ZJ)
    assert info.retired_kid == first and info.kid != first and info.kid == i.key.kid.hex()
    assert (info.nbf, info.exp, info.status) == (T0 + 60, T0 + 60 + 2 * 365 * DAY, "active")
    new = await _issue(i)
    assert (old["kid"], new["kid"]) == (first, info.kid)
    trust = await _trust(env)
    for doc in (old, new):
        res = await _outcome(env, doc["qr_text"], trust)
        assert res.outcome is Outcome.VALID, (doc["kid"], res.detail)
        assert res.key.kid.hex() == doc["kid"]
    retired = await _key(env, first)
    assert retired["status"] == KeyStatus.RETIRED and retired["exp"] == T0 + 60 + RETIRE_GRACE
    env.clock.advance(300 * DAY)  # long after: what the retired key signed still verifies
    assert (await _outcome(env, old["qr_text"])).outcome is Outcome.VALID
    # on disk: both keys 0600, the pointer names the new one
    ring = env.folder / KEYS_DIR
    assert (ring / CURRENT).read_text().strip() == info.kid
    assert {p.name for p in ring.glob("*.pem")} == {f"{first}.pem", f"{info.kid}.pem"}
    assert all(mode(p) == 0o600 for p in ring.iterdir() if not p.name.startswith("."))


async def test_a_retired_key_s_window_ends_after_the_grace(env):
    i = env.issuer
    old_key = i.key
    await i.rotate(ADMIN)
    trust = await _trust(env)

    def signed_by_old(at: int) -> str:
        return credential.issue(old_key, iss="CN-ZJ", iat=at, exp=at + DAY, cti=credential.new_cti(), type_id=DL,
                                type_version=1, fields={}, status_uri="urn:ecert:status:CN-ZJ:1", status_idx=0)

    late = verify.verify(signed_by_old(T0 + RETIRE_GRACE + 1), trust, T0 + RETIRE_GRACE + 2)
    assert late.outcome is Outcome.KEY_NOT_VALID_AT_IAT
    inside = verify.verify(signed_by_old(T0 + RETIRE_GRACE - 1), trust, T0 + RETIRE_GRACE + 2)
    assert inside.outcome is not Outcome.KEY_NOT_VALID_AT_IAT


async def test_the_same_request_id_rotates_once_even_after_a_restart(env):
    i = env.issuer
    a = await i.rotate(ZJ, "rotate-2027-01")
    b = await i.rotate(ZJ, "rotate-2027-01")
    assert a == b and i.key.kid.hex() == a.kid
    assert len(await env.store.list_keys("CN-ZJ")) == 2
    again = env.make()  # a restart: the rotation is remembered on disk
    assert await again.rotate(ADMIN, "rotate-2027-01") == a
    c = await again.rotate(ADMIN, "rotate-2027-02")
    assert c.kid not in (a.kid, a.retired_kid) and c.retired_kid == a.kid
    assert len(await env.store.list_keys("CN-ZJ")) == 3


async def test_only_an_admin_the_region_s_agency_or_its_service_rotates(env):
    i = env.issuer
    for p in (SH, Principal("hotel"), POLICE, service_principal("CN-SH"), service_principal()):
        with pytest.raises(PermissionDenied):
            await i.rotate(p)
        with pytest.raises(PermissionDenied):
            await i.refresh_keys(p)
    assert len(await env.store.list_keys("CN-ZJ")) == 1
    for p in (ADMIN, ZJ, service_principal("CN-ZJ")):
        await i.rotate(p)
        assert (await i.refresh_keys(p)).kid == i.key.kid.hex()
    assert len(await env.store.list_keys("CN-ZJ")) == 4


async def test_a_failed_retirement_keeps_the_new_key_and_is_made_at_the_next_refresh(env):
    i = env.issuer
    first = i.key.kid.hex()
    env.port.retire_down = True
    info = await i.rotate(ZJ)
    assert i.key.kid.hex() == info.kid
    assert (await _key(env, first))["status"] == KeyStatus.ACTIVE  # not retired yet
    assert (await _issue(i))["kid"] == info.kid
    env.port.retire_down = False
    await i.refresh_keys(service_principal("CN-ZJ"))
    assert (await _key(env, first))["status"] == KeyStatus.RETIRED
    assert (await _key(env, info.kid))["status"] == KeyStatus.ACTIVE


async def test_a_rotation_with_the_registry_down_changes_nothing(env):
    i = env.issuer
    first = i.key.kid.hex()
    env.port.down = True
    with pytest.raises(Unavailable):
        await i.rotate(ZJ)
    assert i.key.kid.hex() == first and (env.folder / KEYS_DIR / CURRENT).read_text().strip() == first
    env.port.down = False
    info = await i.rotate(ZJ)  # the key made for the failed attempt is the one registered now
    assert len(list((env.folder / KEYS_DIR).glob("*.pem"))) == 2 and info.retired_kid == first


# -- revocation ------------------------------------------------------------------------------------

async def test_a_key_revoked_while_the_issuer_runs_signs_nothing_more(env):
    i = env.issuer
    before = await _issue(i)
    revoked = i.key.kid.hex()
    env.clock.advance(10)
    await env.registry.revoke_key(ADMIN, "CN-ZJ", revoked)
    info = await i.refresh_keys(ADMIN)  # what the gateway asks after a revocation
    assert info.kid not in ("", revoked) and info.retired_kid == revoked and info.status == "active"
    after = await _issue(i)
    shown = await i.show(ZJ, after["_id"])
    signed = await i.status_list("urn:ecert:status:CN-ZJ:1")
    assert after["kid"] == info.kid
    trust = await _trust(env)
    assert (await _outcome(env, before["qr_text"], trust)).outcome is Outcome.KEY_REVOKED
    assert (await _outcome(env, after["qr_text"], trust)).outcome is Outcome.VALID
    assert verify.check_token(shown.token, trust, env.clock()).key.kid.hex() == info.kid
    assert credential_kid(signed) == info.kid
    assert (await _key(env, revoked))["status"] == KeyStatus.REVOKED  # revoked stays revoked


def credential_kid(signed: bytes) -> str:
    from ecert.format import cose
    return cose.parse_sign1(signed).kid.hex()


async def test_a_revocation_is_learnt_at_the_signer_s_round_never_on_the_issuing_path(env):
    i = env.issuer
    await _issue(i)  # the types fetched
    revoked = i.key.kid.hex()
    await env.registry.revoke_key(ADMIN, "CN-ZJ", revoked)
    asked = []
    region_keys = env.port.region_keys

    async def counted():
        asked.append(1)
        return await region_keys()

    env.port.region_keys = counted
    env.mono.advance(TYPES_REFRESH)  # this issuance fetches the types again, and asks nothing of the keys
    await _issue(i)
    assert asked == []
    await i.signer.tend()  # the background round, every KEYS_REFRESH seconds
    doc = await _issue(i)
    assert asked and doc["kid"] != revoked and (await _outcome(env, doc["qr_text"])).outcome is Outcome.VALID


async def test_without_auto_rotation_a_revoked_key_is_503_until_rotated(env):
    i = env.make(auto_rotate=False)
    doc = await _issue(i)
    revoked = i.key.kid.hex()
    await env.registry.revoke_key(ADMIN, "CN-ZJ", revoked)
    info = await i.refresh_keys(ADMIN)
    assert (info.kid, info.status) == ("", "revoked")
    for attempt in (_issue(i), i.show(ZJ, doc["_id"]), i.status_list("urn:ecert:status:CN-ZJ:1")):
        with pytest.raises(Unavailable) as err:
            await attempt
        assert err.value.code == "SIGNING_KEY_UNAVAILABLE"
    assert len(await env.store.list_keys("CN-ZJ")) == 1  # nothing made
    info = await i.rotate(ADMIN)
    assert info.retired_kid == revoked and (await _issue(i))["kid"] == info.kid


async def test_a_replacement_that_fails_is_503_and_tried_again_later(env):
    i = env.issuer
    await _issue(i)
    revoked = i.key.kid.hex()
    await env.registry.revoke_key(ADMIN, "CN-ZJ", revoked)
    await i.refresh_keys(ADMIN)  # replaced: revoke the replacement too, and lose the registry
    second = i.key.kid.hex()
    await env.registry.revoke_key(ADMIN, "CN-ZJ", second)
    i.signer.view[second] = i.signer.view[second]._replace(status="revoked")  # as learnt before the registry went
    env.port.down = True
    with pytest.raises(Unavailable) as err:
        await _issue(i)
    assert err.value.code == "SIGNING_KEY_UNAVAILABLE"
    attempts = len(env.port.registered)
    env.port.down = False
    with pytest.raises(Unavailable):  # within ROTATE_RETRY: answered at once, the registry not asked
        await i.signing_key()
    assert len(env.port.registered) == attempts
    env.mono.advance(ROTATE_RETRY)
    key = await i.signing_key()
    assert key.kid.hex() not in (revoked, second)


async def test_an_expired_key_is_replaced_before_it_signs(env):
    i = env.make(key_lifetime_days=1, keyring=Keyring.of(keys.SigningKey.generate()))
    await i.register("issuer.zj:50061", pause=0)
    first = i.key.kid.hex()
    assert (await _key(env, first))["exp"] == T0 + 2 * DAY
    env.clock.advance(2 * DAY)
    doc = await _issue(i)
    assert doc["kid"] != first and (await _outcome(env, doc["qr_text"])).outcome is Outcome.VALID


# -- scheduled rotation ----------------------------------------------------------------------------

async def test_scheduled_rotation_once_the_lifetime_has_passed(env):
    i = env.make(key_lifetime_days=30, keyring=Keyring.of(keys.SigningKey.generate()))
    await i.register("issuer.zj:50061", pause=0)
    first = i.key.kid.hex()
    env.clock.advance(30 * DAY - 1)
    assert await i.signer.rotate_if_due() is None
    await i.signer.tend()
    assert i.key.kid.hex() == first
    env.clock.advance(1)
    await i.signer.tend()  # what the background task does every KEYS_REFRESH seconds
    second = i.key.kid.hex()
    assert second != first and (await _key(env, first))["status"] == KeyStatus.RETIRED
    assert (await _key(env, second))["nbf"] == T0 + 30 * DAY
    await i.signer.tend()
    assert i.key.kid.hex() == second  # the new key's lifetime starts now


async def test_a_lifetime_of_0_never_rotates(env):
    i = env.make(key_lifetime_days=0, keyring=Keyring.of(keys.SigningKey.generate()))
    await i.register("issuer.zj:50061", pause=0)
    first = i.key.kid.hex()
    env.clock.advance(3 * 365 * DAY)
    await i.signer.tend()
    assert i.key.kid.hex() == first


async def test_the_background_task_runs_on_its_sleep(env):
    i = env.make(key_lifetime_days=1, keyring=Keyring.of(keys.SigningKey.generate()))
    await i.register("issuer.zj:50061", pause=0)
    first = i.key.kid.hex()
    rounds = []

    async def sleep(seconds: float) -> None:
        rounds.append(seconds)
        env.clock.advance(DAY)
        if len(rounds) == 3:
            raise StopAsyncIteration  # end the loop

    with pytest.raises(StopAsyncIteration):
        await i.signer.run(every=10, sleep=sleep)
    assert len(rounds) == 3 and all(9 <= s <= 11 for s in rounds)
    assert i.key.kid.hex() != first


# -- several processes of one region, the keyring on disk -------------------------------------------

async def test_another_process_of_the_region_takes_up_the_rotation(env):
    a, b = env.issuer, env.make()
    info = await a.rotate(ZJ)
    assert b.key.kid.hex() == info.retired_kid  # until it next reads the keys
    await b.refresh_keys(service_principal("CN-ZJ"))
    assert b.key.kid.hex() == info.kid
    assert len(await env.store.list_keys("CN-ZJ")) == 2  # it made no key of its own


async def test_a_legacy_key_file_is_adopted_and_the_keyring_reloads_after_a_restart(tmp_path):
    folder = tmp_path / "issuer" / "CN-ZJ"
    legacy, _ = keys.load_or_create(folder / LEGACY_FILE, PASS)
    ring = Keyring.open(folder, PASS)
    kid = legacy.kid.hex()
    assert ring.current.kid == legacy.kid and not ring.created and ring.kids() == [kid]
    assert not (folder / LEGACY_FILE).exists()  # moved, not copied
    assert mode(folder / KEYS_DIR / f"{kid}.pem") == mode(folder / KEYS_DIR / CURRENT) == 0o600
    assert mode(folder / KEYS_DIR) == 0o700
    assert Keyring.open(folder, PASS).current.kid == legacy.kid
    new = ring.create()
    ring.switch(new)
    reopened = Keyring.open(folder, PASS)
    assert reopened.current.kid == new.kid and reopened.kids() == sorted([kid, new.kid.hex()])
    with pytest.raises(ConfigError):
        Keyring.open(folder, b"another passphrase")
    first = Keyring.open(tmp_path / "fresh", PASS)
    assert first.created and Keyring.open(tmp_path / "fresh", PASS).current.kid == first.current.kid


async def test_a_damaged_keyring_is_a_config_error_naming_its_file(tmp_path, caplog):
    folder = tmp_path / "issuer" / "CN-ZJ"
    ring = Keyring.open(folder, PASS)
    kid = ring.current_kid
    key_file, current = folder / KEYS_DIR / f"{kid}.pem", folder / KEYS_DIR / CURRENT
    with pytest.raises(ConfigError) as err:
        Keyring.open(folder, b"another passphrase")
    assert key_file.name in str(err.value) and "ECERT_SIGNING_KEY_PASSPHRASE" in str(err.value)
    current.write_bytes(b"\xff\xfe not a kid")
    with caplog.at_level(logging.WARNING, logger="ecert.issuer"):
        assert ring.reload() is False and ring.current_kid == kid  # a running issuer keeps its key
    assert CURRENT in caplog.text
    with pytest.raises(ConfigError) as err:
        Keyring.open(folder, PASS)
    assert CURRENT in str(err.value)
    current.write_bytes(kid.encode() + b"\n")
    key_file.write_bytes(key_file.read_bytes()[:100])
    with pytest.raises(ConfigError) as err:
        Keyring.open(folder, PASS)
    assert key_file.name in str(err.value)


async def test_damaged_rotation_records_are_ignored_never_a_500(env, caplog):
    i = env.issuer
    first = await i.rotate(ZJ, request_id="r-1")
    path = env.folder / KEYS_DIR / "rotations.json"
    records = json.loads(path.read_text())
    records["r-2"] = {"kid": "only this"}
    records["r-3"] = "not a record"
    path.write_text(json.dumps(records))
    with caplog.at_level(logging.WARNING, logger="ecert.issuer"):
        assert await i.rotate(ZJ, request_id="r-1") == first  # the good record still answers
        again = await i.rotate(ZJ, request_id="r-2")  # its damaged record is none: a new rotation
    assert "damaged" in caplog.text and again.retired_kid == first.kid
    path.write_text("[")
    assert (await i.rotate(ZJ, request_id="r-1")).retired_kid == again.kid  # forgotten with the file


async def test_the_background_round_survives_a_keyring_that_cannot_be_written(env, monkeypatch, caplog):
    i = env.issuer
    revoked = i.key.kid.hex()
    await env.registry.revoke_key(ADMIN, "CN-ZJ", revoked)

    def full():
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(i.signer.keyring, "create", full)
    with caplog.at_level(logging.WARNING, logger="ecert.issuer"):
        await i.signer.tend()  # logged, not raised: the task goes on
    assert "could not be replaced" in caplog.text
    env.mono.advance(ROTATE_RETRY)
    with pytest.raises(Unavailable) as err:  # on the issuing path: 503, not a 500
        await _issue(i)
    assert err.value.code == "SIGNING_KEY_UNAVAILABLE" and "No space" not in err.value.message
    monkeypatch.undo()
    env.mono.advance(ROTATE_RETRY)
    assert (await _issue(i))["kid"] != revoked


async def test_keys_are_logged_by_kid_only(env, caplog):
    caplog.set_level(logging.DEBUG)
    await env.issuer.rotate(ZJ)
    pem = (env.folder / KEYS_DIR / f"{env.issuer.key.kid.hex()}.pem").read_text()
    assert env.issuer.key.kid.hex() in caplog.text
    assert "PRIVATE KEY" not in caplog.text and pem.splitlines()[1] not in caplog.text


async def test_register_at_start_registers_the_current_key(env):
    kid = env.issuer.key.kid.hex()
    doc = await _key(env, kid)
    assert doc["status"] == KeyStatus.ACTIVE and doc["nbf"] <= T0 and doc["exp"] == T0 + 2 * 365 * DAY


async def test_the_key_and_status_list_settings_are_bounded():
    from ecert.runtime.config import IssuerConfig
    base = {"ECERT_REGION": "CN-ZJ", "ECERT_SIGNING_KEY_PASSPHRASE": "p", "ECERT_INTERNAL_TOKEN": "t",
            "ECERT_TLS_CA": "ca.pem", "ECERT_TLS_CERT": "c.pem", "ECERT_TLS_KEY": "k.pem"}
    cfg = IssuerConfig.from_env(base)
    assert (cfg.key_lifetime_days, cfg.key_auto_rotate, cfg.status_list_validity) == (365, True, 3600)
    assert IssuerConfig.from_env({**base, "ECERT_KEY_LIFETIME_DAYS": "0"}).key_lifetime_days == 0
    for bad in ({"ECERT_KEY_LIFETIME_DAYS": "-1"}, {"ECERT_KEY_LIFETIME_DAYS": "99999999"},
                {"ECERT_STATUS_LIST_VALIDITY": "0"}, {"ECERT_STATUS_LIST_VALIDITY": "10"},  # not over the ttl
                {"ECERT_STATUS_TTL": "600", "ECERT_STATUS_LIST_VALIDITY": "300"}, {"ECERT_KEY_AUTO_ROTATE": "maybe"}):
        with pytest.raises(ConfigError):
            IssuerConfig.from_env({**base, **bad})


# -- the registry's data cached --------------------------------------------------------------------

async def test_an_issuer_restarted_with_the_registry_down_issues_from_its_cached_types(env):
    cache = env.folder / CACHE_FILE
    i = env.make(cache=RegistryCache(cache))
    await _issue(i)
    await i.rules()
    assert mode(cache) == 0o600
    env.port.down = True
    restarted = env.make(cache=RegistryCache(cache))
    doc = await _issue(restarted)
    assert (await _outcome(env, doc["qr_text"])).outcome is Outcome.VALID
    assert await restarted.rules() == (await env.registry.rules()).rules
    without = env.make()  # no cache: as before, 503 while the registry is down
    with pytest.raises(Unavailable):
        await _issue(without)


async def test_a_damaged_cache_is_ignored_with_a_warning(env, caplog):
    cache = env.folder / CACHE_FILE
    await _issue(env.make(cache=RegistryCache(cache)))
    text = cache.read_text()
    cache.write_text(text[: len(text) // 2])
    env.port.down = True
    with caplog.at_level(logging.WARNING, logger="ecert.issuer"):
        damaged = env.make(cache=RegistryCache(cache))
    assert "damaged" in caplog.text
    with pytest.raises(Unavailable):
        await _issue(damaged)
    env.port.down = False
    await _issue(damaged)  # the registry back: the file written whole again
    assert json.loads(cache.read_text())["types"]


# -- through the processes' gRPC ---------------------------------------------------------------------

@pytest_asyncio.fixture(loop_scope="session")
async def own(tmp_path):
    suite = await start_suite(tmp_path, regions=("CN-ZJ",))
    yield suite
    await suite.close()


async def test_rotate_and_revoke_through_grpc(own):
    suite = own
    ich = suite.channel(suite.issuer_ports["CN-ZJ"], pki.ISSUER)
    rch = suite.channel(suite.registry_port, pki.REGISTRY)
    vch = suite.channel(suite.verifier_port, pki.VERIFIER)
    issuer, registry = issuer_pb2_grpc.IssuerServiceStub(ich), registry_pb2_grpc.RegistryServiceStub(rch)
    verifier = verifier_pb2_grpc.VerifierServiceStub(vch)
    agency, admin = principal_to_pb(ZJ), principal_to_pb(ADMIN)

    async def issue() -> issuer_pb2.Credential:
        return await issuer.IssueCredential(issuer_pb2.IssueCredentialRequest(
            principal=agency, type=DL, fields_json=json.dumps(driving_licence())), timeout=10)

    async def result(c: issuer_pb2.Credential) -> str:
        r = await verifier.Verify(verifier_pb2.VerifyRequest(principal=principal_to_pb(POLICE), payload=c.qr_text),
                                  timeout=10)
        return r.result

    try:
        old = await issue()
        rotated = await issuer.RotateSigningKey(issuer_pb2.RotateSigningKeyRequest(
            principal=agency, region="CN-ZJ", request_id="rotation-1"), timeout=10)
        assert rotated.retired_kid == old.kid and rotated.kid != old.kid and rotated.status == "active"
        again = await issuer.RotateSigningKey(issuer_pb2.RotateSigningKeyRequest(
            principal=agency, region="CN-ZJ", request_id="rotation-1"), timeout=10)
        assert again == rotated
        for region, who, code in (("CN-SH", agency, grpc.StatusCode.NOT_FOUND),
                                  ("CN-ZJ", principal_to_pb(SH), grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await issuer.RotateSigningKey(issuer_pb2.RotateSigningKeyRequest(principal=who, region=region),
                                              timeout=10)
            assert err.value.code() == code
        new = await issue()
        assert new.kid == rotated.kid
        await suite.refresh()
        assert (await result(old), await result(new)) == ("VALID", "VALID")

        await registry.RevokeKey(registry_pb2.KeyRef(principal=admin, region="CN-ZJ", kid=rotated.kid), timeout=10)
        refreshed = await issuer.RefreshKeys(issuer_pb2.RefreshKeysRequest(principal=admin), timeout=10)
        assert refreshed.kid not in ("", old.kid, rotated.kid) and refreshed.retired_kid == rotated.kid
        third = await issue()
        assert third.kid == refreshed.kid
        await suite.refresh()
        assert await result(new) == "KEY_REVOKED"
        assert (await result(old), await result(third)) == ("VALID", "VALID")
    finally:
        for ch in (ich, rch, vch):
            await ch.close()
