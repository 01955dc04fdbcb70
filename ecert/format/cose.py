"""COSE_Sign1 (RFC 9052) for the two allowed algorithms (hazardous layer).

``sign1`` makes a tagged COSE_Sign1 with ``{1: alg, 4: kid}`` protected and an
empty unprotected map. ``parse_sign1`` reads tagged or untagged structures and
checks their shape; it never trusts the unprotected header.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2

from ..errors import FormatError, Outcome
from .keys import ALG_NAMES, Signer

COSE_SIGN1_TAG = 18
HDR_ALG = 1
HDR_KID = 4
_SIG1_PREFIX = b"\x84\x6aSignature1"


def _bstr(data: bytes) -> bytes:
    n = len(data)
    if n < 24:
        head = bytes((0x40 | n,))
    elif n < 0x100:
        head = bytes((0x58, n))
    elif n < 0x10000:
        head = b"\x59" + n.to_bytes(2, "big")
    elif n < 0x100000000:
        head = b"\x5a" + n.to_bytes(4, "big")
    else:
        head = b"\x5b" + n.to_bytes(8, "big")
    return head + data


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """``["Signature1", protected, h'', payload]`` in canonical CBOR."""
    return b"".join((_SIG1_PREFIX, _bstr(protected), b"\x40", _bstr(payload)))


def sign1(key: Signer, payload: bytes, *, alg: int | None = None, kid: bytes | None = None) -> bytes:
    """Sign ``payload`` (CBOR bytes) and return the tagged COSE_Sign1 bytes.

    ``alg`` and ``kid`` default to the key's own; tests override them to build
    hostile inputs.
    """
    protected = cbor2.dumps({HDR_ALG: key.alg if alg is None else alg,
                             HDR_KID: key.kid if kid is None else kid})
    signature = key.sign(sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


@dataclass(frozen=True, slots=True)
class Sign1:
    protected: bytes
    alg: int
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)


def _malformed(msg: str) -> FormatError:
    return FormatError(Outcome.COSE_MALFORMED, msg)


class _Refused(ValueError):
    """Raised by the decoder's hooks: the item is outside the formats' CBOR subset."""


def _refuse_tag(*_args):
    raise _Refused("tagged item")


def _tag_18_only(tag, _immutable):
    if tag.tag != COSE_SIGN1_TAG:
        raise _Refused(f"tag {tag.tag}")
    return tag


def _map_keys(obj, _immutable):
    """Map keys are integers or text, as in every map of the formats (COSE header labels, CWT
    claim keys, the ecert and trust-list maps): ``{true: -7}`` or ``{1.0: -7}`` is not ``alg``."""
    for k in obj:
        if type(k) is not int and type(k) is not str:
            raise _Refused(f"a map key of type {type(k).__name__}")
    return obj


# The tags cbor2 decodes itself (dates, bignums, shared references, sets...): none is used by
# the formats, and each could turn into an ordinary-looking value (a bignum key is an int).
# tests/test_formats.py checks every tag up to 70,000 is refused.
_BUILTIN_TAGS = (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261, 1004, 43000,
                 55799)
_NO_TAGS = {t: _refuse_tag for t in _BUILTIN_TAGS}


def loads(data: bytes, outcome: Outcome = Outcome.COSE_MALFORMED, *, cose_tag: bool = False):
    """Decode exactly one CBOR item of the formats' strict subset; every failure becomes a
    :class:`FormatError` with ``outcome``.

    Refused: trailing bytes, duplicate map keys, map keys other than integers and text, and
    every tag (``cose_tag``: but COSE_Sign1's tag 18, which :func:`parse_sign1` places).
    """
    fp = io.BytesIO(data)
    # Outside the try: a TypeError here is the installed cbor2's (older than 6.1, which pyproject
    # excludes), not the input's, and must not be answered as malformed input.
    decoder = cbor2.CBORDecoder(fp, tag_hook=_tag_18_only if cose_tag else _refuse_tag, object_hook=_map_keys,
                                semantic_decoders=_NO_TAGS, allow_duplicate_keys=False)
    try:
        obj = decoder.decode()
    except Exception as err:  # cbor2 raises several types on hostile input
        cause = err if isinstance(err, _Refused) else err.__cause__
        if isinstance(cause, _Refused):
            raise FormatError(outcome, f"CBOR outside the formats' subset: {cause}") from err
        if "Duplicate map key" in str(err):
            raise FormatError(outcome, "a duplicate map key") from err
        raise FormatError(outcome, f"invalid CBOR: {type(err).__name__}") from err
    if fp.tell() != len(data):
        raise FormatError(outcome, "trailing bytes after the CBOR item")
    return obj


def parse_sign1(data: bytes) -> Sign1:
    """Check the COSE_Sign1 shape and the protected header; no signature check."""
    obj = loads(data, cose_tag=True)
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise _malformed(f"CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    if not isinstance(obj, (list, tuple)) or len(obj) != 4:
        raise _malformed("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = obj
    if not isinstance(protected, bytes) or not isinstance(unprotected, Mapping):
        raise _malformed("COSE_Sign1 headers must be a byte string and a map")
    if not isinstance(payload, bytes):
        raise _malformed("COSE_Sign1 payload must be an attached byte string")
    if not isinstance(signature, bytes):
        raise _malformed("COSE_Sign1 signature must be a byte string")
    headers = loads(protected) if protected else {}
    if not isinstance(headers, Mapping):
        raise _malformed("protected header must be a map")
    kid = headers.get(HDR_KID)
    if not isinstance(kid, bytes) or not kid:
        raise _malformed("kid must be a byte string in the protected header")
    alg = headers.get(HDR_ALG)
    if type(alg) is not int or alg not in ALG_NAMES:
        raise FormatError(Outcome.ALG_NOT_ALLOWED, f"algorithm {alg!r} is not allowed")
    return Sign1(protected, alg, kid, payload, signature)
