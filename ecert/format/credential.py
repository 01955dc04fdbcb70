"""EC1 credentials: the CWT claims, the text codec and the ``issue`` recipe.

QR text = ``"EC1:" || Base45(zlib(COSE_Sign1))``. Decoding bounds everything:
the text to 4,296 characters (the largest QR code) and the decompressed COSE to
64 KiB, so a zlib bomb cannot exhaust memory.
"""

from __future__ import annotations

import base64
import os
import re
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import cbor2

from ..errors import FormatError, Outcome
from ..limits import MAX_TYPE_VERSION
from . import b45, cose
from .keys import Signer

PREFIX = "EC1:"
MAX_TEXT = 4296
MAX_COSE = 64 * 1024

CLAIM_ISS = 1
CLAIM_SUB = 2
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_CTI = 7
CLAIM_STATUS = 65535
CLAIM_ECERT = -70000

MAX_TIME = 253_402_300_799
"""The last second of the year 9999 (UTC): claim times are epoch seconds from 0 up to it."""
MAX_STATUS_IDX = 4 * 16 * 1024 * 1024 - 1
"""The last entry of the largest status list a verifier reads (16 MiB, ``statuslist.MAX_LIST_BYTES``)."""


def is_time(v: Any) -> bool:
    """A claim time: a CBOR integer (not a float or bool) of epoch seconds in 1970..9999."""
    return type(v) is int and 0 <= v <= MAX_TIME


def cti_to_id_py(cti: bytes) -> str:
    """Credential id shown to people: unpadded upper-case base32 of the cti (reference)."""
    return base64.b32encode(cti).decode().rstrip("=")


try:
    from ._fast import (
        b32 as cti_to_id,  # every answer shows the id: base64's base32 is pure Python
    )
except ImportError:  # the optional C extension was not built: same text, slower
    cti_to_id = cti_to_id_py


_ID_SHAPE = re.compile(r"[A-Za-z2-7]{26}")


def looks_like_id(text: str) -> bool:
    """Whether ``text`` has the shape of a credential id: 26 base32 letters, in either case (an
    edge refuses anything else before it asks a store; :func:`id_to_cti` decodes one)."""
    return _ID_SHAPE.fullmatch(text) is not None


def id_to_cti(cred_id: str) -> bytes | None:
    if not isinstance(cred_id, str) or len(cred_id) != 26:
        return None
    try:
        cti = base64.b32decode(cred_id.upper() + "======")
    except ValueError:
        return None
    return cti if len(cti) == 16 else None


def new_cti() -> bytes:
    return os.urandom(16)


class Claims(NamedTuple):
    """The checked claims of a credential (a tuple: the C fast path builds it without a call)."""

    iss: str
    iat: int
    exp: int
    nbf: int | None
    cti: bytes
    type_id: str
    type_version: int
    fields: Mapping[str, Any]
    status_uri: str | None = None
    status_idx: int | None = None

    @property
    def id(self) -> str:
        return cti_to_id(self.cti)


def _is_int(v: Any) -> bool:
    return type(v) is int


_FIELD_TYPES = (str, int, bool, bytes)


def parse_claims(obj: Any) -> Claims:
    """Check the claims map against the format spec; ``CLAIMS_MALFORMED`` otherwise."""

    def bad(msg: str) -> FormatError:
        return FormatError(Outcome.CLAIMS_MALFORMED, msg)

    if not isinstance(obj, Mapping):
        raise bad("payload is not a CBOR map")
    get = obj.get
    iss, exp, iat, nbf, cti = get(CLAIM_ISS), get(CLAIM_EXP), get(CLAIM_IAT), get(CLAIM_NBF), get(CLAIM_CTI)
    if type(iss) is not str or not iss:
        raise bad("iss must be text")
    if not is_time(exp) or not is_time(iat):
        raise bad("exp and iat must be integer epoch seconds (1970 to 9999)")
    if CLAIM_NBF in obj and not is_time(nbf):
        raise bad("nbf must be integer epoch seconds (1970 to 9999) when present")
    if type(cti) is not bytes or len(cti) != 16:
        raise bad("cti must be 16 bytes")
    ec = obj.get(CLAIM_ECERT)
    if not isinstance(ec, Mapping):
        raise bad("the ecert claim (-70000) is missing")
    t, v, d = ec.get("t"), ec.get("v"), ec.get("d")
    if not isinstance(t, str) or not _is_int(v) or not isinstance(d, Mapping):
        raise bad("ecert claim must be {t: text, v: int, d: map}")
    if not 1 <= v <= MAX_TYPE_VERSION:
        raise bad(f"the type version must be 1 to {MAX_TYPE_VERSION}")
    for k, val in d.items():
        if type(k) is not str or type(val) not in _FIELD_TYPES:
            raise bad("fields must map text names to text, integers, booleans or byte strings")
    uri = idx = None
    if CLAIM_STATUS in obj:
        st = obj[CLAIM_STATUS]
        sl = st.get("status_list") if isinstance(st, Mapping) else None
        if not isinstance(sl, Mapping):
            raise bad("status claim must hold a status_list map")
        uri, idx = sl.get("uri"), sl.get("idx")
        if not isinstance(uri, str) or not _is_int(idx) or not 0 <= idx <= MAX_STATUS_IDX:
            raise bad(f"status_list must be {{idx: 0 to {MAX_STATUS_IDX}, uri: text}}")
    return Claims(iss, iat, exp, nbf, cti, t, v, d, uri, idx)


