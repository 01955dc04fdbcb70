"""The verifier's rules without a server: the network faked in the test, the trust-list file in
a temporary folder, clocks moved by hand."""

from __future__ import annotations

import pytest

from ecert.clock import FixedClock
from ecert.errors import InvalidRequest, NotFound, Outcome, PermissionDenied, Unavailable
from ecert.format import credential, presentation, statuslist, trustlist
from ecert.format.keys import SigningKey
from ecert.limits import MAX_BATCH, MAX_PAYLOAD_CHARS, MAX_PURPOSE
from ecert.rules import verify
from ecert.rules.access import Principal
from ecert.rules.catalogue import builtin_types
from ecert.rules.schema import TypeSchema
from ecert.vocab import ROLE_PURPOSES, Purpose
from services.verifier import domain
from services.verifier.domain import Pending, Resolved, TrustCache, Unverified, Verifier
from services.verifier.trust import TrustListAnswer
from testkit.samples import driving_licence

pytestmark = pytest.mark.asyncio(loop_scope="session")

T0 = 1_800_000_000
URI = "urn:ecert:status:CN-ZJ:1"
OFFICER = Principal("traffic_police", "CN-JS")  # checks driving licences (the default purpose)
DL = next(t for t in builtin_types() if t["id"] == "cn.driving_licence")
ROOT, KEY = SigningKey.generate(), SigningKey.generate()


