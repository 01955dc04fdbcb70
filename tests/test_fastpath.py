"""The C fast path (ecert.format._fast) against the reference pipeline in Python.

``decode_ec1`` only reads well-formed texts and answers None for anything else, leaving
the naming of every fault to the reference decoders. These tests hold the two paths to
the same verification answers (outcome, detail, claims, fields, key) over valid
credentials of every catalogue type and both algorithms, and over thousands of damaged
ones at every layer: the text, the zlib stream, the COSE structure and, re-signed so that
they get past the signature, the claims themselves.
"""

from __future__ import annotations

import json
import random
import zlib
from importlib import resources

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ecert.errors import Outcome
from ecert.format import b45, cose, credential, keys, trustlist
from ecert.format.keys import EDDSA, ES256, SigningKey
from ecert.rules import verify
from ecert.rules.trust import TrustList
from testkit.samples import SAMPLES

fast = pytest.importorskip("ecert.format._fast", reason="the optional C extension ecert.format._fast is not built")

NOW = 1_790_000_000


def _types() -> list[dict]:
    out = []
    for path in sorted((resources.files("ecert.rules") / "catalogue").iterdir()):
        if path.name.endswith(".json"):
            doc = json.loads(path.read_text("utf-8"))
            out.append({"id": doc["id"], "v": doc["version"], "name": doc["name"],
                        "schema": json.dumps(doc["schema"], ensure_ascii=False), "disclosure": doc["disclosure"]})
    return out


@pytest.fixture(scope="module")
def world():
    root = SigningKey.generate()
    es, ed, revoked = SigningKey.generate(ES256), SigningKey.generate(EDDSA), SigningKey.generate()

    def entry(k, status="active", nbf=NOW - 86400, exp=NOW + 86400 * 400):
        return {"kid": k.kid, "alg": k.alg, "spki": k.public.spki, "nbf": nbf, "exp": exp, "status": status}

    payload = {"v": 3, "iat": NOW, "exp": NOW + 3600,
               "regions": [{"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "",
                            "keys": [entry(es), entry(ed), entry(revoked, "revoked")]}],
               "types": _types()}
    trust = TrustList.from_signed(trustlist.sign(root, payload), root.public)
    return trust, es, ed, revoked


def _claims(trust, type_id: str, **over) -> dict:
    ts = max((t for (i, _), t in trust.types.items() if i == type_id), key=lambda t: t.version)
    args = dict(iss="CN-ZJ", iat=NOW - 100, exp=NOW + 86400, cti=bytes(range(16)), type_id=type_id,
                type_version=ts.version, fields=ts.to_cbor(SAMPLES[type_id]),
                status_uri="urn:ecert:status:CN-ZJ:1", status_idx=42)
    args.update(over)
    return credential.build_claims(**args)


def both(text, trust) -> tuple[verify.Result, verify.Result]:
    """The answer with the fast path and with the reference path alone."""
    fast_res = verify.check_credential(text, trust, NOW)
    saved = verify._decode_ec1
    verify._decode_ec1 = None
    try:
        ref_res = verify.check_credential(text, trust, NOW)
    finally:
        verify._decode_ec1 = saved
    return fast_res, ref_res


def assert_same(text, trust) -> verify.Result:
    a, b = both(text, trust)
    assert (a.outcome, a.detail) == (b.outcome, b.detail), text[:80]
    assert a.claims == b.claims
    assert a.fields == b.fields
    assert a.key is b.key
    assert a.type is b.type
    return a


def test_the_fast_path_is_in_use():
    assert (fast.MAX_TEXT, fast.MAX_COSE) == (credential.MAX_TEXT, credential.MAX_COSE)
    assert verify._decode_ec1 is fast.decode_ec1
    assert keys._ecdsa_der is fast.ecdsa_der
    assert b45._decode_c is fast.decode


@pytest.mark.parametrize("type_id", sorted(SAMPLES))
@pytest.mark.parametrize("alg", [ES256, EDDSA])
def test_valid_credentials_of_every_type(world, type_id, alg):
    trust, es, ed, _ = world
    key = es if alg == ES256 else ed
    text = credential.sign_claims(key, _claims(trust, type_id))
    decoded = fast.decode_ec1(text)
    assert decoded is not None and decoded[5] is not None
    s1 = cose.parse_sign1(credential.decode_text(text))
    assert decoded[:5] == (s1.alg, s1.kid, s1.to_be_signed(), s1.signature, s1.payload)
    res = assert_same(text, trust)
    assert res.outcome is Outcome.VALID
    assert res.fields == SAMPLES[type_id]


