"""Issue 11 at the verification recipe (``ecert.rules.verify``): the document's own validity in China
time, warnings for lapsed secondary dates, the recognition rules for the purpose of a check, and
the fields that still say who presented an authentic credential that is not current.

Credentials are signed here directly (not through the issuer), as one issued before these checks
existed would be: verification alone must refuse an expired document."""

from __future__ import annotations

import calendar
import json

import cbor2
import pytest

from ecert.errors import Outcome
from ecert.format import credential, statuslist, trustlist
from ecert.format.keys import SigningKey
from ecert.rules import verify
from ecert.rules.acceptance import Rules, default_rules
from ecert.rules.catalogue import builtin_types
from ecert.rules.document import DocumentDate
from ecert.rules.trust import TrustList, TrustListError
from ecert.vocab import Purpose
from testkit.samples import SAMPLES

ROOT, ZJ, FJ = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
TYPES = {t["id"]: t for t in builtin_types()}
NOW = calendar.timegm((2026, 12, 1, 4, 0, 0))  # 2026-12-01 12:00 China time
URI = "urn:ecert:status:CN-ZJ:1"


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return calendar.timegm((y, m, d, hh, mm, ss))


def trust_list(rules: dict | None = None, *, version: int = 3) -> TrustList:
    keys = lambda k: [{"kid": k.kid, "alg": k.alg, "spki": k.spki, "nbf": utc(2000, 1, 1),  # noqa: E731
                       "exp": utc(2099, 1, 1), "status": "active"}]
    payload = {"v": version, "iat": NOW, "exp": NOW + 86400 * 3650,
               "regions": [{"code": "CN-ZJ", "name": "浙江省 / Zhejiang", "endpoint": "", "keys": keys(ZJ)},
                           {"code": "CN-FJ", "name": "福建省 / Fujian", "endpoint": "", "keys": keys(FJ)}],
               "types": [{"id": t["id"], "v": t["version"], "name": t["name"], "schema": t["schema"],
                          "disclosure": t["disclosure"]} for t in TYPES.values()],
               "rules": default_rules().to_payload() if rules is None else rules}
    return TrustList.from_signed(trustlist.sign(ROOT, payload), ROOT.public)


TRUST = trust_list()


def sign(type_id: str, *, region: str = "CN-ZJ", key: SigningKey = ZJ, iat: int = utc(2026, 1, 1),
         exp: int = utc(2031, 1, 1), idx: int | None = None, **overrides) -> str:
    ts = TRUST.types[(type_id, 1)]
    fields = {**SAMPLES[type_id], **overrides}
    return credential.issue(key, iss=region, iat=iat, exp=exp, cti=credential.new_cti(), type_id=type_id,
                            type_version=1, fields=ts.to_cbor(fields),
                            status_uri=None if idx is None else URI, status_idx=idx)


def check(text: str, now: int = NOW, *, purpose: str = Purpose.GENERAL, region: str = "", trust: TrustList = TRUST,
          status: statuslist.StatusList | None = None) -> verify.Result:
    return verify.verify(text, trust, now, purpose=purpose, caller_region=region,
                         status_lists=lambda uri: status)


def validity(type_id: str) -> tuple[str | None, str | None]:
    v = TYPES[type_id]["schema"] if isinstance(TYPES[type_id]["schema"], dict) else json.loads(TYPES[type_id]["schema"])
    x = v.get("x-validity") or {}
    return x.get("from"), x.get("until")


MAIN_VALIDITY = [t for t in TYPES if validity(t)[1]]
NON_IDENTITY = [t for t in TYPES if t not in ("cn.resident_id", "cn.residence_permit")]


def test_the_catalogue_names_a_main_validity_where_the_document_has_one():
    assert set(MAIN_VALIDITY) == {"cn.resident_id", "cn.driving_licence", "cn.residence_permit",
                                  "cn.road_transport_certificate", "cn.social_security_card",
                                  "cn.transport_qualification"}


@pytest.mark.parametrize("type_id", MAIN_VALIDITY)
def test_a_document_ending_tomorrow_is_valid_today_and_expired_the_day_after(type_id):
    _, until = validity(type_id)
    text = sign(type_id, **{until: "2026-12-02"})
    valid = check(text)
    assert valid.outcome is Outcome.VALID and valid.document is None  # 2026-12-01, China time
    last_second = utc(2026, 12, 2, 15, 59, 59)  # 2026-12-02 23:59:59 in China
    assert check(text, last_second).outcome is Outcome.VALID
    res = check(text, last_second + 1)  # 2026-12-03 00:00:00 in China
    assert res.outcome is Outcome.EXPIRED and until in res.detail
    assert res.document == DocumentDate(until, "2026-12-02")  # the decision as data, beside the detail
    assert res.claims is not None and res.claims.exp > last_second  # the credential itself had not expired


