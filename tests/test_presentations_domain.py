"""Show codes (EP1) in the issuer's rules, without a server: a real SQLite store, the registry
faked, the clock moved by hand. Made for a valid credential, kept while live (its text only
then), answered once, limited to the purpose the holder chose, refused by the issuer itself
when a verifier's clock lets a stale one through, and recorded in the credential's trail."""

from __future__ import annotations

import asyncio
import json
import types

import cbor2
import pytest
import pytest_asyncio

from ecert.clock import FixedClock
from ecert.errors import Conflict, InvalidRequest, NotFound, Outcome, PermissionDenied
from ecert.format import cose, presentation
from ecert.format.credential import id_to_cti
from ecert.format.keys import SigningKey
from ecert.rules.access import Principal
from ecert.store import default_uri, open_store
from ecert.vocab import StatusAction, TrailAction
from services.issuer import presentations as codes
from services.issuer.domain import Issuer
from testkit import photos
from testkit.samples import SAMPLES
from tests.test_issuer_domain import BUILTIN, DAY, T0, FakeRegistry

pytestmark = pytest.mark.asyncio(loop_scope="session")

ZJ = Principal("agency", "CN-ZJ", "key_zj", "浙江省公安厅")
SH = Principal("agency", "CN-SH", "key_sh", "上海市公安局")
HOTEL = Principal("hotel", "CN-SH", "key_hotel", "和平饭店")
INTEGRATOR = Principal("integrator", "", "key_int", "某某科技")
ID_CARD = next(t for t in BUILTIN if t.id == "cn.resident_id")


class TrailSpy:
    """What the issuer appends to the trail, in order, passed on to its own trail when it has one
    (which answers everything else asked of the trail)."""

    def __init__(self, real=None):
        self.real = real
        self.entries: list[dict] = []

    def __getattr__(self, name: str):
        if self.real is None:
            raise AttributeError(name)
        return getattr(self.real, name)

    async def append(self, **entry) -> dict:
        self.entries.append(entry)
        if self.real is not None:
            return await self.real.append(**entry)
        return entry

    def of(self, action: TrailAction) -> list[dict]:
        return [e for e in self.entries if e["action"] == action]


def spy_on(issuer: Issuer) -> TrailSpy:
    spy = TrailSpy(getattr(issuer, "trail", None))
    issuer.trail = spy
    return spy


@pytest_asyncio.fixture
async def env(tmp_path):
    store = await open_store(default_uri(tmp_path))
    await photos.hold_sample_photos(store, ["CN-ZJ"])
    clock = FixedClock(T0)
    issuer = Issuer("CN-ZJ", store, SigningKey.generate(), FakeRegistry(), default_valid_days=365, status_ttl=10,
                    now=clock, monotonic=FixedClock(1000))
    trail = spy_on(issuer)
    yield types.SimpleNamespace(store=store, clock=clock, issuer=issuer, trail=trail)
    await store.close()


async def _card(issuer: Issuer, **fields) -> dict:
    return await issuer.issue(ZJ, "cn.resident_id", 0, json.dumps({**SAMPLES["cn.resident_id"], **fields}), 0, "")


def claims(token: str) -> presentation.TokenClaims:
    """A token's claims, read without checking its signature."""
    return presentation.parse_claims(cbor2.loads(cose.parse_sign1(presentation.decode_text(token)).payload))


def _ctis(shown) -> tuple[bytes, bytes]:
    return bytes.fromhex(shown.token_id), id_to_cti(shown.credential_id)


# -- making and keeping ----------------------------------------------------------------------

