"""Build credentials by hand (valid and hostile) with keys only the test holds."""

from __future__ import annotations

import base64
import time
import zlib

import cbor2

from ecert.format import b45, cose, credential
from ecert.format.keys import SigningKey


def claims(iss: str, *, type_id="cn.driving_licence", version=1, fields=None, iat=None, exp=None, nbf=None,
           cti=None, **extra) -> dict:
    from testkit.samples import driving_licence
    now = int(time.time())
    iat = now if iat is None else iat
    f = driving_licence() if fields is None else fields
    f = {k: (bytes.fromhex(v) if k == "photo" else v) for k, v in f.items()}
    c = credential.build_claims(iss=iss, iat=iat, exp=iat + 86400 if exp is None else exp, nbf=nbf,
                                cti=cti or credential.new_cti(), type_id=type_id, type_version=version, fields=f)
    c.update(extra)
    return c


def sign(key: SigningKey, payload: dict | bytes, **overrides) -> str:
    raw = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
    return credential.encode_text(cose.sign1(key, raw, **overrides))


def wrap(cose_bytes: bytes) -> str:
    return "EC1:" + b45.encode(zlib.compress(cose_bytes))


def tamper_signature(text: str) -> str:
    obj = cbor2.loads(credential.decode_text(text))
    protected, unprotected, payload, sig = obj.value
    sig = bytes([sig[0] ^ 0x01]) + sig[1:]
    return wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, sig])))


def spki_b64(key: SigningKey) -> str:
    return base64.b64encode(key.spki).decode()