@pytest.mark.parametrize("type_id", MAIN_VALIDITY)
def test_a_document_starting_tomorrow_is_not_yet_valid_until_its_day_begins_in_china(type_id):
    start, until = validity(type_id)
    text = sign(type_id, **{start: "2026-12-02", until: "2030-12-02"})
    res = check(text, utc(2026, 12, 1, 15, 59, 59))
    assert res.outcome is Outcome.NOT_YET_VALID and start in res.detail
    assert res.document == DocumentDate(start, "2026-12-02")
    assert check(text, utc(2026, 12, 1, 16, 0, 0)).outcome is Outcome.VALID


def test_an_open_ended_document_never_expires_by_its_dates():
    text = sign("cn.resident_id", valid_until="长期")
    assert check(text, utc(2030, 12, 31)).outcome is Outcome.VALID


def test_a_long_expired_identity_card_is_expired_even_with_a_credential_valid_until_2032():
    text = sign("cn.resident_id", valid_from="2005-01-01", valid_until="2015-01-01", exp=utc(2032, 1, 1))
    res = check(text)
    assert res.outcome is Outcome.EXPIRED and "valid_until" in res.detail


def test_an_overdue_inspection_is_valid_with_a_warning_the_police_see_and_a_hotel_does_not():
    text = sign("cn.vehicle_licence", inspection_valid_until="2026-03-31")
    res = check(text, purpose=Purpose.ROADSIDE_VEHICLE_CHECK, region="CN-JS")
    assert res.outcome is Outcome.VALID
    assert [tuple(w) for w in res.warnings] == [("INSPECTION_OVERDUE", "inspection_valid_until", "2026-03-31")]
    police = res.shown("traffic_police")
    assert res.shown_warnings(police) == res.warnings
    hotel = check(text, purpose=Purpose.HOTEL_CHECK_IN)
    assert hotel.outcome is Outcome.NOT_ACCEPTED_FOR_PURPOSE and not hotel.warnings
    assert res.shown_warnings(res.shown("hotel")) == ()  # the hotel sees no vehicle field at all
    # The day it covers is still fine, to its last second in China.
    assert check(text, utc(2026, 3, 31, 15, 59, 59), purpose=Purpose.ROADSIDE_VEHICLE_CHECK).warnings == ()


def test_a_business_term_that_ended_is_a_warning_and_long_term_never_is():
    ended = check(sign("cn.business_licence", business_term_until="2026-06-30"), purpose=Purpose.BUSINESS_CHECK)
    assert ended.outcome is Outcome.VALID and [w.code for w in ended.warnings] == ["BUSINESS_TERM_ENDED"]
    forever = check(sign("cn.business_licence", business_term_until="长期"), purpose=Purpose.BUSINESS_CHECK)
    assert forever.outcome is Outcome.VALID and forever.warnings == ()


@pytest.mark.parametrize("type_id", NON_IDENTITY)
def test_a_hotel_scanning_a_non_identity_type_gets_not_accepted_and_at_most_a_name(type_id):
    res = check(sign(type_id), purpose=Purpose.HOTEL_CHECK_IN)
    assert res.outcome is Outcome.NOT_ACCEPTED_FOR_PURPOSE and "hotel_check_in" in res.detail
    shown = res.shown("hotel")
    assert set(shown) <= {"name"} and shown == res.type.identified("hotel", res.fields)
    withheld = set(res.type.disclosed("hotel", res.fields)) - {"name"}  # what it would see were it accepted
    assert not withheld & set(shown)


@pytest.mark.parametrize("type_id", ["cn.resident_id", "cn.residence_permit"])
def test_a_hotel_scanning_an_identity_document_gets_valid(type_id):
    res = check(sign(type_id), purpose=Purpose.HOTEL_CHECK_IN)
    assert res.outcome is Outcome.VALID and res.shown("hotel")["name"] == SAMPLES[type_id]["name"]


def test_a_region_outside_the_agreement_is_recognised_only_once_the_rules_say_so():
    text = sign("cn.resident_id", region="CN-FJ", key=FJ)
    for region in ("", "CN-SH", "CN-FJ"):
        res = check(text, purpose=Purpose.HOTEL_CHECK_IN, region=region)
        assert res.outcome is Outcome.NOT_ACCEPTED_FOR_PURPOSE and "CN-FJ" in res.detail
    rules = default_rules().to_payload()
    rules["recognition"]["*"] = sorted({*rules["recognition"]["*"], "CN-FJ"})
    recognised = trust_list(rules, version=4)
    assert check(text, purpose=Purpose.HOTEL_CHECK_IN, trust=recognised).outcome is Outcome.VALID
    assert check(text, purpose=Purpose.HOTEL_CHECK_IN, region="CN-SH", trust=recognised).outcome \
        is Outcome.NOT_ACCEPTED_FOR_PURPOSE  # Shanghai's own entry still does not name it


