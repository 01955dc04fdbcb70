"""Core wire formats: Base45, COSE_Sign1, keys, EC1 limits, status lists, trust lists."""

from __future__ import annotations

import os
import time
import zlib

import cbor2
import pytest

from ecert.errors import ConfigError, FormatError, Outcome
from ecert.format import (
    b45,
    cose,
    credential,
    keys,
    presentation,
    statuslist,
    trustlist,
)
from ecert.format.keys import SigningKey
from ecert.rules import verify
from ecert.rules.trust import TrustList


@pytest.mark.parametrize("raw,text", [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
                                      (b"ietf!", "QED8WEX0"), (b"", "")])
def test_base45_rfc9285_vectors(raw, text):
    assert b45.encode(raw) == text == b45.encode_py(raw)
    assert b45.decode(text) == raw == b45.decode_py(text)


def test_base45_c_and_python_agree_on_random_and_hostile_input():
    rng = __import__("random").Random(7)
    for n in range(300):
        data = os.urandom(n)
        assert b45.encode(data) == b45.encode_py(data)
        assert b45.decode(b45.encode(data)) == data == b45.decode_py(b45.encode(data))
    for _ in range(3000):
        text = "".join(rng.choice(b45.ALPHABET + "a~é\x00") for _ in range(rng.randint(0, 12)))
        results = []
        for fn in (b45.decode, b45.decode_py):
            try:
                results.append(fn(text))
            except b45.Base45Error:
                results.append("error")
        assert results[0] == results[1], text


def test_cose_sign1_tagged_untagged_and_shape_errors():
    k = SigningKey.generate()
    signed = cose.sign1(k, b"payload")
    s1 = cose.parse_sign1(signed)
    assert s1.kid == k.kid and s1.alg == keys.ES256 and k.public.verify(s1.signature, s1.to_be_signed())
    untagged = cbor2.dumps(list(cbor2.loads(signed).value))
    assert cose.parse_sign1(untagged).payload == b"payload"
    # the hand-made Sig_structure is the canonical CBOR one
    assert s1.to_be_signed() == cbor2.dumps(["Signature1", s1.protected, b"", b"payload"])
    big = b"x" * 70000
    assert cose.sig_structure(b"\xa0", big) == cbor2.dumps(["Signature1", b"\xa0", b"", big])
    for bad in (cbor2.dumps(cbor2.CBORTag(98, [])), cbor2.dumps([1, 2, 3]), b"\xff\x00",
                cbor2.dumps([b"", {}, None, b"sig"]), cbor2.dumps([cbor2.dumps({1: -7}), {}, b"p", b"s"])):
        with pytest.raises(FormatError) as err:
            cose.parse_sign1(bad)
        assert err.value.outcome is Outcome.COSE_MALFORMED
    deep = b"\x81" * 100_000 + b"\x00"
    with pytest.raises(FormatError):
        cose.parse_sign1(deep)


def test_eddsa_sign_and_verify():
    k = SigningKey.generate(keys.EDDSA)
    s1 = cose.parse_sign1(cose.sign1(k, b"p"))
    assert s1.alg == keys.EDDSA and k.public.verify(s1.signature, s1.to_be_signed())
    assert not k.public.verify(b"\0" * 64, s1.to_be_signed())


def test_kid_is_sha256_of_spki():
    import hashlib
    k = SigningKey.generate()
    assert k.kid == hashlib.sha256(k.spki).digest()[:8]


def test_encrypted_key_file(tmp_path):
    path = tmp_path / "k.pem"
    k, created = keys.load_or_create(path, b"secret")
    assert created and (path.stat().st_mode & 0o777) == 0o600
    assert b"ENCRYPTED" in path.read_bytes()
    again, created = keys.load_or_create(path, b"secret")
    assert not created and again.kid == k.kid
    with pytest.raises(ConfigError):
        keys.load_or_create(path, b"wrong")
    assert "secret" not in repr(k) and "PRIVATE" not in repr(k)


