"""The verifier's durable trust list (services.verifier.trust) as the verifier uses it: answers
that keep coming with the registry down and say how fresh their lists were, a restart from disk
alone, the lists refused (replayed, expired, below the minimum, damaged, dated ahead), a root
rotation followed from the old pin.

Domain level: the registry and the issuer faked in the test (``Net``), the cache folder a
temporary one, both clocks moved by hand."""

from __future__ import annotations

import base64

import cbor2
import pytest

from ecert.clock import FixedClock
from ecert.errors import NotFound, Outcome, Unavailable
from ecert.format import cose, credential, statuslist, trustlist
from ecert.format.keys import SigningKey
from ecert.rules.catalogue import builtin_types
from ecert.rules.schema import TypeSchema
from ecert.rules.access import Principal
from ecert.vocab import StatusAnswer
from services.verifier.domain import TrustCache, Unverified, Verifier
from services.verifier.trust import TrustListAnswer
from testkit.samples import driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
SKEW = 60
MAX_AGE = 300
URI = "urn:ecert:status:CN-ZJ:1"
OFFICER = Principal("traffic_police", "CN-JS")
DL = next(t for t in builtin_types() if t["id"] == "cn.driving_licence")
ROOT, KEY = SigningKey.generate(), SigningKey.generate()


def listed(version: int, *, root: SigningKey = ROOT, iat: int = T0, exp: int | None = None,
           next_root=None) -> bytes:
    """A trust list of one region (CN-ZJ, KEY active) signed by ``root``."""
    keys = [{"region": "CN-ZJ", "kid": KEY.kid.hex(), "alg": KEY.alg, "spki": base64.b64encode(KEY.spki).decode(),
             "nbf": T0 - 10**6, "exp": T0 + 10**8, "status": "active"}]
    payload = trustlist.build_payload(
        version=version, iat=iat, exp=iat + 86400 if exp is None else exp, keys=keys, next_root=next_root,
        regions=[{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "zj:1"}],
        types=[{"id": DL["id"], "version": DL["version"], "name": DL["name"], "schema": DL["schema"],
                "disclosure": DL["disclosure"]}])
    return trustlist.sign(root, payload)


def status_list(*revoked: int, iat: int = T0, exp: int = T0 + 10**6) -> bytes:
    bits = statuslist.build_bits([(i, statuslist.REVOKED) for i in revoked], 64)
    return statuslist.sign(KEY, uri=URI, bits=bits, iat=iat, exp=exp, ttl=10)


def ec1(idx: int | None = 5) -> str:
    """A driving licence of CN-ZJ, with its status claim (``idx`` None: none)."""
    ts = TypeSchema(DL["id"], DL["version"], DL["name"], DL["schema"], DL["disclosure"])
    status = {} if idx is None else {"status_uri": URI, "status_idx": idx}
    return credential.issue(KEY, iss="CN-ZJ", iat=T0 - 86400, exp=T0 + 365 * 86400, cti=credential.new_cti(),
                            type_id=DL["id"], type_version=1, fields=ts.to_cbor(driving_licence()), **status)


def _version(signed: bytes) -> int:
    return cbor2.loads(cose.parse_sign1(signed).payload)["v"]


class Net:
    """The registry (``signed``, ``chain``; not_modified for the version held) and CN-ZJ's issuer
    (``status``); ``registry_down`` / ``issuer_down`` fail their calls. Every call is counted."""

    def __init__(self, signed: bytes | None = None, chain: tuple[bytes, ...] = ()):
        self.signed, self.chain = signed, chain
        self.status = status_list(6)
        self.registry_down = self.issuer_down = False
        self.known: list[int] = []  # the known_version of each trust-list call
        self.status_calls = 0

    async def trust_list(self, known_version: int) -> TrustListAnswer:
        self.known.append(known_version)
        if self.registry_down or self.signed is None:
            raise Unavailable("registry down")
        if known_version and known_version == _version(self.signed):
            return TrustListAnswer(not_modified=True)
        return TrustListAnswer(self.signed, self.chain)

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        self.status_calls += 1
        if self.issuer_down:
            raise Unavailable("issuer down")
        if uri != URI:
            raise NotFound("no such list")
        return self.status

    async def status_lists(self, endpoint: str, held):
        self.status_calls += 1
        if self.issuer_down:
            raise Unavailable("issuer down")
        return [self.status], [uri for uri, _ in held if uri != URI]

    async def resolve(self, *args):
        raise NotFound("no such credential")

    async def close(self) -> None:
        pass