def test_rules_altered_after_signing_are_refused():
    """The root's signature covers the rules: a list whose rules were changed afterwards (here a
    hotel made to accept vehicle licences), with the original signature kept, is refused."""
    outer = cbor2.loads(TRUST.signed)
    sign1 = outer.value if isinstance(outer, cbor2.CBORTag) else outer
    payload = cbor2.loads(sign1[2])
    payload["rules"]["purposes"]["hotel_check_in"].append("cn.vehicle_licence")
    altered = [sign1[0], sign1[1], cbor2.dumps(payload), sign1[3]]
    tampered = cbor2.dumps(cbor2.CBORTag(18, altered) if isinstance(outer, cbor2.CBORTag) else altered)
    with pytest.raises(TrustListError):
        TrustList.from_signed(tampered, ROOT.public)
    with pytest.raises(TrustListError):  # nor signed again by any key but the pinned root
        TrustList.from_signed(trustlist.sign(SigningKey.generate(), payload), ROOT.public)


def test_an_authentic_revoked_licence_still_says_who_and_a_forged_one_says_nothing():
    text = sign("cn.driving_licence", idx=5)
    bits = statuslist.build_bits([(5, statuslist.STATUS_VALUES["revoked"])], 64)
    sl = statuslist.parse(statuslist.sign(ZJ, uri=URI, bits=bits, iat=NOW, exp=NOW + 3600, ttl=60),
                          expected_uri=URI, region_keys=TRUST.keys_by_kid)
    res = check(text, purpose=Purpose.ROADSIDE_DRIVER_CHECK, status=sl)
    assert res.outcome is Outcome.REVOKED and res.document is None
    police = res.shown("traffic_police")
    assert police["name"] == SAMPLES["cn.driving_licence"]["name"] and "id_number" in police
    assert set(police) <= set(TYPES["cn.driving_licence"]["disclosure"]["traffic_police"])
    assert set(res.shown("hotel")) == {"name"}
    assert res.shown("integrator") == {}
    # Revoked wins over "not accepted": the officer learns first that it is revoked.
    assert check(text, purpose=Purpose.HOTEL_CHECK_IN, status=sl).outcome is Outcome.REVOKED

    forged = credential.issue(SigningKey.generate(), iss="CN-ZJ", iat=NOW, exp=NOW + 86400, cti=credential.new_cti(),
                              type_id="cn.driving_licence", type_version=1,
                              fields=TRUST.types[("cn.driving_licence", 1)].to_cbor(SAMPLES["cn.driving_licence"]))
    res = check(forged)
    assert res.outcome is Outcome.KID_UNKNOWN and res.shown("traffic_police") == {}


def test_a_credential_past_its_own_exp_still_says_who():
    text = sign("cn.resident_id", exp=utc(2026, 6, 1))
    res = check(text, purpose=Purpose.HOTEL_CHECK_IN)
    assert res.outcome is Outcome.EXPIRED and res.shown("hotel") == {"name": SAMPLES["cn.resident_id"]["name"]}
    assert res.detail == "expired" and res.document is None  # the credential's own exp decided, no date of the card
    early = check(sign("cn.resident_id", iat=utc(2027, 1, 1)))  # iat beyond the skew: the CWT's NOT_YET_VALID
    assert early.outcome is Outcome.NOT_YET_VALID and early.document is None


def test_without_a_purpose_the_recipe_judges_no_rules_but_still_warns():
    text = sign("cn.vehicle_licence", inspection_valid_until="2026-03-31")
    res = verify.verify(text, TRUST, NOW)
    assert res.outcome is Outcome.VALID and [w.code for w in res.warnings] == ["INSPECTION_OVERDUE"]


def test_a_trust_list_without_rules_uses_the_agreement_shipped_with_the_suite():
    payload = dict(trustlist.TrustList.from_signed(TRUST.signed, ROOT.public).payload)
    payload.pop("rules")
    old = TrustList.from_signed(trustlist.sign(ROOT, payload), ROOT.public)
    assert isinstance(old.acceptance, Rules)
    assert check(sign("cn.vehicle_licence"), purpose=Purpose.HOTEL_CHECK_IN, trust=old).outcome \
        is Outcome.NOT_ACCEPTED_FOR_PURPOSE


def test_a_credential_ending_with_its_document_names_the_field_when_it_expires():
    """The issuer ends exp with the document's last day (CST): both end at the same instant, and
    the answer still says which of the document's dates has passed."""
    end = utc(2026, 12, 2, 16, 0, 0)  # 2026-12-03 00:00 China time
    text = sign("cn.resident_id", valid_until="2026-12-02", exp=end)
    assert check(text, end - 1).outcome is Outcome.VALID
    res = check(text, end)
    assert res.outcome is Outcome.EXPIRED and "valid_until" in res.detail
    assert res.document == DocumentDate("valid_until", "2026-12-02")  # the CWT's exp, with the document's date
    assert res.shown("hotel") == {"name": SAMPLES["cn.resident_id"]["name"]}