def test_optional_claims_and_key_windows(world):
    trust, es, _, revoked = world
    variants = [
        {"nbf": NOW - 5}, {"nbf": NOW + 500}, {"status_uri": None}, {"exp": NOW}, {"iat": NOW + 61},
        {"iat": NOW - 86400 * 2}, {"iss": "CN-SH"}, {"type_version": 99},
        {"fields": {"name": "x"}}, {"status_idx": 0},
    ]
    for over in variants:
        assert_same(credential.sign_claims(es, _claims(trust, "cn.driving_licence", **over)), trust)
    unknown = {**_claims(trust, "cn.driving_licence"), credential.CLAIM_ECERT: {"t": "cn.unicorn", "v": 1, "d": {}}}
    assert assert_same(credential.sign_claims(es, unknown), trust).outcome is Outcome.TYPE_UNKNOWN
    assert assert_same(credential.sign_claims(revoked, _claims(trust, "cn.driving_licence")),
                       trust).outcome is Outcome.KEY_REVOKED
    stranger = SigningKey.generate()
    assert assert_same(credential.sign_claims(stranger, _claims(trust, "cn.driving_licence")),
                       trust).outcome is Outcome.KID_UNKNOWN
    # A kid registered for EdDSA but an ES256 header.
    assert assert_same(credential.sign_claims(es, _claims(trust, "cn.driving_licence"), kid=world[2].kid),
                       trust).outcome is Outcome.ALG_NOT_ALLOWED