def test_decompression_is_bounded():
    with pytest.raises(FormatError) as err:
        credential.decompress(zlib.compress(b"\0" * 10_000_000))
    assert err.value.outcome is Outcome.PAYLOAD_TOO_LARGE
    assert credential.decompress(zlib.compress(b"\0" * 65536)) == b"\0" * 65536
    with pytest.raises(FormatError) as err:
        credential.decompress(zlib.compress(b"abc")[:-3])
    assert err.value.outcome is Outcome.DECOMPRESS_FAILED


def test_text_limits_follow_the_spec_order():
    with pytest.raises(FormatError) as err:
        credential.decode_text("EC1:" + "a" * 5000)  # invalid Base45 is named before the size
    assert err.value.outcome is Outcome.BASE45_INVALID
    with pytest.raises(FormatError) as err:
        credential.decode_text("EC1:" + "0" * 4293)
    assert err.value.outcome is Outcome.PAYLOAD_TOO_LARGE
    with pytest.raises(FormatError) as err:
        credential.decode_text("ec1:ABC")
    assert err.value.outcome is Outcome.PREFIX_UNKNOWN


def test_status_list_bit_layout():
    bits = statuslist.build_bits([(0, 1), (1, 2), (5, 1), (7, 2)])
    # idx 0 -> bits 0-1 of byte 0, idx 1 -> bits 2-3; idx 5 -> bits 2-3 of byte 1; idx 7 -> bits 6-7
    assert bits == bytes([0b00001001, 0b10000100])
    assert [statuslist.get_status(bits, i) for i in range(9)] == [1, 2, 0, 0, 0, 1, 0, 2, 0]


def _trust(root, key, now, status="active", region="CN-ZJ", kid=None):
    payload = {"v": 3, "iat": now, "exp": now + 60, "regions": [{"code": region, "name": "x", "endpoint": "",
               "keys": [{"kid": kid or key.kid, "alg": key.alg, "spki": key.spki, "nbf": now - 100,
                         "exp": now + 10**6, "status": status}]}], "types": []}
    return trustlist.sign(root, payload)


def test_trust_list_checks_root_and_kids():
    root, key, now = SigningKey.generate(), SigningKey.generate(), int(time.time())
    tl = TrustList.from_signed(_trust(root, key, now), root.public)
    assert tl.version == 3 and key.kid in tl.keys_by_kid and not tl.is_stale(now) and tl.is_stale(now + 60)
    with pytest.raises(trustlist.TrustListError):
        TrustList.from_signed(_trust(root, key, now), SigningKey.generate().public)
    with pytest.raises(trustlist.TrustListError):
        TrustList.from_signed(_trust(root, key, now, kid=b"12345678"), root.public)


def test_the_rules_member_is_read_by_the_wire_format_and_malformed_rules_refuse_the_list():
    root, key, now = SigningKey.generate(), SigningKey.generate(), int(time.time())
    base = {"v": 3, "iat": now, "exp": now + 60, "regions": [], "types": []}
    wire = trustlist.TrustList.from_signed(trustlist.sign(root, base), root.public)
    assert wire.rules is None  # a list from before there were rules
    rules = {"purposes": {"hotel_check_in": ["cn.resident_id"], "general": []}, "recognition": {"*": ["CN-ZJ"]},
             "later": "a member a newer registry adds"}
    wire = trustlist.TrustList.from_signed(trustlist.sign(root, {**base, "rules": rules}), root.public)
    assert wire.rules == trustlist.RulesEntry({"hotel_check_in": frozenset({"cn.resident_id"}), "general": frozenset()},
                                              {"*": frozenset({"CN-ZJ"})})
    for bad in (None, [], {"purposes": {}}, {"recognition": {}}, {"purposes": [], "recognition": {}},
                {"purposes": {"general": "cn.x"}, "recognition": {}},
                {"purposes": {"general": [b"cn.x"]}, "recognition": {}},
                {"purposes": {"general": ["cn.x", "cn.x"]}, "recognition": {}},
                {"purposes": {}, "recognition": {"": ["CN-ZJ"]}},
                {"purposes": {}, "recognition": {"CN-SH": [7]}}):
        with pytest.raises(trustlist.TrustListError):
            TrustList.from_signed(trustlist.sign(root, {**base, "rules": bad}), root.public)


