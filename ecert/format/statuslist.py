"""Token Status List (draft-ietf-oauth-status-list, CWT form), two bits per entry.

Entry ``idx`` sits in byte ``idx // 4`` at bit offset ``2 * (idx % 4)`` from the
least significant bit. 0 valid, 1 revoked, 2 suspended.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cbor2

from ..errors import EcertError, FormatError
from ..vocab import CredentialStatus, KeyStatus
from . import cose
from .credential import CLAIM_EXP, CLAIM_IAT, CLAIM_SUB, decompress, is_time
from .keys import SigningKey

VALID = 0
REVOKED = 1
SUSPENDED = 2
STATUS_NAMES = {VALID: CredentialStatus.VALID, REVOKED: CredentialStatus.REVOKED,
                SUSPENDED: CredentialStatus.SUSPENDED}
STATUS_VALUES = {v: k for k, v in STATUS_NAMES.items()}

CLAIM_TTL = 65534
CLAIM_LIST = 65533
MAX_LIST_BYTES = 16 * 1024 * 1024  # 64 M entries


class StatusListError(EcertError):
    """A status list is malformed, unsigned or not the one asked for."""

    code = "STATUS_LIST_INVALID"


def build_bits(entries: Iterable[tuple[int, int]], size: int = 0) -> bytearray:
    """Pack ``(idx, value)`` pairs; entries not named are 0 (valid)."""
    pairs = list(entries)
    top = max([size] + [idx + 1 for idx, _ in pairs])
    bits = bytearray((top + 3) // 4)
    for idx, value in pairs:
        bits[idx >> 2] |= (value & 3) << ((idx & 3) << 1)
    return bits


def get_status(bits: bytes, idx: int) -> int:
    byte = idx >> 2
    if byte >= len(bits):
        return VALID
    return (bits[byte] >> ((idx & 3) << 1)) & 3


def sign(key: SigningKey, *, uri: str, bits: bytes, iat: int, exp: int, ttl: int) -> bytes:
    payload = {CLAIM_SUB: uri, CLAIM_IAT: iat, CLAIM_EXP: exp, CLAIM_TTL: ttl,
               CLAIM_LIST: {"bits": 2, "lst": zlib.compress(bytes(bits), 6)}}
    return cose.sign1(key, cbor2.dumps(payload))


@dataclass(frozen=True, slots=True)
class StatusList:
    uri: str
    iat: int
    exp: int
    ttl: int
    bits: bytes
    kid: bytes

    def get(self, idx: int) -> int:
        return get_status(self.bits, idx)

    def is_stale(self, now: int) -> bool:
        return now >= self.exp


def parse(signed: bytes, *, expected_uri: str, region_keys: Mapping[bytes, list]) -> StatusList:
    """Check a signed status list against the region's keys (``kid -> [KeyEntry]``)."""
    try:
        s1 = cose.parse_sign1(signed)
    except FormatError as err:
        raise StatusListError(f"status list is not a COSE_Sign1: {err}") from err
    keys = region_keys.get(s1.kid, ())
    if not any(k.public.alg == s1.alg and k.status != KeyStatus.REVOKED and k.public.verify(s1.signature, s1.to_be_signed())
               for k in keys):
        raise StatusListError("status list is not signed by a key of its region")
    try:
        obj = cose.loads(s1.payload)
        sub, iat, exp, ttl, lst = (obj[k] for k in (CLAIM_SUB, CLAIM_IAT, CLAIM_EXP, CLAIM_TTL, CLAIM_LIST))
        if type(sub) is not str or sub != expected_uri:
            raise StatusListError("status list is not the one asked for")
        if not all(is_time(t) for t in (iat, exp)) or type(ttl) is not int or ttl < 0:
            raise StatusListError("status list times must be integer epoch seconds")
        if type(lst["bits"]) is not int or lst["bits"] != 2:
            raise StatusListError("only 2-bit status lists are used")
        if type(lst["lst"]) is not bytes:
            raise StatusListError("lst must be a byte string")
        bits = decompress(lst["lst"], MAX_LIST_BYTES)
        return StatusList(sub, iat, exp, ttl, bits, s1.kid)
    except (KeyError, TypeError, ValueError, FormatError) as err:
        raise StatusListError(f"malformed status list: {err}") from err