def _hostile_claims(trust) -> list[bytes]:
    """Claims payloads (CBOR bytes) that are odd, wrong or outside the fast subset."""
    base = _claims(trust, "cn.driving_licence")
    ec = base[credential.CLAIM_ECERT]
    d = ec["d"]
    maps = [
        {**base, 1: ""}, {**base, 1: 5}, {**base, 4: "x"}, {**base, 4: True}, {**base, 6: 1.5}, {**base, 5: None},
        {**base, 5: "soon"}, {**base, 7: b"short"}, {**base, 7: "0123456789abcdef"},
        {**base, credential.CLAIM_ECERT: []}, {**base, credential.CLAIM_ECERT: {**ec, "t": 7}},
        {**base, credential.CLAIM_ECERT: {**ec, "v": True}}, {**base, credential.CLAIM_ECERT: {**ec, "d": []}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "points": 1.0}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "extra": [1]}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "extra": None}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, 5: "x"}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "points": 2**70}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "points": -2**70}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "photo": "ab" * 32}}},
        {**base, credential.CLAIM_STATUS: None}, {**base, credential.CLAIM_STATUS: {"status_list": "x"}},
        {**base, credential.CLAIM_STATUS: {"status_list": {"idx": -1, "uri": "u"}}},
        {**base, credential.CLAIM_STATUS: {"status_list": {"idx": 1, "uri": b"u"}}},
        {**base, credential.CLAIM_STATUS: {"status_list": {"idx": 2**64 - 1, "uri": "u"}}},
        {**base, credential.CLAIM_STATUS: {"other": 1}},
        {k: v for k, v in base.items() if k != 4}, {k: v for k, v in base.items() if k != 7},
        {k: v for k, v in base.items() if k != credential.CLAIM_ECERT},
        {**base, 99: cbor2.CBORTag(1, 5)}, {**base, 98: 1.25}, {**base, 97: [1, [2, [3]]]},
        {**base, 96: cbor2.undefined}, {**base, True: "bool key"}, {**base, b"k": "bytes key"},
        {**base, 1: "CN-ZJ", 95: {"deep": {"deeper": {"deepest": {}}}}},
        # Out-of-range numbers (finding 2) and text sent as byte strings (finding 4).
        {**base, 4: 253402300800}, {**base, 4: 253402300799}, {**base, 4: -1}, {**base, 4: 2**63},
        {**base, 4: 2**64 - 1}, {**base, 4: -2**64}, {**base, 6: -1}, {**base, 6: 2**63}, {**base, 5: 2**63},
        {**base, 5: -1}, {**base, 5: 0}, {**base, 5: 253402300800},
        {**base, credential.CLAIM_ECERT: {**ec, "v": 2**70}}, {**base, credential.CLAIM_ECERT: {**ec, "v": 0}},
        {**base, credential.CLAIM_ECERT: {**ec, "v": 10001}}, {**base, credential.CLAIM_ECERT: {**ec, "v": 2**31}},
        {**base, credential.CLAIM_STATUS: {"status_list": {"idx": 2**26, "uri": "u"}}},
        {**base, credential.CLAIM_STATUS: {"status_list": {"idx": 2**26 - 1, "uri": "u"}}},
        {**base, 1: b"CN-ZJ"}, {**base, credential.CLAIM_ECERT: {**ec, "t": b"cn.driving_licence"}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "name": b"x"}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "photo": d["photo"].hex()}}},
        {**base, credential.CLAIM_ECERT: {**ec, "d": {**d, "points": cbor2.CBORTag(2, b"\x01")}}},
        {**base, 4: cbor2.CBORTag(2, b"\x01\x00\x00\x00\x00")},
    ]
    out = [cbor2.dumps(m) for m in maps]
    good = cbor2.dumps(base)
    assert 0xa0 <= good[0] < 0xb7
    # One more entry as raw CBOR, under a key of another kind (a Python dict would merge True and 1).
    out += [bytes([good[0] + 1]) + good[1:] + extra
            for extra in (b"\xf5\x61x", b"\xf9\x3c\x00\x61x", b"\xf6\x00", b"\x41\x01\x00", b"\x81\x01\x00",
                          b"\xa0\x00", b"\xc2\x41\x01\x61x", b"\x04\x00", b"\x01\x65CN-SH")]
    out += [
        good + b"\x00",  # trailing byte
        good[:-1],  # truncated
        b"\xa1\x01\x65CN-ZJ\x01\x65CN-SH",  # duplicate key
        bytes([0xbf]) + good[1:] + b"\xff",  # indefinite-length map
        b"\x19\x00\x05",  # non-shortest int
        b"\x80", b"", b"\xff", b"\xf6", b"\x63\xed\xa0\x80",  # array, nothing, break, null, a surrogate
        b"\xa1\x01\x62\xc3\x28",  # invalid UTF-8
        good.replace(b"\x65CN-ZJ", b"\x78\x05CN-ZJ", 1),  # non-shortest text length
        cbor2.dumps(cbor2.CBORTag(61, base)),  # tagged claims map
        b"\x81" * 40 + b"\x00",  # deep nesting
    ]
    return out


def test_claims_the_fast_path_hands_back(world):
    trust, es, _, _ = world
    for payload in _hostile_claims(trust):
        assert_same(credential.encode_text(cose.sign1(es, payload)), trust)