def build_claims(*, iss: str, iat: int, exp: int, cti: bytes, type_id: str, type_version: int,
                 fields: Mapping[str, Any], nbf: int | None = None,
                 status_uri: str | None = None, status_idx: int | None = None) -> dict:
    claims: dict[int, Any] = {CLAIM_ISS: iss, CLAIM_IAT: iat, CLAIM_EXP: exp, CLAIM_CTI: cti}
    if nbf is not None:
        claims[CLAIM_NBF] = nbf
    if status_uri is not None:
        claims[CLAIM_STATUS] = {"status_list": {"idx": status_idx, "uri": status_uri}}
    claims[CLAIM_ECERT] = {"t": type_id, "v": type_version, "d": dict(fields)}
    return claims


def compress(data: bytes) -> bytes:
    """zlib at level 9 with a 4 KiB window: a credential fits a QR code (under 3 KiB
    compressed), and the small window makes compressing three times cheaper than the default."""
    c = zlib.compressobj(9, zlib.DEFLATED, 12, 4)
    return c.compress(data) + c.flush()


def encode_text(cose_bytes: bytes) -> str:
    return PREFIX + b45.encode(compress(cose_bytes))


def sign_claims(key: Signer, claims: Mapping[int, Any], **overrides) -> str:
    """Sign a claims map as an EC1 text (hazardous: no checks of the claims)."""
    return encode_text(cose.sign1(key, cbor2.dumps(dict(claims)), **overrides))


def issue(key: Signer, **claim_args) -> str:
    """Recipe: build the claims (see :func:`build_claims`), sign, and encode as EC1 text."""
    return sign_claims(key, build_claims(**claim_args))


def decode_base45(text: str, prefix: str, max_text: int = MAX_TEXT) -> bytes:
    """Prefix, Base45 and size checks shared by EC1 and EP1 texts."""
    if not isinstance(text, str) or not text.startswith(prefix):
        raise FormatError(Outcome.PREFIX_UNKNOWN, "text does not start with a known prefix")
    body = text[len(prefix):]
    if len(text) > max_text:
        # Validate the alphabet first so the answer follows the spec's order.
        if not b45.in_alphabet(body):
            raise FormatError(Outcome.BASE45_INVALID, "not valid Base45")
        raise FormatError(Outcome.PAYLOAD_TOO_LARGE, f"text is longer than {max_text} characters")
    try:
        return b45.decode(body)
    except b45.Base45Error as err:
        raise FormatError(Outcome.BASE45_INVALID, str(err)) from err


def decompress(data: bytes, limit: int = MAX_COSE) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as err:
        raise FormatError(Outcome.DECOMPRESS_FAILED, "zlib stream invalid") from err
    if len(out) > limit:
        raise FormatError(Outcome.PAYLOAD_TOO_LARGE, f"decompressed COSE is over {limit} bytes")
    if not d.eof:
        raise FormatError(Outcome.DECOMPRESS_FAILED, "zlib stream truncated")
    if d.unused_data:
        raise FormatError(Outcome.DECOMPRESS_FAILED, "bytes after the end of the zlib stream")
    return out


def decode_text(text: str) -> bytes:
    """EC1 text to COSE_Sign1 bytes, with every size bound of the spec."""
    return decompress(decode_base45(text, PREFIX))