def test_build_payload_writes_the_rules_sorted_and_only_when_given():
    common = {"version": 1, "iat": 0, "exp": 60, "regions": [], "keys": [], "types": []}
    assert "rules" not in trustlist.build_payload(**common)
    payload = trustlist.build_payload(**common, rules={
        "purposes": {"general": ["cn.b", "cn.a", "cn.a"], "business_check": []},
        "recognition": {"CN-ZJ": ["CN-ZJ", "CN-SH"], "*": ["CN-SH"]}})
    assert payload["rules"] == {"purposes": {"business_check": [], "general": ["cn.a", "cn.b"]},
                                "recognition": {"*": ["CN-SH"], "CN-ZJ": ["CN-SH", "CN-ZJ"]}}
    assert list(payload["rules"]["recognition"]) == ["*", "CN-ZJ"]


def test_status_list_signed_by_its_region_only():
    root, key, other, now = SigningKey.generate(), SigningKey.generate(), SigningKey.generate(), int(time.time())
    tl = TrustList.from_signed(_trust(root, key, now), root.public)
    signed = statuslist.sign(key, uri="u", bits=statuslist.build_bits([(3, 2)]), iat=now, exp=now + 60, ttl=10)
    sl = statuslist.parse(signed, expected_uri="u", region_keys=tl.keys_by_kid)
    assert sl.get(3) == statuslist.SUSPENDED and not sl.is_stale(now)
    with pytest.raises(statuslist.StatusListError):
        statuslist.parse(signed, expected_uri="other", region_keys=tl.keys_by_kid)
    forged = statuslist.sign(other, uri="u", bits=b"", iat=now, exp=now + 60, ttl=10)
    with pytest.raises(statuslist.StatusListError):
        statuslist.parse(forged, expected_uri="u", region_keys=tl.keys_by_kid)


def test_stale_status_list_is_reported_not_pretended():
    root, key, now = SigningKey.generate(), SigningKey.generate(), int(time.time())
    tl = TrustList.from_signed(_trust(root, key, now), root.public)
    tl.types[("t.x", 1)] = __import__("ecert.rules.schema", fromlist=["x"]).TypeSchema(
        "t.x", 1, "x", '{"type": "object", "properties": {}}', {})
    text = credential.issue(key, iss="CN-ZJ", iat=now, exp=now + 600, cti=os.urandom(16), type_id="t.x",
                            type_version=1, fields={}, status_uri="u", status_idx=1)
    sl = statuslist.parse(statuslist.sign(key, uri="u", bits=b"", iat=now - 100, exp=now - 1, ttl=10),
                          expected_uri="u", region_keys=tl.keys_by_kid)
    res = verify.verify(text, tl, now, status_lists={"u": sl}.get)
    assert res.outcome is Outcome.VALID and res.status_checked is False


def test_presentation_token_lifetime_is_capped():
    k = SigningKey.generate()
    token, claims = presentation.issue(k, iss="CN-ZJ", credential_cti=os.urandom(16), now=1000, ttl=9999)
    assert claims.exp == 1300 and token.startswith("EP1:")
    raw = cbor2.loads(cose.parse_sign1(presentation.decode_text(token)).payload)
    raw[4] = raw[6] + 301
    with pytest.raises(FormatError) as err:
        presentation.parse_claims(raw)
    assert err.value.outcome is Outcome.CLAIMS_MALFORMED


def test_the_cbor_reader_refuses_every_tag_but_cose_sign1s():
    """No tag is used inside the formats: cbor2's own tags (bignums, dates, shared references...)
    would turn into ordinary-looking values (a bignum key is an int) and are refused too."""
    for tag in range(70000):
        item = cbor2.dumps(cbor2.CBORTag(tag, 1))
        with pytest.raises(FormatError):
            cose.loads(item)
        if tag != cose.COSE_SIGN1_TAG:
            with pytest.raises(FormatError):
                cose.loads(item, cose_tag=True)
    assert cose.loads(cbor2.dumps(cbor2.CBORTag(18, [])), cose_tag=True).tag == 18