async def test_a_code_is_kept_while_live_and_drawn_until_it_is_used(env):
    i = env.issuer
    card = await _card(i)
    shown = await i.show(ZJ, card["_id"])
    assert shown.token.startswith("EP1:") and shown.credential_id == card["_id"] and shown.purpose == ""
    assert (shown.issued_at, shown.expires_at) == (T0, T0 + presentation.MAX_TTL)
    assert presentation.looks_like_token_id(shown.token_id)
    tok = claims(shown.token)
    assert tok.cti.hex() == shown.token_id and tok.credential_cti == id_to_cti(card["_id"])
    stored = await env.store.get_presentation(shown.token_id)
    assert stored["text"] == shown.token and stored["state"] == codes.LIVE and stored["region"] == "CN-ZJ"
    assert await i.shown(ZJ, card["_id"], shown.token_id) == shown
    assert await i.shown(ZJ, card["_id"], shown.token_id.upper()) == shown  # hex in either case

    r = await i.resolve(HOTEL, *_ctis(shown))
    assert r.outcome is Outcome.VALID
    with pytest.raises(NotFound) as err:
        await i.shown(ZJ, card["_id"], shown.token_id)
    assert err.value.code == "PRESENTATION_USED"
    env.clock.advance(presentation.MAX_TTL)
    assert await i.show_codes.sweep(env.clock()) == 1  # the background sweep: no text kept past its life
    stored = await env.store.get_presentation(shown.token_id)
    assert stored["state"] == codes.EXPIRED and stored["text"] == "" and shown.token not in json.dumps(stored)
    with pytest.raises(NotFound) as err:
        await i.shown(ZJ, card["_id"], shown.token_id)
    assert err.value.code == "PRESENTATION_USED"


async def test_a_code_expires_and_its_text_is_swept(env):
    i = env.issuer
    card = await _card(i)
    first = await i.show(ZJ, card["_id"])
    env.clock.advance(presentation.MAX_TTL - 1)
    assert (await i.shown(ZJ, card["_id"], first.token_id)).token == first.token
    env.clock.advance(1)  # exp itself: no longer drawn
    with pytest.raises(NotFound) as err:
        await i.shown(ZJ, card["_id"], first.token_id)
    assert err.value.code == "PRESENTATION_EXPIRED"
    second = await i.show(ZJ, card["_id"])  # making a code sweeps nothing: that is the background's job
    assert (await env.store.get_presentation(first.token_id))["text"] == first.token  # until the next sweep
    assert await i.show_codes.sweep(env.clock()) == 1
    swept = await env.store.get_presentation(first.token_id)
    assert swept["state"] == codes.EXPIRED and swept["text"] == ""
    assert (await env.store.get_presentation(second.token_id))["state"] == codes.LIVE
    assert second.token_id != first.token_id and second.token != first.token


async def test_who_may_make_and_draw_a_code(env):
    i = env.issuer
    card = await _card(i)
    for p in (Principal("hotel"), Principal("traffic_police", "CN-ZJ"), SH):
        with pytest.raises(PermissionDenied):
            await i.show(p, card["_id"])
    shown = await i.show(Principal("admin"), card["_id"])
    assert (await i.shown(Principal("admin"), card["_id"], shown.token_id)).token == shown.token
    with pytest.raises(PermissionDenied):
        await i.shown(SH, card["_id"], shown.token_id)
    other = await _card(i)
    for cred, token_id in ((other["_id"], shown.token_id), (card["_id"], "0" * 32), (card["_id"], "not-hex"),
                           (card["_id"], shown.token_id + "00")):
        with pytest.raises(NotFound) as err:  # another credential's code, an unknown or malformed id
            await i.shown(ZJ, cred, token_id)
        assert err.value.code == "NOT_FOUND"


