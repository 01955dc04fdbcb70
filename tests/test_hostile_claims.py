"""The hostile corpus of findings 2 and 4 (signed half): correctly signed credentials whose numbers
are out of range, and CBOR the formats do not use (map keys of other kinds, nbf null, text sent as
byte strings, tags, duplicate keys). Each case has its expected answer, on the C fast path and on
the reference path alike, and a batch answers only the bad payload with its outcome, never a 5xx."""

from __future__ import annotations

import json
import time
from importlib import resources

import cbor2
import pytest

from ecert.errors import Outcome
from ecert.format import b45, cose, credential, presentation, trustlist
from ecert.format.keys import ES256, SigningKey
from ecert.rules import verify
from ecert.rules.trust import TrustList
from testkit.samples import driving_licence
from tests import forge
from tests.conftest import bearer

NOW = 1_790_000_000
KEY = SigningKey.generate(ES256)
CLAIMS_MALFORMED, COSE_MALFORMED = Outcome.CLAIMS_MALFORMED, Outcome.COSE_MALFORMED
YEAR_10000 = 253_402_300_800  # 10000-01-01T00:00:00Z


@pytest.fixture(scope="module")
def trust() -> TrustList:
    root = SigningKey.generate()
    path = resources.files("ecert.rules") / "catalogue" / "cn.driving_licence.v1.json"
    doc = json.loads(path.read_text("utf-8"))
    payload = {"v": 1, "iat": NOW, "exp": NOW + 3600,
               "types": [{"id": doc["id"], "v": doc["version"], "name": doc["name"],
                          "schema": json.dumps(doc["schema"]), "disclosure": doc["disclosure"]}],
               "regions": [{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "", "keys": [
                   {"kid": KEY.kid, "alg": KEY.alg, "spki": KEY.public.spki, "nbf": 0, "exp": 2**40,
                    "status": "active"}]}]}
    return TrustList.from_signed(trustlist.sign(root, payload), root.public)