@pytest.mark.parametrize("raw", [b"\xa1\xf5\x26", b"\xa1\xf4\x26", b"\xa1\xf9\x3c\x00\x26", b"\xa1\xf6\x26",
                                 b"\xa1\x41\x01\x26", b"\xa1\x81\x01\x26", b"\xa1\xa0\x26", b"\xa1\xc2\x41\x01\x26",
                                 b"\xa2\x01\x26\x01\x27", b"\xa1\x01\xa1\xf5\x00"])
def test_the_cbor_reader_refuses_map_keys_of_other_kinds_and_duplicates(raw):
    with pytest.raises(FormatError) as err:
        cose.loads(raw, Outcome.CLAIMS_MALFORMED)
    assert err.value.outcome is Outcome.CLAIMS_MALFORMED
    assert cose.loads(b"\xa2\x01\x26\x61a\x00") == {1: -7, "a": 0}  # integers and text are the formats' keys


def test_trust_and_status_lists_refuse_cbor_outside_the_subset_with_their_own_errors():
    root, key, now = SigningKey.generate(), SigningKey.generate(), int(time.time())
    payload = cbor2.dumps({"v": 3, "iat": now, "exp": now + 60, "regions": [], "types": []})
    for bad in (payload[:-1] + b"\xa1\xf5\x00", b"\xa1\x61v\xc2\x41\x03"):
        with pytest.raises(trustlist.TrustListError):
            TrustList.from_signed(cose.sign1(root, bad), root.public)
    entry = {"kid": key.kid, "alg": key.alg, "spki": key.spki, "nbf": now, "exp": now + 60, "status": "active"}
    for region in ({"code": b"CN-ZJ", "name": "x", "endpoint": "", "keys": []},
                   {"code": "CN-ZJ", "name": "x", "endpoint": "", "keys": [{**entry, "status": b"active"}]},
                   {"code": "CN-ZJ", "name": "x", "endpoint": "", "keys": [{**entry, "nbf": True}]}):
        signed = trustlist.sign(root, {"v": 3, "iat": now, "exp": now + 60, "regions": [region], "types": []})
        with pytest.raises(trustlist.TrustListError):
            TrustList.from_signed(signed, root.public)
    tl = TrustList.from_signed(_trust(root, key, now), root.public)
    lst = {"bits": 2, "lst": zlib.compress(b"")}
    for claims in ({2: b"u", 6: now, 4: now + 60, 65534: 10, 65533: lst},
                   {2: "u", 6: now, 4: 2**63, 65534: 10, 65533: lst},
                   {2: "u", 6: now, 4: now + 60, 65534: 10, 65533: {**lst, "bits": 2.0}}):
        with pytest.raises(statuslist.StatusListError):
            statuslist.parse(cose.sign1(key, cbor2.dumps(claims)), expected_uri="u", region_keys=tl.keys_by_kid)
    with pytest.raises(statuslist.StatusListError):
        statuslist.parse(cose.sign1(key, b"\xa1\xf5\x00"), expected_uri="u", region_keys=tl.keys_by_kid)


def test_a_cbor2_without_the_reader_s_options_fails_loudly_not_as_malformed_input(monkeypatch):
    """cbor2 before 6.1 has no ``allow_duplicate_keys``: that is the installation's fault, so the
    TypeError reaches the caller (a 500 and a log line) instead of every credential reading as
    COSE_MALFORMED. Decoding errors stay the input's."""
    def old_decoder(fp, *, allow_duplicate_keys=None, **kw):
        raise TypeError("CBORDecoder() got an unexpected keyword argument 'allow_duplicate_keys'")
    with monkeypatch.context() as m:
        m.setattr(cose.cbor2, "CBORDecoder", old_decoder)
        with pytest.raises(TypeError):
            cose.loads(cbor2.dumps({1: "x"}))
    with pytest.raises(FormatError) as err:
        cose.loads(b"\xa1\x01")  # a map whose value is missing
    assert err.value.outcome is Outcome.COSE_MALFORMED