async def test_only_a_valid_current_credential_is_shown(env):
    i = env.issuer
    suspended, short = await _card(i), await i.issue(ZJ, "cn.resident_id", 0, json.dumps(SAMPLES["cn.resident_id"]), 1, "")
    await i.change_status(ZJ, suspended["_id"], StatusAction.SUSPEND)
    with pytest.raises(Conflict) as err:
        await i.show(ZJ, suspended["_id"])
    assert err.value.code == "STATUS_CONFLICT"
    shown = await i.show(ZJ, short["_id"])
    await i.change_status(ZJ, short["_id"], StatusAction.REVOKE)
    with pytest.raises(Conflict) as err:  # revoked after it was made: it is not drawn again
        await i.shown(ZJ, short["_id"], shown.token_id)
    assert err.value.code == "STATUS_CONFLICT"
    other = await i.issue(ZJ, "cn.resident_id", 0, json.dumps(SAMPLES["cn.resident_id"]), 1, "")
    env.clock.advance(DAY)
    with pytest.raises(Conflict) as err:
        await i.show(ZJ, other["_id"])
    assert err.value.code == "CREDENTIAL_EXPIRED"


async def test_the_holders_purpose_must_be_one_of_the_purposes(env):
    card = await _card(env.issuer)
    for purpose in ("sightseeing", "Hotel_Check_In", "x" * 201):
        with pytest.raises(InvalidRequest) as err:
            await env.issuer.show(ZJ, card["_id"], purpose)
        assert err.value.field == "purpose"
    assert (await env.issuer.show(ZJ, card["_id"], "hotel_check_in")).purpose == "hotel_check_in"


# -- answering -------------------------------------------------------------------------------

async def test_a_code_answers_once_with_the_fields_of_the_callers_role(env):
    i = env.issuer
    card = await _card(i)
    shown = await i.show(ZJ, card["_id"])
    first = await i.resolve(HOTEL, *_ctis(shown), "hotel_check_in")
    assert first.outcome is Outcome.VALID and first.fields == ID_CARD.disclosed("hotel", card["fields"])
    assert "issuing_authority" not in first.fields and first.detail == ""
    again = await i.resolve(Principal("traffic_police", "CN-JS"), *_ctis(shown))
    assert again.outcome is Outcome.TOKEN_ALREADY_USED and again.fields == {}
    other = await i.show(ZJ, card["_id"])
    sh_agency = await i.resolve(SH, *_ctis(other))  # another region's agency: the role the type names
    assert sh_agency.outcome is Outcome.VALID and sh_agency.fields == ID_CARD.disclosed("integrator", card["fields"])


async def test_a_code_limited_to_a_purpose_serves_no_other(env):
    i = env.issuer
    card = await _card(i)
    hotel_only = await i.show(ZJ, card["_id"], "hotel_check_in")
    r = await i.resolve(INTEGRATOR, *_ctis(hotel_only), "general")
    assert r.outcome is Outcome.NOT_ACCEPTED_FOR_PURPOSE
    assert r.fields == ID_CARD.identified("integrator", card["fields"])  # who, no more
    assert "hotel_check_in" in r.detail and "general" in r.detail
    assert (await i.resolve(INTEGRATOR, *_ctis(hotel_only), "hotel_check_in")).outcome is Outcome.TOKEN_ALREADY_USED
    # the purpose the role checks for when it names none: a hotel's is hotel check-in
    assert (await i.resolve(HOTEL, *_ctis(await i.show(ZJ, card["_id"], "hotel_check_in")))).outcome is Outcome.VALID
    # a code limited to nothing serves every purpose
    assert (await i.resolve(INTEGRATOR, *_ctis(await i.show(ZJ, card["_id"])), "general")).outcome is Outcome.VALID
    # the status still comes first
    limited = await i.show(ZJ, card["_id"], "hotel_check_in")
    await i.change_status(ZJ, card["_id"], StatusAction.REVOKE)
    assert (await i.resolve(INTEGRATOR, *_ctis(limited), "general")).outcome is Outcome.REVOKED
    with pytest.raises(PermissionDenied):  # a purpose the role may not name
        await i.resolve(HOTEL, *_ctis(await i.show(Principal("admin"), (await _card(i))["_id"])),
                        "roadside_driver_check")