def test_odd_cose_structures(world):
    trust, es, _, _ = world
    payload = cbor2.dumps(_claims(trust, "cn.driving_licence"))
    protected = cbor2.dumps({1: es.alg, 4: es.kid})
    sig = es.sign(cose.sig_structure(protected, payload))
    shapes = [
        [protected, {}, payload, sig], [protected, {4: b"other"}, payload, sig], [protected, [], payload, sig],
        [b"", {}, payload, sig], [protected, {}, None, sig], [protected, {}, payload], [protected, {}, payload, "s"],
        [cbor2.dumps({1: es.alg, 4: es.kid, 99: "x"}), {}, payload, sig], [cbor2.dumps({1: -35, 4: es.kid}), {},
                                                                           payload, sig],
        [cbor2.dumps({1: es.alg, 4: b""}), {}, payload, sig], [cbor2.dumps({1: es.alg}), {}, payload, sig],
        [cbor2.dumps({1: "ES256", 4: es.kid}), {}, payload, sig], [cbor2.dumps([1, 2]), {}, payload, sig],
        [cbor2.dumps({1: es.alg, 4: es.kid}) + b"\x00", {}, payload, sig],
        [cbor2.dumps({1: 2**64 - 1, 4: es.kid}), {}, payload, sig],
        # Header keys of other kinds than integers and text (finding 4): never read as alg or kid.
        [b"\xa2\xf5\x26\x04" + cbor2.dumps(es.kid), {}, payload, sig],
        [b"\xa2\xf9\x3c\x00\x26\x04" + cbor2.dumps(es.kid), {}, payload, sig],
        [b"\xa2\xc2\x41\x01\x26\x04" + cbor2.dumps(es.kid), {}, payload, sig],
        [b"\xa3\x01\x26\x01\x26\x04" + cbor2.dumps(es.kid), {}, payload, sig],
        [b"\xa3\x01\x26\x04" + cbor2.dumps(es.kid) + b"\xf6\x00", {}, payload, sig],
        [cbor2.dumps({1: es.alg, 4: es.kid}), {True: 1}, payload, sig],
        [cbor2.dumps({1: es.alg, 4: es.kid}), {4: cbor2.CBORTag(1, 0)}, payload, sig],
    ]
    texts = []
    for shape in shapes:
        texts.append(credential.encode_text(cbor2.dumps(shape)))
        texts.append(credential.encode_text(cbor2.dumps(cbor2.CBORTag(18, shape))))
        texts.append(credential.encode_text(cbor2.dumps(cbor2.CBORTag(17, shape))))
    good = cbor2.dumps(cbor2.CBORTag(18, shapes[0]))
    texts += [credential.encode_text(good + b"\x00"), credential.encode_text(b"\xd8\x12" + good[1:]),
              "EC1:" + b45.encode(zlib.compress(good) + b"x"), "EC1:" + b45.encode(zlib.compress(good)[:-2]),
              "EC1:" + b45.encode(zlib.compress(good, wbits=-15)), "EC1:" + b45.encode(zlib.compress(b"\0" * 70000)),
              "EC1:" + b45.encode(zlib.compress(good, wbits=9)), "EC1:" + b45.encode(zlib.compress(good, 0)),
              "EP1:" + b45.encode(good), "ec1:" + credential.encode_text(good)[4:], "EC1:",
              credential.encode_text(good) + "A", credential.encode_text(good) + "ä",
              credential.encode_text(good)[:-1], "EC1:" + "0" * 4300]
    for text in texts:
        assert_same(text, trust)


def test_random_damage_at_every_layer(world):
    trust, es, ed, _ = world
    rng = random.Random(20261122)
    texts = [credential.sign_claims(k, _claims(trust, t)) for k in (es, ed) for t in sorted(SAMPLES)]
    outcomes = set()

    def flip(data: bytes) -> bytes:
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(3)
            i = rng.randrange(len(b) + 1)
            if op == 0 and b:
                b[i % len(b)] ^= 1 << rng.randrange(8)
            elif op == 1:
                b.insert(i, rng.randrange(256))
            elif b:
                del b[i % len(b)]
        return bytes(b)

    for n in range(3000):
        text = rng.choice(texts)
        layer = n % 4
        cose_bytes = credential.decode_text(text)
        if layer == 0:  # the text
            chars = list(text)
            i = rng.randrange(4, len(chars))
            chars[i] = rng.choice(b45.ALPHABET + "a~")
            damaged = "".join(chars)
        elif layer == 1:  # the zlib stream
            damaged = "EC1:" + b45.encode(flip(credential.compress(cose_bytes)))
        elif layer == 2:  # the COSE bytes, signature no longer matching
            damaged = credential.encode_text(flip(cose_bytes))
        else:  # the claims, re-signed so that they reach the claims checks
            s1 = cose.parse_sign1(cose_bytes)
            key = es if s1.alg == ES256 else ed
            damaged = credential.encode_text(cose.sign1(key, flip(s1.payload)))
        outcomes.add(assert_same(damaged, trust).outcome)
    # The damage reached every layer's checks.
    assert {Outcome.BASE45_INVALID, Outcome.DECOMPRESS_FAILED, Outcome.COSE_MALFORMED,
            Outcome.SIGNATURE_INVALID, Outcome.CLAIMS_MALFORMED} <= outcomes


