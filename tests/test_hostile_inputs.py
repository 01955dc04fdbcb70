"""Hostile and damaged inputs always get an outcome code, never an exception (a cheap fuzz)."""

from __future__ import annotations

import random
import time
import zlib

import cbor2

from ecert.errors import Outcome
from ecert.format import b45, cose, credential
from ecert.rules import verify
from testkit.fixtures import fixture


def _assert_outcome(text, trust, now):
    res = verify.check_any(text, trust, now)
    assert isinstance(res.outcome, Outcome)
    return res.outcome


def test_mutated_credentials_get_codes():
    now = int(time.time())
    key, trust, texts, _ = fixture(now, n_credentials=5)
    rng = random.Random(11)
    seen = set()
    for _ in range(3000):
        original = rng.choice(texts)
        chars = list(original)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(4, len(chars))
            op = rng.random()
            if op < 0.6:
                chars[i] = rng.choice(b45.ALPHABET)
            elif op < 0.8:
                del chars[i]
            else:
                chars.insert(i, rng.choice(b45.ALPHABET + "é~\x00"))
        text = "".join(chars)
        if text != original:
            seen.add(_assert_outcome(text, trust, now))
    assert Outcome.VALID not in seen  # zlib's checksum and the signature catch every change
    assert {Outcome.BASE45_INVALID, Outcome.DECOMPRESS_FAILED} <= seen


def test_random_cbor_inside_valid_layers_gets_codes():
    now = int(time.time())
    key, trust, _, _ = fixture(now)
    rng = random.Random(5)
    values = [0, -1, 2**64, -2**64, 1.5, True, None, b"", b"x" * 40, "t", [], {}, [1, [2, [3]]],
              {1: -7, 4: key.kid}, {"a": {"b": {}}}, cbor2.CBORTag(18, []), cbor2.CBORTag(99, b"")]

    def rand(depth=0):
        v = rng.choice(values)
        if depth < 3 and rng.random() < 0.3:
            return [rand(depth + 1) for _ in range(rng.randint(0, 4))]
        if depth < 3 and rng.random() < 0.2:
            return {rng.choice([1, 4, 6, 7, -70000, "d"]): rand(depth + 1) for _ in range(rng.randint(0, 3))}
        return v

    for _ in range(2000):
        shape = rng.random()
        if shape < 0.4:
            obj = rand()
        elif shape < 0.8:  # a COSE_Sign1 shape with random members
            obj = cbor2.CBORTag(18, [cbor2.dumps(rand()) if rng.random() < 0.7 else rand(), rand(),
                                     cbor2.dumps(rand()) if rng.random() < 0.7 else rand(), rand()])
        else:  # properly signed, random claims
            obj = cbor2.loads(cose.sign1(key, cbor2.dumps(rand())))
        raw = cbor2.dumps(obj)
        _assert_outcome("EC1:" + b45.encode(zlib.compress(raw)), trust, now)
        _assert_outcome("EP1:" + b45.encode(raw), trust, now)


def test_truncated_and_padded_streams():
    now = int(time.time())
    _, trust, texts, _ = fixture(now)
    raw = zlib.decompress(b45.decode(texts[0][4:]))
    for cut in range(0, len(raw), 7):
        assert _assert_outcome(credential.encode_text(raw[:cut]), trust, now) is not Outcome.VALID
    assert _assert_outcome(credential.encode_text(raw + b"\x00"), trust, now) is not Outcome.VALID