def make(folder, net: Net, clock: FixedClock, *, root: SigningKey = ROOT, **kw):
    cache = TrustCache(root.public, net, folder, skew=SKEW, max_age=MAX_AGE, now=clock, monotonic=FixedClock(0),
                       **kw)
    return cache, Verifier(cache, skew=SKEW, now=clock)


def events(cache: TrustCache) -> dict:
    return cache.state()["events"]


# -- with the registry down ------------------------------------------------------------------

async def test_answers_keep_coming_with_the_registry_down_and_turn_stale_past_max_age_or_exp(tmp_path):
    clock = FixedClock(T0)
    net = Net(listed(1, exp=T0 + 3600))
    cache, verifier = make(tmp_path, net, clock)
    assert await cache.refresh_trust() is True and net.known == [0]
    first = await verifier.verify(OFFICER, ec1())
    assert first.res.outcome is Outcome.VALID and first.fresh == (1, T0, False)
    assert (first.res.status, first.res.status_as_of, first.res.status_checked) == (StatusAnswer.VALID, T0, True)

    net.registry_down = True
    clock.advance(MAX_AGE - 1)
    assert await cache.refresh_trust() is False  # kept, counted
    assert (await verifier.verify(OFFICER, ec1())).fresh == (1, T0, False)
    clock.advance(1)  # max_age without a successful refresh
    late = await verifier.verify(OFFICER, ec1())
    assert late.res.outcome is Outcome.VALID and late.fresh == (1, T0, True)
    assert events(cache)[("trust", "refresh_failed")] == 1
    assert cache.state()["trust"] | {"events": None} == {
        "version": 1, "iat": T0, "exp": T0 + 3600, "refreshed_at": T0, "stale": True, "failures": 1,
        "root_kid": ROOT.public.kid.hex(), "events": None}

    net.registry_down = False
    assert await cache.refresh_trust() is False and net.known[-1] == 1  # conditional: not_modified
    assert (await verifier.verify(OFFICER, ec1())).fresh == (1, T0, False)
    assert cache.state()["trust"]["refreshed_at"] == T0 + MAX_AGE

    clock.t = T0 + 3600  # past the list's exp, though the registry answers: stale all the same
    assert await cache.refresh_trust() is False
    past = await verifier.verify(OFFICER, ec1())
    assert past.res.outcome is Outcome.VALID and past.fresh == (1, T0, True)


async def test_a_restart_with_registry_and_issuers_down_verifies_from_disk_and_says_how_old(tmp_path):
    clock = FixedClock(T0 + 10)
    net = Net(listed(3))
    cache, verifier = make(tmp_path, net, clock)
    await cache.refresh_trust()
    assert (await verifier.verify(OFFICER, ec1())).res.status == StatusAnswer.VALID  # the status list fetched

    down = Net()
    down.issuer_down = True
    clock.advance(80)  # still within max_age of the last refresh, which the state file remembers
    cache, verifier = make(tmp_path, down, clock)
    cache.load_cached()
    soon = await verifier.verify(OFFICER, ec1())
    assert soon.res.outcome is Outcome.VALID and soon.fresh == (3, T0, False)
    assert cache.state()["trust"]["refreshed_at"] == T0 + 10 and cache.state()["status"]["on_disk"] == 1

    clock.advance(10_000)
    cache, verifier = make(tmp_path, down, clock)
    cache.load_cached()
    valid, revoked = (await verifier.verify(OFFICER, ec1(5))), (await verifier.verify(OFFICER, ec1(6)))
    assert valid.res.outcome is Outcome.VALID and revoked.res.outcome is Outcome.REVOKED
    assert valid.fresh == revoked.fresh == (3, T0, True)  # trust_list_as_of: how old, and stale
    assert (valid.res.status, valid.res.status_as_of, valid.res.status_checked) == (StatusAnswer.VALID, T0, True)
    assert (revoked.res.status, revoked.res.status_as_of) == (StatusAnswer.REVOKED, T0)
    assert down.known == [] and down.status_calls == 0  # nothing was asked of the network
    assert events(cache).get(("status", "reloaded")) == 1


# -- lists refused --------------------------------------------------------------------------------

