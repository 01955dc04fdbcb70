"""EP1 presentation tokens: the short-lived dynamic "show" code for online checks.

QR text = ``"EP1:" || Base45(COSE_Sign1)`` (no zlib), claims
``{1: iss, 6: iat, 4: exp (<= iat + 300), 7: cti, -70001: {"c": credential cti}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from ..errors import FormatError, Outcome
from . import b45, cose
from .credential import (
    CLAIM_CTI,
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    MAX_COSE,
    decode_base45,
    is_time,
    new_cti,
)
from .keys import Signer

PREFIX = "EP1:"
CLAIM_REF = -70001
MAX_TTL = 300
# Base45 of the 64 KiB COSE bound: EP1 is not compressed.
MAX_TEXT = len(PREFIX) + (MAX_COSE // 2) * 3 + 2
_TOKEN_ID = re.compile(r"[0-9a-fA-F]{32}\Z")


def looks_like_token_id(text: str) -> bool:
    """Whether ``text`` has the shape of a token's id: its 16-byte ``cti`` in hex (either case)."""
    return isinstance(text, str) and _TOKEN_ID.match(text) is not None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    iss: str
    iat: int
    exp: int
    cti: bytes
    credential_cti: bytes


def issue(key: Signer, *, iss: str, credential_cti: bytes, now: int, ttl: int = MAX_TTL,
          cti: bytes | None = None) -> tuple[str, TokenClaims]:
    ttl = min(ttl, MAX_TTL)
    claims = TokenClaims(iss, now, now + ttl, cti or new_cti(), credential_cti)
    payload = {CLAIM_ISS: iss, CLAIM_IAT: now, CLAIM_EXP: now + ttl, CLAIM_CTI: claims.cti,
               CLAIM_REF: {"c": credential_cti}}
    return PREFIX + b45.encode(cose.sign1(key, cbor2.dumps(payload))), claims


def decode_text(text: str) -> bytes:
    cose_bytes = decode_base45(text, PREFIX, MAX_TEXT)
    if len(cose_bytes) > MAX_COSE:
        raise FormatError(Outcome.PAYLOAD_TOO_LARGE, "token is over 64 KiB")
    return cose_bytes


def parse_claims(obj: Any) -> TokenClaims:
    def bad(msg: str) -> FormatError:
        return FormatError(Outcome.CLAIMS_MALFORMED, msg)

    if not isinstance(obj, Mapping):
        raise bad("payload is not a CBOR map")
    iss, iat, exp, cti, ref = (obj.get(k) for k in (CLAIM_ISS, CLAIM_IAT, CLAIM_EXP, CLAIM_CTI, CLAIM_REF))
    if not isinstance(iss, str) or not is_time(iat) or not is_time(exp):
        raise bad("iss, iat and exp (integer epoch seconds, 1970 to 9999) are required")
    if exp > iat + MAX_TTL:
        raise bad("a presentation token lives at most 300 seconds")
    if not isinstance(cti, bytes) or len(cti) != 16:
        raise bad("cti must be 16 bytes")
    c = ref.get("c") if isinstance(ref, Mapping) else None
    if not isinstance(c, bytes) or len(c) != 16:
        raise bad("ref must be {c: credential cti}")
    return TokenClaims(iss, iat, exp, cti, c)