def signed_list(version: int, *keys: SigningKey, endpoint: str = "zj.issuer:50061") -> bytes:
    entries = [{"kid": k.kid, "alg": k.alg, "spki": k.spki, "nbf": T0 - 10, "exp": T0 + 10**8, "status": "active"}
               for k in keys or (KEY,)]
    return trustlist.sign(ROOT, {
        "v": version, "iat": T0, "exp": T0 + 10 * 86400,
        "regions": [{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": endpoint, "keys": entries}],
        "types": [{"id": DL["id"], "v": DL["version"], "name": DL["name"], "schema": DL["schema"],
                   "disclosure": DL["disclosure"]}]})


def ec1(key: SigningKey = KEY, idx: int = 5) -> str:
    ts = TypeSchema(DL["id"], DL["version"], DL["name"], DL["schema"], DL["disclosure"])
    return credential.issue(key, iss="CN-ZJ", iat=T0, exp=T0 + 365 * 86400, cti=credential.new_cti(),
                            type_id=DL["id"], type_version=1, fields=ts.to_cbor(driving_licence()),
                            status_uri=URI, status_idx=idx)


def status_list(*revoked: int, exp: int = T0 + 60) -> bytes:
    bits = statuslist.build_bits([(i, statuslist.REVOKED) for i in revoked])
    return statuslist.sign(KEY, uri=URI, bits=bits, iat=T0, exp=exp, ttl=10)


class FakeUpstream:
    """The network port: what the registry and the issuer answer, set by the test; ``down`` fails every call."""

    def __init__(self, signed: bytes | None = None):
        self.signed = signed
        self.status = status_list()
        self.answer: Resolved | Exception = NotFound("no such credential")
        self.down = False
        self.trust_calls = self.status_calls = 0
        self.resolved: list[tuple] = []

    async def trust_list(self, known_version: int = 0) -> TrustListAnswer:
        self.trust_calls += 1
        if self.down or self.signed is None:
            raise Unavailable("registry down")
        return TrustListAnswer(self.signed)

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        self.status_calls += 1
        if self.down:
            raise Unavailable("issuer down")
        return self.status

    async def status_lists(self, endpoint: str, held) -> tuple[list[bytes], list[str]]:
        self.status_calls += 1
        if self.down:
            raise Unavailable("issuer down")
        return [self.status], []

    async def resolve(self, endpoint, p, token_cti, credential_cti, purpose) -> Resolved:
        self.resolved.append((endpoint, p.role, purpose))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def close(self) -> None:
        pass


def make(tmp_path, upstream: FakeUpstream):
    mono, clock = FixedClock(0), FixedClock(T0)
    cache = TrustCache(ROOT.public, upstream, tmp_path, now=clock, monotonic=mono)
    return cache, Verifier(cache, now=clock), mono, clock


# -- the trust list ---------------------------------------------------------------------------

async def test_a_lower_trust_list_version_is_refused_and_the_newest_kept_on_disk(tmp_path):
    up = FakeUpstream(signed_list(2))
    cache, _, _, _ = make(tmp_path, up)
    assert await cache.refresh_trust() is True and cache.trust.version == 2
    held = cache.trust
    up.signed = signed_list(1)
    assert await cache.refresh_trust() is False
    assert cache.trust is held and (tmp_path / "trust-list.cbor").read_bytes() == held.signed
    up.signed = signed_list(3)
    assert await cache.refresh_trust() is True and cache.trust.version == 3
    assert (tmp_path / "trust-list.cbor").read_bytes() == up.signed


async def test_the_list_on_disk_is_used_when_the_registry_is_down(tmp_path):
    first, _, _, _ = make(tmp_path, FakeUpstream(signed_list(4)))
    await first.refresh_trust()
    up = FakeUpstream()  # the registry never answers
    cache, verifier, _, _ = make(tmp_path, up)
    cache.load_cached()
    assert cache.trust is not None and cache.trust.version == 4
    assert await cache.refresh_trust_soon(0) is False and up.trust_calls == 1 and cache.trust.version == 4
    verdict = await verifier.verify(OFFICER, ec1())
    assert verdict.res.outcome is Outcome.VALID and verdict.version == 4 and verdict.now == T0


async def test_a_tampered_list_on_disk_is_ignored(tmp_path):
    signed = signed_list(9)
    (tmp_path / "trust-list.cbor").write_bytes(signed[:-1] + bytes([signed[-1] ^ 1]))  # the signature's last byte changed
    cache, verifier, _, _ = make(tmp_path, FakeUpstream())
    cache.load_cached()
    assert cache.trust is None
    verdict = await verifier.verify(OFFICER, ec1())
    assert isinstance(verdict.res, Unverified) and verdict.res.outcome is Outcome.REGION_UNAVAILABLE
    assert "trust list" in verdict.res.detail and verdict.version == 0


async def test_unchanged_bytes_are_not_parsed_again(tmp_path, monkeypatch):
    cache, _, _, _ = make(tmp_path, FakeUpstream(signed_list(2)))
    await cache.refresh_trust()
    parsed = []
    from_signed = domain.TrustList.from_signed
    monkeypatch.setattr(domain.TrustList, "from_signed",
                        classmethod(lambda cls, signed, root: parsed.append(1) or from_signed(signed, root)))
    assert await cache.refresh_trust() is False and parsed == []


async def test_without_a_trust_list_the_registry_is_asked_at_most_once_a_second(tmp_path):
    up = FakeUpstream()
    _, verifier, mono, _ = make(tmp_path, up)
    for _ in range(3):
        assert (await verifier.verify(OFFICER, ec1())).res.outcome is Outcome.REGION_UNAVAILABLE
    assert up.trust_calls == 1
    mono.advance(domain.NO_TRUST_LIST_INTERVAL)
    up.signed = signed_list(1)
    up.status = status_list()
    assert (await verifier.verify(OFFICER, ec1())).res.outcome is Outcome.VALID
    assert up.trust_calls == 2


async def test_an_unknown_kid_asks_for_a_newer_list_at_most_every_few_seconds(tmp_path):
    new_key = SigningKey.generate()
    up = FakeUpstream(signed_list(1))
    cache, verifier, mono, _ = make(tmp_path, up)
    await cache.refresh_trust()
    text = ec1(new_key)
    assert (await verifier.verify(OFFICER, text)).res.outcome is Outcome.KID_UNKNOWN
    assert up.trust_calls == 1  # the list was fetched moments ago
    mono.advance(domain.KID_REFRESH_INTERVAL)
    assert (await verifier.verify(OFFICER, text)).res.outcome is Outcome.KID_UNKNOWN
    assert (await verifier.verify(OFFICER, text)).res.outcome is Outcome.KID_UNKNOWN
    assert up.trust_calls == 2  # the first unknown kid asked; the second waits its turn
    up.signed = signed_list(2, KEY, new_key)  # the key is registered
    mono.advance(domain.KID_REFRESH_INTERVAL)
    verdict = await verifier.verify(OFFICER, text)
    assert verdict.res.outcome is Outcome.VALID and verdict.version == 2 and up.trust_calls == 3


# -- status lists -----------------------------------------------------------------------------

async def test_a_stale_status_list_leaves_the_status_unchecked(tmp_path):
    up = FakeUpstream(signed_list(1))
    cache, verifier, _, clock = make(tmp_path, up)
    await cache.refresh_trust()
    text, revoked = ec1(idx=5), ec1(idx=6)
    up.status = status_list(6, exp=T0 + 60)
    fresh = (await verifier.verify(OFFICER, text)).res
    assert fresh.outcome is Outcome.VALID and fresh.status_checked is True
    assert (await verifier.verify(OFFICER, revoked)).res.outcome is Outcome.REVOKED
    assert up.status_calls == 1  # fetched once, then used from the cache
    clock.advance(60)
    up.down = True
    stale = (await verifier.verify(OFFICER, text)).res
    assert stale.outcome is Outcome.VALID and stale.status_checked is False and "stale" in stale.detail
    assert up.status_calls == 2


async def test_the_common_case_is_answered_without_the_network(tmp_path):
    up = FakeUpstream(signed_list(1))
    cache, verifier, _, _ = make(tmp_path, up)
    await cache.refresh_trust()
    text = ec1()
    written = []

    def write(p, res, fresh, now, out):
        written.append((p.role, res.outcome, res.status_checked, fresh.version, now, out))
        return out

    purpose = Purpose.ROADSIDE_DRIVER_CHECK
    first = verifier.verify_now(OFFICER, text, write, "out", purpose)
    assert isinstance(first, Pending) and first.res.ok and written == []  # no status list yet
    assert (await verifier.finish(OFFICER, text, purpose, first)).res.outcome is Outcome.VALID
    assert verifier.verify_now(OFFICER, text, write, "out", purpose) == "out"
    assert written == [("traffic_police", Outcome.VALID, True, 1, T0, "out")]
    assert verifier.verify_now(OFFICER, "x" * (MAX_PAYLOAD_CHARS + 1), write, None) is None
    assert written[-1][1:5] == (Outcome.PAYLOAD_TOO_LARGE, False, 1, T0)  # refused before any check


# -- tokens -----------------------------------------------------------------------------------

async def test_a_token_is_resolved_by_its_region(tmp_path):
    up = FakeUpstream(signed_list(1))
    cache, verifier, _, _ = make(tmp_path, up)
    await cache.refresh_trust()
    token, _ = presentation.issue(KEY, iss="CN-ZJ", credential_cti=credential.new_cti(), now=T0)
    up.answer = Resolved("VALID", "ID", "cn.driving_licence", 1, "CN-ZJ", T0, T0 + 1, "1.2.3", '{"name": "x"}')
    verdict = await verifier.verify(Principal("traffic_police"), token, "roadside_driver_check")
    assert verdict.res == up.answer and verdict.version == 1
    assert up.resolved == [("zj.issuer:50061", "traffic_police", "roadside_driver_check")]
    # The region judged it, as it recorded it in the trail: its answer is the answer.
    up.answer = Resolved("NOT_ACCEPTED_FOR_PURPOSE", "ID", "cn.driving_licence", 1, "CN-ZJ", T0, T0 + 1, "1.2.3",
                         '{"name": "x"}', detail="cn.driving_licence is not accepted for hotel_check_in")
    hotel = (await verifier.verify(Principal("hotel"), token)).res
    assert hotel == up.answer
    assert up.resolved[-1] == ("zj.issuer:50061", "hotel", "hotel_check_in")
    del up.resolved[-1]
    up.answer = NotFound("no such credential")
    res = (await verifier.verify(OFFICER, token)).res
    assert isinstance(res, verify.Result) and res.outcome is Outcome.REVOKED
    up.answer = Unavailable("issuer down")
    assert (await verifier.verify(OFFICER, token)).res.outcome is Outcome.REGION_UNAVAILABLE
    up.signed = signed_list(2, endpoint="")  # no issuer online for the region
    await cache.refresh_trust()
    res = (await verifier.verify(OFFICER, token)).res
    assert res.outcome is Outcome.REGION_UNAVAILABLE and "no endpoint" in res.detail and len(up.resolved) == 3


# -- who may verify ---------------------------------------------------------------------------

async def test_who_may_verify_and_what_a_request_may_hold(tmp_path):
    _, verifier, _, _ = make(tmp_path, FakeUpstream())
    for role in ("hotel", "traffic_police", "integrator", "agency", "admin"):
        assert verifier.admit(Principal(role), "", ["EC1:"] * MAX_BATCH) == ROLE_PURPOSES[role][0]
        for purpose in Purpose:
            if purpose in ROLE_PURPOSES[role]:
                assert verifier.admit(Principal(role), purpose) is purpose
            else:
                with pytest.raises(PermissionDenied) as denied:
                    verifier.admit(Principal(role), purpose)
                assert denied.value.code == "PURPOSE_NOT_ALLOWED"
    with pytest.raises(InvalidRequest) as unknown:
        verifier.admit(OFFICER, "roadside check")
    assert unknown.value.code == "PURPOSE_UNKNOWN" and unknown.value.field == "purpose"
    for role in ("", "service", "burglar"):
        with pytest.raises(PermissionDenied):
            verifier.admit(Principal(role))
        with pytest.raises(PermissionDenied):
            await verifier.verify(Principal(role), ec1())
    with pytest.raises(InvalidRequest) as err:
        verifier.admit(OFFICER, "x" * (MAX_PURPOSE + 1))
    assert err.value.field == "purpose"
    with pytest.raises(InvalidRequest) as err:
        verifier.admit(OFFICER, "", ["EC1:"] * (MAX_BATCH + 1))
    assert err.value.field == "payloads"


async def test_a_regions_answer_to_a_token_is_kept_as_the_region_judged_and_recorded_it(tmp_path):
    """The issuing region judges a show code (the holder's purpose limit, then the recognition
    rules) and records that outcome in the holder's trail: the answer keeps it and its fields, under
    rules this trust list may not hold yet, and for a type version it does not know yet."""
    up = FakeUpstream(signed_list(1))
    cache, verifier, _, _ = make(tmp_path, up)
    await cache.refresh_trust()
    hotel = Principal("hotel", "CN-SH")
    for version in (1, 2):  # 2: published moments ago, not in this trust list
        for outcome, fields, detail in (
                ("NOT_ACCEPTED_FOR_PURPOSE", '{"name": "x"}', "cn.driving_licence is not accepted for hotel_check_in"),
                ("VALID", '{"name": "x", "licence_class": "C1"}', "")):  # an agreement newer than this list's
            token, _ = presentation.issue(KEY, iss="CN-ZJ", credential_cti=credential.new_cti(), now=T0)
            up.answer = Resolved(outcome, "ID", "cn.driving_licence", version, "CN-ZJ", T0, T0 + 1, "1.2.3", fields,
                                 detail=detail)
            assert (await verifier.verify(hotel, token)).res == up.answer, (version, outcome)


# -- the trail ----------------------------------------------------------------------------------

class SpyTrail:
    """The outbox, as the domain sees it: each request's checks, as recorded."""

    def __init__(self):
        self.records: list[tuple] = []

    def record(self, actor, purpose, at, checks) -> None:
        self.records.append((actor.role, purpose, at, {region: list(pairs) for region, pairs in checks.items()}))


async def test_which_checks_the_trail_keeps_is_the_domains_rule(tmp_path):
    """An EC1 credential whose signature verified is kept for its region, whatever its outcome; a
    forgery (it names nobody's credential), one signed with another region's key and a show code
    (its region records it as it resolves it) are not. A picture's codes are kept in one go, and
    the picture's request is admitted once, by its caller."""
    up = FakeUpstream(signed_list(1))
    up.status = status_list(7)
    cache, _, _, clock = make(tmp_path, up)
    spy = SpyTrail()
    verifier = Verifier(cache, now=clock, trail=spy)
    await cache.refresh_trust()
    valid, revoked = ec1(idx=5), ec1(idx=7)
    ts = TypeSchema(DL["id"], DL["version"], DL["name"], DL["schema"], DL["disclosure"])
    elsewhere = credential.issue(KEY, iss="CN-SH", iat=T0, exp=T0 + 86400, cti=credential.new_cti(), type_id=DL["id"],
                                 type_version=1, fields=ts.to_cbor(driving_licence()), status_uri=URI, status_idx=1)
    token, _ = presentation.issue(KEY, iss="CN-ZJ", credential_cti=credential.new_cti(), now=T0)
    up.answer = Resolved("VALID", "ID", "cn.driving_licence", 1, "CN-ZJ", T0, T0 + 1, "1.2.3", "{}")
    outcomes = [(await verifier.verify(OFFICER, text)).res.outcome for text in (valid, revoked, "EC1:NOTHING",
                                                                                  elsewhere, token)]
    assert outcomes == ["VALID", "REVOKED", "BASE45_INVALID", "ISSUER_MISMATCH", "VALID"]
    purpose = "roadside_driver_check"
    assert [(r[0], r[1], r[2]) for r in spy.records] == [("traffic_police", purpose, T0)] * 2
    (zj_valid,), (zj_revoked,) = (r[3]["CN-ZJ"] for r in spy.records)
    assert (zj_valid[1], zj_revoked[1]) == ("VALID", "REVOKED") and zj_valid[0] != zj_revoked[0]
    assert all(type(r) is str for _, r in (zj_valid, zj_revoked))  # the outcome's text, as the outbox writes it
    assert Verifier.recorded(Unverified(Outcome.REGION_UNAVAILABLE, "")) is None

    async def decoded(data):
        return [valid, "EC1:NOTHING", revoked, token]

    def admitted_twice(*args):
        raise AssertionError("admitted again")

    verifier.decode_image, verifier.admit = decoded, admitted_twice
    spy.records.clear()
    verdicts = await verifier.verify_image(OFFICER, b"a picture", Purpose.ROADSIDE_DRIVER_CHECK)
    assert [v.res.outcome for v in verdicts] == ["VALID", "BASE45_INVALID", "REVOKED", "VALID"]
    assert len(spy.records) == 1 and [r for _, r in spy.records[0][3]["CN-ZJ"]] == ["VALID", "REVOKED"]