async def test_a_replayed_older_list_and_a_fetched_expired_one_are_refused(tmp_path):
    clock = FixedClock(T0)
    net = Net(listed(2))
    cache, verifier = make(tmp_path, net, clock)
    await cache.refresh_trust()
    held = cache.trust

    net.signed = listed(1)  # genuine, older: a replay (or a registry restored from an old backup)
    assert await cache.refresh_trust() is False and cache.trust is held
    net.signed = listed(3, iat=T0 - 7200, exp=T0 - 1)  # newer, but past its exp when fetched
    assert await cache.refresh_trust() is False and cache.trust is held
    assert events(cache)[("trust", "refused_older")] == 1 and events(cache)[("trust", "refused_expired")] == 1
    assert (tmp_path / "trust-list.cbor").read_bytes() == held.signed
    assert cache.state()["trust"]["failures"] == 2  # a refusal is no successful refresh
    clock.advance(MAX_AGE)
    assert (await verifier.verify(OFFICER, ec1())).fresh == (2, T0, True)

    # the older list put in the file by hand: the state file knows v2 was accepted
    (tmp_path / "trust-list.cbor").write_bytes(listed(1))
    cache, verifier = make(tmp_path, Net(), clock)
    cache.load_cached()
    assert cache.trust is None and events(cache)[("trust", "refused_older")] == 1
    assert isinstance((await verifier.verify(OFFICER, ec1())).res, Unverified)


async def test_a_list_below_the_configured_minimum_is_refused_at_cold_start(tmp_path):
    clock = FixedClock(T0)
    net = Net(listed(4))
    cache, verifier = make(tmp_path, net, clock, min_version=5, min_iat=T0)
    with pytest.raises(Exception):
        await cache.refresh_trust()  # no list in hand: the refusal reaches the caller
    assert cache.trust is None and events(cache)[("trust", "refused_below_minimum")] == 1
    verdict = await verifier.verify(OFFICER, ec1())
    assert verdict.res.outcome is Outcome.REGION_UNAVAILABLE and verdict.fresh == (0, 0, True)
    net.signed = listed(5, iat=T0 - 1)  # the version, but issued before the minimum iat
    with pytest.raises(Exception):
        await cache.refresh_trust()
    assert events(cache)[("trust", "refused_below_minimum")] == 2
    net.signed = listed(5)
    assert await cache.refresh_trust() is True and cache.trust.version == 5

    # an old list left on disk (a verifier restored from an old image) is refused the same way
    old = tmp_path / "old"
    old.mkdir()
    (old / "trust-list.cbor").write_bytes(listed(4))
    cache, _ = make(old, Net(), clock, min_version=5)
    cache.load_cached()
    assert cache.trust is None and events(cache)[("trust", "refused_below_minimum")] == 1


async def test_a_damaged_cache_file_is_ignored_and_counted(tmp_path):
    clock = FixedClock(T0)
    net = Net(listed(2))
    cache, verifier = make(tmp_path, net, clock)
    await cache.refresh_trust()
    await verifier.verify(OFFICER, ec1())  # the status list kept on disk
    (status_file,) = (tmp_path / "status").iterdir()

    (tmp_path / "trust-state.json").write_text('{"version": "two"')
    (tmp_path / "root-chain.cbor").write_bytes(b"\xff not cbor")
    status_file.write_bytes(status_file.read_bytes()[:-3])
    down = Net()
    down.issuer_down = True
    cache, verifier = make(tmp_path, down, clock)
    cache.load_cached()
    assert cache.trust.version == 2  # the list itself is intact: used
    assert cache.state()["trust"]["refreshed_at"] == 0  # not known: stale at once
    verdict = await verifier.verify(OFFICER, ec1())
    assert verdict.res.outcome is Outcome.VALID and verdict.fresh == (2, T0, True)
    assert (verdict.res.status, verdict.res.status_checked) == (StatusAnswer.UNKNOWN, False)
    assert events(cache)[("trust", "damaged_file")] == 2 and events(cache)[("status", "damaged_file")] == 1
    assert not status_file.exists()  # removed: neither read nor counted again
    assert (await verifier.verify(OFFICER, ec1())).res.status == StatusAnswer.UNKNOWN
    assert events(cache)[("status", "damaged_file")] == 1

    signed = listed(2)
    (tmp_path / "trust-list.cbor").write_bytes(signed[:-1] + bytes([signed[-1] ^ 1]))
    cache, verifier = make(tmp_path, Net(), clock)
    cache.load_cached()
    assert cache.trust is None and events(cache)[("trust", "damaged_file")] == 3
    assert (await verifier.verify(OFFICER, ec1())).res.outcome is Outcome.REGION_UNAVAILABLE


# -- the root key rotated ---------------------------------------------------------------------