async def test_the_issuer_refuses_a_stale_code_a_slow_clock_let_through(env):
    i = env.issuer
    card = await _card(i)
    late, later = await i.show(ZJ, card["_id"]), await i.show(ZJ, card["_id"])
    env.clock.advance(presentation.MAX_TTL + codes.EXPIRY_GRACE - 1)
    assert (await i.resolve(HOTEL, *_ctis(late))).outcome is Outcome.VALID  # within the verifiers' skew
    env.clock.advance(1)
    r = await i.resolve(HOTEL, *_ctis(later))
    assert r.outcome is Outcome.EXPIRED and r.fields == {} and "expired" in r.detail
    # a token the issuer never kept (signed by its key, made by hand) is still answered
    hand_made, _ = presentation.issue(i.key, iss="CN-ZJ", credential_cti=id_to_cti(card["_id"]), now=env.clock())
    tok = claims(hand_made)
    assert (await i.resolve(HOTEL, tok.cti, tok.credential_cti)).outcome is Outcome.VALID


# -- the trail -------------------------------------------------------------------------------

async def test_making_and_every_look_up_are_recorded_without_personal_data(env):
    i = env.issuer
    card = await _card(i, name="林晓雯")
    before = len(env.trail.entries)
    shown = await i.show(ZJ, card["_id"], "hotel_check_in")
    await i.resolve(HOTEL, *_ctis(shown))
    await i.resolve(INTEGRATOR, *_ctis(shown), "general")
    entries = env.trail.entries[before:]
    assert [(e["action"], e.get("outcome", "")) for e in entries] == [
        (TrailAction.PRESENT, ""), (TrailAction.RESOLVE, "VALID"), (TrailAction.RESOLVE, "TOKEN_ALREADY_USED")]
    assert all(e["credential_id"] == card["_id"] and e["at"] == T0 for e in entries)
    assert [e["actor"] for e in entries] == [ZJ, HOTEL, INTEGRATOR]
    assert [e["purpose"] for e in entries] == ["hotel_check_in", "hotel_check_in", "general"]
    # in the region's chain, after the issuance, as the holder's access log lists them
    log = (await env.trail.real.access_log(ZJ, card["_id"])).entries
    assert [(e["action"], e["result"], e["purpose"], e["actor_org"], e["actor_region"]) for e in log] == [
        ("issue", "valid", "", "浙江省公安厅", "CN-ZJ"), ("present", "", "hotel_check_in", "浙江省公安厅", "CN-ZJ"),
        ("resolve", "VALID", "hotel_check_in", "和平饭店", "CN-SH"),
        ("resolve", "TOKEN_ALREADY_USED", "general", "某某科技", "")]
    text = repr(entries) + repr(log)
    for value in ("林晓雯", card["fields"]["id_number"], shown.token, shown.token_id):
        assert value not in text


async def test_a_sweep_drops_every_expired_text_however_many_and_runs_in_the_background(env, monkeypatch):
    i = env.issuer
    card = await _card(i)
    monkeypatch.setattr(codes, "SWEEP_BATCH", 3)  # a look reads the store 3 codes at a time
    made = [await i.show(ZJ, card["_id"]) for _ in range(10)]
    env.clock.advance(1)
    fresh = await i.show(ZJ, card["_id"])
    env.clock.advance(presentation.MAX_TTL - 1)  # the first ten have expired, the last has not
    assert await i.show_codes.sweep(env.clock()) == 10
    assert [(await env.store.get_presentation(s.token_id))["text"] for s in made] == [""] * 10
    assert (await env.store.get_presentation(fresh.token_id))["text"] == fresh.token
    assert await i.show_codes.sweep(env.clock()) == 0
    # the process runs it every SWEEP_EVERY seconds, off the request path
    monkeypatch.setattr(codes, "SWEEP_EVERY", 0.01)
    task = asyncio.get_running_loop().create_task(i.show_codes.keep_swept(env.clock))
    try:
        env.clock.advance(1)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if (await env.store.get_presentation(fresh.token_id))["text"] == "":
                break
        assert (await env.store.get_presentation(fresh.token_id))["state"] == codes.EXPIRED
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