def corpus(key: SigningKey = KEY, now: int = NOW) -> list[tuple[str, str, Outcome]]:
    """(name, EC1 text, expected outcome): every case is signed by ``key`` (of CN-ZJ) at ``now``."""

    def base_claims() -> dict:
        return forge.claims("CN-ZJ", iat=now, exp=now + 86400, cti=bytes(range(16)))

    def with_claim(label, value, key=key) -> str:
        c = base_claims()
        c[label] = value
        return forge.sign(key, c)

    def with_ecert(member: str, value, key=key) -> str:
        c = base_claims()
        c[credential.CLAIM_ECERT] = {**c[credential.CLAIM_ECERT], member: value}
        return forge.sign(key, c)

    def with_field(name: str, value, key=key) -> str:
        c = base_claims()
        ec = c[credential.CLAIM_ECERT]
        c[credential.CLAIM_ECERT] = {**ec, "d": {**ec["d"], name: value}}
        return forge.sign(key, c)

    def with_status(idx, key=key) -> str:
        return with_claim(credential.CLAIM_STATUS,
                          {"status_list": {"idx": idx, "uri": "urn:ecert:status:CN-ZJ:1"}}, key)

    def with_protected(protected: bytes, key=key) -> str:
        """A COSE_Sign1 with these protected-header bytes, correctly signed over them."""
        payload = cbor2.dumps(base_claims())
        sig = key.sign(cose.sig_structure(protected, payload))
        return credential.encode_text(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig])))

    def with_entry(raw_key: bytes, raw_value: bytes, key=key) -> str:
        """The claims map with one more entry, as raw CBOR (a Python dict would merge True and 1)."""
        good = cbor2.dumps(base_claims())
        assert 0xa0 <= good[0] < 0xb7
        return credential.encode_text(cose.sign1(key, bytes([good[0] + 1]) + good[1:] + raw_key + raw_value))

    def with_payload(payload: bytes, key=key) -> str:
        return credential.encode_text(cose.sign1(key, payload))

    kid_head = b"\x04" + cbor2.dumps(key.kid)  # 4: kid
    good = cbor2.dumps(base_claims())
    return [
        ("valid", forge.sign(key, base_claims()), Outcome.VALID),
        # Finding 2: numbers out of range (epoch seconds of 1970..9999; versions 1..10000).
        ("exp-year-10000", with_claim(4, YEAR_10000), CLAIMS_MALFORMED),
        ("exp-last-second-of-9999", with_claim(4, YEAR_10000 - 1), Outcome.VALID),
        ("exp-before-1970", with_claim(4, -1), CLAIMS_MALFORMED),
        ("exp-2^63", with_claim(4, 2**63), CLAIMS_MALFORMED),
        ("exp-2^64-1", with_claim(4, 2**64 - 1), CLAIMS_MALFORMED),
        ("exp-minus-2^64", with_claim(4, -2**64), CLAIMS_MALFORMED),
        ("nbf-year-10000", with_claim(5, YEAR_10000), CLAIMS_MALFORMED),
        ("nbf-before-1970", with_claim(5, -86400), CLAIMS_MALFORMED),
        ("nbf-2^63", with_claim(5, 2**63), CLAIMS_MALFORMED),
        ("nbf-zero", with_claim(5, 0), Outcome.VALID),
        # iat outside the signing key's window is that check's answer (row 10 before row 11)...
        ("iat-2^63", with_claim(6, 2**63), Outcome.KEY_NOT_VALID_AT_IAT),
        ("iat-before-1970", with_claim(6, -5), Outcome.KEY_NOT_VALID_AT_IAT),
        ("type-version-2^70", with_ecert("v", 2**70), CLAIMS_MALFORMED),
        ("type-version-2^31", with_ecert("v", 2**31), CLAIMS_MALFORMED),
        ("type-version-0", with_ecert("v", 0), CLAIMS_MALFORMED),
        ("type-version-minus-1", with_ecert("v", -1), CLAIMS_MALFORMED),
        ("type-version-10000", with_ecert("v", 10000), Outcome.TYPE_UNKNOWN),
        ("type-version-10001", with_ecert("v", 10001), CLAIMS_MALFORMED),
        ("status-idx-2^64-1", with_status(2**64 - 1), CLAIMS_MALFORMED),
        ("status-idx-2^26", with_status(2**26), CLAIMS_MALFORMED),
        ("status-idx-last", with_status(2**26 - 1), Outcome.VALID),
        # Finding 4: CBOR outside the formats' subset.
        ("alg-under-key-true", with_protected(b"\xa2\xf5\x26" + kid_head), COSE_MALFORMED),
        ("alg-under-key-1.0", with_protected(b"\xa2\xf9\x3c\x00\x26" + kid_head), COSE_MALFORMED),
        ("alg-under-bignum-key", with_protected(b"\xa2\xc2\x41\x01\x26" + kid_head), COSE_MALFORMED),
        ("alg-twice", with_protected(b"\xa3\x01\x26\x01\x26" + kid_head), COSE_MALFORMED),
        ("kid-under-text-key", with_protected(b"\xa2\x01\x26\x614" + cbor2.dumps(key.kid)), COSE_MALFORMED),
        ("header-key-null", with_protected(b"\xa3\x01\x26" + kid_head + b"\xf6\x00"), COSE_MALFORMED),
        ("header-key-bytes", with_protected(b"\xa3\x01\x26" + kid_head + b"\x41\x01\x00"),
         COSE_MALFORMED),
        ("nbf-null", with_claim(5, None), CLAIMS_MALFORMED),
        ("claims-key-true", with_entry(b"\xf5", b"\x61x"), CLAIMS_MALFORMED),
        ("claims-key-float", with_entry(b"\xf9\x46\x00", b"\x00"), CLAIMS_MALFORMED),  # 6.0: 0
        ("claims-key-null", with_entry(b"\xf6", b"\x00"), CLAIMS_MALFORMED),
        ("claims-key-bytes", with_entry(b"\x41\x01", b"\x65CN-ZJ"), CLAIMS_MALFORMED),
        ("claims-key-array", with_entry(b"\x81\x01", b"\x00"), CLAIMS_MALFORMED),
        ("claims-exp-bignum", with_payload(good.replace(b"\x04\x1a", b"\x04\xc2\x44", 1)), CLAIMS_MALFORMED),
        ("claims-exp-twice", with_entry(b"\x04", b"\x00"), CLAIMS_MALFORMED),
        ("claims-tag-in-field", with_field("points", cbor2.CBORTag(2, b"\x01")), CLAIMS_MALFORMED),
        ("iss-as-bytes", with_claim(1, b"CN-ZJ"), CLAIMS_MALFORMED),
        ("type-as-bytes", with_ecert("t", b"cn.driving_licence"), CLAIMS_MALFORMED),
        ("status-uri-as-bytes", with_claim(credential.CLAIM_STATUS, {"status_list": {"idx": 1, "uri": b"u"}}),
         CLAIMS_MALFORMED),
        ("text-field-as-bytes", with_field("name", "王小明".encode()), CLAIMS_MALFORMED),
        ("text-field-as-hex-bytes", with_field("licence_class", b"\xc1"), CLAIMS_MALFORMED),
        ("digest-field-as-text", with_field("photo", driving_licence()["photo"]), CLAIMS_MALFORMED),
        ("unknown-field-as-bytes", with_field("extra", b"\x00"), CLAIMS_MALFORMED),
    ]