async def test_a_root_rotation_is_followed_from_the_old_pin_also_after_a_restart_from_disk_only(tmp_path):
    clock = FixedClock(T0)
    new_root, stranger = SigningKey.generate(), SigningKey.generate()
    announcement = listed(2, next_root=new_root.public)  # the old root's last list
    forged = listed(2, root=stranger, next_root=stranger.public)
    net = Net(listed(3, root=new_root), (forged, announcement))
    cache, verifier = make(tmp_path, net, clock)
    assert await cache.refresh_trust() is True
    assert cache.root.kid == new_root.public.kid and cache.trust.version == 3
    assert cache.state()["trust"]["root_kid"] == new_root.public.kid.hex()
    assert (await verifier.verify(OFFICER, ec1())).res.outcome is Outcome.VALID

    net.signed = listed(4)  # signed by the root left behind: never again
    assert await cache.refresh_trust() is False and cache.trust.version == 3
    assert events(cache)[("trust", "bad_signature")] == 1

    cache, verifier = make(tmp_path, Net(), clock)  # pinned to the old root, nothing but the disk
    cache.load_cached()
    assert cache.root.kid == new_root.public.kid and cache.trust.version == 3
    verdict = await verifier.verify(OFFICER, ec1())
    assert verdict.res.outcome is Outcome.VALID and verdict.fresh.version == 3
    assert ("trust", "damaged_file") not in events(cache)

    # a verifier that stopped on the announcement itself (the list the old root signed last)
    last = tmp_path / "announced"
    cache, _ = make(last, Net(announcement, (announcement,)), clock)
    assert await cache.refresh_trust() is True and cache.trust.version == 2
    assert cache.root.kid == new_root.public.kid
    cache, _ = make(last, Net(), clock)
    cache.load_cached()
    assert cache.trust is not None and cache.trust.version == 2 and cache.root.kid == new_root.public.kid

    # the same disk, the verifier pinned anew to the new root (root-public.pem after the rotation):
    # the announcement it no longer needs is not followed, and is no damage
    cache, verifier = make(tmp_path, Net(), clock, root=new_root)
    cache.load_cached()
    assert cache.root.kid == new_root.public.kid and cache.trust.version == 3
    assert (await verifier.verify(OFFICER, ec1())).res.outcome is Outcome.VALID
    assert ("trust", "damaged_file") not in events(cache)


# -- clocks and status ---------------------------------------------------------------------------

async def test_a_list_dated_an_hour_ahead_is_counted_and_stale(tmp_path):
    clock = FixedClock(T0)
    net = Net(listed(1, iat=T0 + 3600))
    cache, verifier = make(tmp_path, net, clock)
    await cache.refresh_trust()
    verdict = await verifier.verify(OFFICER, ec1())
    assert verdict.res.outcome is Outcome.VALID and verdict.fresh == (1, T0 + 3600, True)
    assert events(cache)[("trust", "future_dated")] == 1 and cache.state()["trust"]["stale"] is True
    clock.t = T0 + 3600 - SKEW  # the clock caught up with it (within the skew) and it was refreshed
    await cache.refresh_trust()
    assert (await verifier.verify(OFFICER, ec1())).fresh == (1, T0 + 3600, False)

    net.status = status_list(iat=clock.t + 3600)  # a status list dated ahead is not used at all
    cache, verifier = make(tmp_path / "other", net, clock)
    await cache.refresh_trust()
    res = (await verifier.verify(OFFICER, ec1())).res
    assert (res.outcome, res.status, res.status_checked) == (Outcome.VALID, StatusAnswer.UNKNOWN, False)
    assert events(cache)[("status", "future_dated")] == 1


async def test_a_credential_without_a_status_claim_is_not_tracked(tmp_path):
    clock = FixedClock(T0)
    net = Net(listed(1))
    cache, verifier = make(tmp_path, net, clock)
    await cache.refresh_trust()
    res = (await verifier.verify(OFFICER, ec1(None))).res
    assert res.outcome is Outcome.VALID
    assert (res.status, res.status_checked, res.status_as_of) == (StatusAnswer.NOT_TRACKED, False, 0)
    assert net.status_calls == 0


async def test_a_list_that_cannot_be_written_to_disk_is_used_from_memory_and_counted(tmp_path, monkeypatch):
    clock = FixedClock(T0)
    net = Net(listed(1))
    cache, verifier = make(tmp_path, net, clock)
    assert await cache.refresh_trust() is True

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("services.verifier.trust.write_private", full)
    net.signed = listed(2)
    assert await cache.refresh_trust() is True  # the newer list is taken, not thrown away
    answer = await verifier.verify(OFFICER, ec1())
    assert answer.res.outcome is Outcome.VALID and answer.fresh == (2, T0, False)
    assert events(cache)[("trust", "write_failed")] >= 2  # the list and the state file
    monkeypatch.undo()

    # restarted: the disk holds v1, the last written; v2 is taken again from the registry
    cache, verifier = make(tmp_path, net, clock)
    cache.load_cached()
    assert cache.trust.version == 1
    assert await cache.refresh_trust() is True and cache.trust.version == 2