def test_ecdsa_der_matches_the_reference():
    rng = random.Random(7)
    edge = [bytes(64), b"\xff" * 64, b"\x00" * 31 + b"\x01" + b"\x80" + b"\x00" * 31,
            b"\x80" + b"\x00" * 63, b"\x00" * 32 + b"\x7f" * 32]
    samples = edge + [bytes(rng.randrange(256) if rng.random() > 0.2 else 0 for _ in range(64))
                      for _ in range(5000)]
    for sig in samples:
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        assert fast.ecdsa_der(sig) == der == keys.ecdsa_der_py(sig)
    for bad in (b"", bytes(63), bytes(65), "x" * 64):
        with pytest.raises(ValueError):
            fast.ecdsa_der(bad)


def test_decode_ec1_never_raises_on_junk():
    rng = random.Random(3)
    junk = [None, 5, b"EC1:", "EC1:\x00", "EC1:" + "\uffff" * 3, "EC1:" + "%" * 3000, "EC1:" + "A" * 4293]
    junk += ["EC1:" + "".join(rng.choice(b45.ALPHABET) for _ in range(rng.randrange(60))) for _ in range(2000)]
    for item in junk:
        assert fast.decode_ec1(item) is None


def test_credential_id_and_check_character_match_the_references():
    from ecert.rules import identifiers
    rng = random.Random(11)
    for n in range(40):
        for _ in range(30):
            data = bytes(rng.randrange(256) for _ in range(n))
            assert fast.b32(data) == credential.cti_to_id_py(data)
    assert credential.cti_to_id is fast.b32
    for _ in range(20000):
        s = "".join(rng.choice(identifiers._ALNUM36) for _ in range(rng.randrange(40)))
        assert fast.mod37_36(s) == identifiers._ALNUM36[(37 - identifiers._mod37_36_state(s)) % 36]
        assert identifiers.mod37_36_check(s) == fast.mod37_36(s)
    for bad in ("a", "A-B", "É", "\U0001f600"):
        assert fast.mod37_36(bad) is None
        with pytest.raises(KeyError):
            identifiers.mod37_36_check(bad)


def test_a_call_from_a_finaliser_during_decoding_is_safe(world):
    """Finalisers run by the garbage collector during the fast path's allocations may call it
    again: that inner call takes the reference path (None) and the outer answer is intact."""
    import gc

    trust, es, _, _ = world
    text = credential.sign_claims(es, _claims(trust, "cn.driving_licence"))
    other = credential.sign_claims(es, _claims(trust, "cn.resident_id"))  # other bytes in the buffers
    expected = fast.decode_ec1(text)
    inner: list = []

    class Reenter:
        def __init__(self):
            self.me = self  # a cycle: only the collector frees it

        def __del__(self):
            inner.append(fast.decode_ec1(other))

    saved = gc.get_threshold()
    gc.set_threshold(1)
    try:
        for _ in range(200):
            for _ in range(5):
                Reenter()
            assert fast.decode_ec1(text) == expected
    finally:
        gc.set_threshold(*saved)
        gc.collect()
    assert None in inner  # the collector did run inside a decoding
    assert all(r is None or r == fast.decode_ec1(other) for r in inner)


def test_keys_sharing_a_kid_are_each_tried(world):
    """Eight-byte kids can collide: every key under the kid with the header's algorithm is tried,
    ALG_NOT_ALLOWED only when none has it (both paths, through the trust list's index)."""
    import dataclasses

    trust, es, ed, _ = world
    text = credential.sign_claims(es, _claims(trust, "cn.driving_licence"))
    real = trust.keys_by_kid[es.kid][0]
    other_es = dataclasses.replace(real, public=SigningKey.generate(ES256).public)
    eddsa = trust.keys_by_kid[ed.kid][0]
    cases = [([other_es, real], Outcome.VALID), ([eddsa, real], Outcome.VALID), ([eddsa], Outcome.ALG_NOT_ALLOWED),
             ([other_es, eddsa], Outcome.SIGNATURE_INVALID), ([other_es], Outcome.SIGNATURE_INVALID)]
    saved = trust.keys_by_kid[es.kid]
    try:
        for entries, outcome in cases:
            trust.keys_by_kid[es.kid] = entries
            res = assert_same(text, trust)
            assert res.outcome is outcome, entries
            assert res.key is (real if outcome is Outcome.VALID else None)
    finally:
        trust.keys_by_kid[es.kid] = saved
