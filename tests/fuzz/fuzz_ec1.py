"""Coverage-guided fuzz target (atheris): the C fast path against the Python reference.

Every input is verified twice, with ``ecert.format._fast.decode_ec1`` in use and with the
reference decoders alone; the two must give the same answer (outcome, detail, claims, fields,
key) and neither may raise. The first byte chooses what the rest of the input becomes:

- 0: the text itself (any Unicode; an ``EC1:``/``EP1:`` prefix is often added);
- 1: the bytes as a COSE_Sign1 (zlib, Base45, ``EC1:``);
- 2: the bytes as a claims payload, correctly signed (so that they reach the claims checks);
- 3: a valid credential's claims with the bytes spliced in, correctly signed;
- 4: the bytes as a protected header over valid claims, correctly signed.

Run: ``python tests/fuzz/fuzz_ec1.py -atheris_runs=N`` or ``-max_total_time=S`` (libFuzzer
flags; corpus folders as arguments). Keys and times are fixed, so a crash file replays.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from importlib import resources
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for ecert and testkit

with atheris.instrument_imports(include=["ecert"]):
    import cbor2
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from ecert.errors import Outcome
    from ecert.format import b45, cose, credential, keys, trustlist
    from ecert.rules import verify
    from ecert.rules.trust import TrustList
    from testkit.samples import driving_licence

NOW = 1_790_000_000
KEY = keys.SigningKey(keys.EDDSA, ed25519.Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"ecert fuzz CN-ZJ").digest()))
ROOT = keys.SigningKey(keys.EDDSA, ed25519.Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"ecert fuzz root").digest()))


def _trust() -> TrustList:
    types = []
    for path in sorted((resources.files("ecert.rules") / "catalogue").iterdir()):
        if path.name.endswith(".json"):
            doc = json.loads(path.read_text("utf-8"))
            types.append({"id": doc["id"], "v": doc["version"], "name": doc["name"],
                          "schema": json.dumps(doc["schema"], ensure_ascii=False), "disclosure": doc["disclosure"]})
    entry = {"kid": KEY.kid, "alg": KEY.alg, "spki": KEY.public.spki, "nbf": NOW - 86400 * 400,
             "exp": NOW + 86400 * 400, "status": "active"}
    payload = {"v": 1, "iat": NOW, "exp": NOW + 3600, "types": types,
               "regions": [{"code": "CN-SH", "name": "Shanghai", "endpoint": "", "keys": [dict(entry)]},
                           {"code": "CN-ZJ", "name": "Zhejiang", "endpoint": "", "keys": [entry]}]}
    return TrustList.from_signed(trustlist.sign(ROOT, payload), ROOT.public)


TRUST = _trust()
FIELDS = TRUST.types[("cn.driving_licence", 1)].to_cbor(driving_licence())
GOOD = cbor2.dumps(credential.build_claims(
    iss="CN-ZJ", iat=NOW - 100, exp=NOW + 86400, cti=bytes(range(16)), type_id="cn.driving_licence",
    type_version=1, fields=FIELDS, status_uri="urn:ecert:status:CN-ZJ:1", status_idx=7))
PROTECTED = cbor2.dumps({1: KEY.alg, 4: KEY.kid})
FAST = verify._decode_ec1


def _signed(protected: bytes, payload: bytes) -> str:
    sig = KEY.sign(cose.sig_structure(protected, payload))
    return credential.encode_text(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig])))


def text_of(data: bytes) -> str:
    if not data:
        return ""
    mode, rest = data[0] % 5, data[1:]
    if mode == 0:
        text = rest.decode("utf-8", "surrogateescape") if len(rest) % 7 else rest.decode("latin-1")
        return ("EC1:" if data[0] & 0x80 else "") + text
    if mode == 1:
        return "EC1:" + b45.encode(zlib.compress(rest))
    if mode == 2:
        return _signed(PROTECTED, rest)
    if mode == 3:
        at = int.from_bytes(rest[:2] or b"\0", "big") % (len(GOOD) + 1)
        cut = rest[2:3][0] % 8 if len(rest) > 2 else 0
        return _signed(PROTECTED, GOOD[:at] + rest[3:] + GOOD[at + cut:])
    return _signed(rest, GOOD)


def _answer(res: verify.Result) -> tuple:
    return (res.outcome, res.detail, res.claims, res.fields, res.key, res.type, res.status_checked)


def check(text: str) -> Outcome:
    """The same answer on both paths, an outcome code and no exception (raises AssertionError)."""
    if FAST is not None:
        decoded = FAST(text)
        assert decoded is None or (isinstance(decoded, tuple) and len(decoded) == 6)
    verify._decode_ec1 = FAST
    fast = verify.check_any(text, TRUST, NOW)
    verify._decode_ec1 = None
    try:
        ref = verify.check_any(text, TRUST, NOW)
    finally:
        verify._decode_ec1 = FAST
    assert isinstance(fast.outcome, Outcome), fast
    assert _answer(fast) == _answer(ref), (text[:120], _answer(fast)[:2], _answer(ref)[:2])
    if fast.claims is not None:  # what every answer writes: int64 times and an int32 version
        c = fast.claims
        assert 0 <= c.iat <= credential.MAX_TIME and 0 <= c.exp <= credential.MAX_TIME
        assert c.nbf is None or 0 <= c.nbf <= credential.MAX_TIME
    return fast.outcome


def TestOneInput(data: bytes) -> None:
    check(text_of(data))


def seeds() -> dict[str, bytes]:
    """Starting inputs (tests/fuzz/corpus holds them): one per mode."""
    cose_bytes = cose.sign1(KEY, GOOD)
    return {"text": b"\x82" + credential.encode_text(cose_bytes)[4:].encode(), "cose": b"\x01" + cose_bytes,
            "claims": b"\x02" + GOOD, "splice": b"\x03\x00\x10\x00\xf5", "protected": b"\x04" + PROTECTED}


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