CASES = corpus()


@pytest.mark.parametrize("path", ["fast", "reference"])
@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_signed_credentials(trust, monkeypatch, path, name, text, expected):
    if path == "reference":
        monkeypatch.setattr(verify, "_decode_ec1", None)
    res = verify.check_credential(text, trust, NOW)
    assert res.outcome is expected, res.detail
    if expected is not Outcome.VALID:
        assert res.fields is None
    if res.claims is not None:  # what every answer writes: int64 times, an int32 version, ISO dates
        assert 0 <= res.claims.iat <= credential.MAX_TIME and 0 <= res.claims.exp <= credential.MAX_TIME
        assert 1 <= res.claims.type_version <= 10000


def test_the_fast_path_bounds_are_the_references():
    fast = pytest.importorskip("ecert.format._fast", reason="the optional C extension is not built")
    from ecert.format import statuslist
    from ecert.limits import MAX_TYPE_VERSION
    assert (fast.MAX_TIME, fast.MAX_TYPE_VERSION, fast.MAX_STATUS_IDX) == \
        (credential.MAX_TIME, MAX_TYPE_VERSION, credential.MAX_STATUS_IDX)
    assert credential.MAX_STATUS_IDX == 4 * statuslist.MAX_LIST_BYTES - 1


@pytest.mark.parametrize("iat,exp,expected", [
    (NOW, NOW + 300, Outcome.VALID), (NOW, YEAR_10000, CLAIMS_MALFORMED), (-300, 0, CLAIMS_MALFORMED),
    (2**63, 2**63 + 300, CLAIMS_MALFORMED)])
def test_presentation_token_times(trust, iat, exp, expected):
    payload = {1: "CN-ZJ", 6: iat, 4: exp, 7: bytes(16), presentation.CLAIM_REF: {"c": bytes(16)}}
    text = "EP1:" + b45.encode(cose.sign1(KEY, cbor2.dumps(payload)))
    # iat outside the key's window [0, 2^40) answers KEY_NOT_VALID_AT_IAT first
    want = Outcome.KEY_NOT_VALID_AT_IAT if not 0 <= iat < 2**40 else expected
    assert verify.check_token(text, trust, NOW).outcome is want


# -- through the gateway: one bad payload in a batch gets its outcome, the rest are answered -------

@pytest.mark.asyncio(loop_scope="session")
async def test_hostile_payloads_alone_and_in_a_batch_through_the_gateway(http, keys, suite):
    key = suite.issuers["CN-ZJ"].key
    cases = corpus(key, int(time.time()))
    for name, text, expected in cases:
        r = await http.post("/v1/verifications", json={"payload": text}, headers=bearer(keys["admin"]))
        body = await r.json()
        assert r.status == 200, (name, body)
        assert body["result"] == expected.value, (name, body)
    by_name = {n: t for n, t, _ in cases}
    payloads = [by_name["valid"]] * 600 + [by_name["exp-2^63"]] + [by_name["valid"]] * 399
    r = await http.post("/v1/verifications:batch", json={"payloads": payloads}, headers=bearer(keys["police"]))
    body = await r.json()
    assert r.status == 200, body
    results = [x["result"] for x in body["results"]]
    assert results[600] == "CLAIMS_MALFORMED" and results.count("VALID") == 999
    r = await http.post("/v1/verifications:batch", json={"payloads": [t for _, t, _ in cases]},
                        headers=bearer(keys["police"]))
    assert r.status == 200
    assert [x["result"] for x in (await r.json())["results"]] == [e.value for _, _, e in cases]
