"""Token Status List (draft-ietf-oauth-status-list, CWT form), two bits per entry.

Entry ``idx`` sits in byte ``idx // 4`` at bit offset ``2 * (idx % 4)`` from the
least significant bit. 0 valid, 1 revoked, 2 suspended.

A region's entries are split in shards of :data:`SHARD_SIZE` entries, each its own list named
``urn:ecert:status:<region>:<n>`` (:func:`shard_uri`, n from 1): the region's running count g of
issued credentials puts a credential in shard ``g // SHARD_SIZE + 1`` at ``g % SHARD_SIZE``
(:func:`allocate`). Shard 1 is the single list of earlier releases, whose credentials may hold a
larger index: a list is built from the credentials that name its uri, whatever their index.

A parsed list keeps its entries compactly (:class:`StatusList`): a list that is mostly valid, as
every real one is, as the sorted indexes of its other entries (4 bytes each, looked up by
bisection), any other as its 2-bit array.
"""

from __future__ import annotations

import re
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from ..errors import EcertError, FormatError
from ..vocab import CredentialStatus, KeyStatus
from . import cose
from .credential import CLAIM_EXP, CLAIM_IAT, CLAIM_SUB, decompress, is_time
from .keys import Signer

VALID = 0
REVOKED = 1
SUSPENDED = 2
STATUS_NAMES = {VALID: CredentialStatus.VALID, REVOKED: CredentialStatus.REVOKED,
                SUSPENDED: CredentialStatus.SUSPENDED}
STATUS_VALUES = {v: k for k, v in STATUS_NAMES.items()}

CLAIM_TTL = 65534
CLAIM_LIST = 65533
MAX_LIST_BYTES = 16 * 1024 * 1024  # 64 M entries

SHARD_SIZE = 1 << 20
"""Entries in one shard: its list is 256 KiB before compression (a few KiB after, mostly valid)."""
MAX_SHARD = 1 << 16
"""The highest shard number a uri may name (2^36 entries a region: far over any population)."""
MAX_LISTS_PER_CALL = 1024
"""Lists one conditional fetch (GetStatusLists) may name: more are refused, not truncated."""
URI_PREFIX = "urn:ecert:status:"
MAX_URI = 256
"""Characters of a status list uri a request may name (a shard's is under 60)."""
_SHARD_URI = re.compile(r"urn:ecert:status:([A-Za-z0-9][A-Za-z0-9_-]{0,31}):([1-9][0-9]{0,5})")


class StatusListError(EcertError):
    """A status list is malformed, unsigned or not the one asked for."""

    code = "STATUS_LIST_INVALID"


class StatusListUnsigned(StatusListError):
    """A status list that no key of its region (active or retired) signed."""


# -- shards -------------------------------------------------------------------------------------

def shard_uri(region: str, n: int) -> str:
    """The uri of ``region``'s shard ``n`` (1 to :data:`MAX_SHARD`); ValueError outside."""
    uri = f"{URI_PREFIX}{region}:{n}"
    if type(n) is not int or parse_shard_uri(uri) != (region, n):
        raise ValueError(f"no shard {n!r} of region {region!r}")
    return uri


def parse_shard_uri(uri: str) -> tuple[str, int] | None:
    """``(region, n)`` of a shard uri written as :func:`shard_uri` writes it (no leading zeros, n from
    1 to :data:`MAX_SHARD`); None for any other text."""
    m = _SHARD_URI.fullmatch(uri) if type(uri) is str else None
    if m is None or int(m[2]) > MAX_SHARD:
        return None
    return m[1], int(m[2])


def allocate(region: str, g: int) -> tuple[str, int]:
    """The status claim ``(uri, idx)`` of the region's ``g``-th credential (g from 0)."""
    return shard_uri(region, g // SHARD_SIZE + 1), g % SHARD_SIZE


# -- the bit array ------------------------------------------------------------------------------

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


def sign(key: Signer, *, uri: str, bits: bytes, iat: int, exp: int, ttl: int) -> bytes:
    payload = {CLAIM_SUB: uri, CLAIM_IAT: iat, CLAIM_EXP: exp, CLAIM_TTL: ttl,
               CLAIM_LIST: {"bits": 2, "lst": zlib.compress(bytes(bits), 6)}}
    return cose.sign1(key, cbor2.dumps(payload))


# -- the compact form ---------------------------------------------------------------------------

_NONZERO = re.compile(rb"[^\x00]")
_KEY_TYPE = "I" if array("I").itemsize == 4 else "L"
# byte value -> the keys (2-bit offset << 2 | value) of its entries that are not valid
_BYTE_KEYS = [tuple((j << 2) | ((b >> (2 * j)) & 3) for j in range(4) if (b >> (2 * j)) & 3) for b in range(256)]


class _Dense:
    """The 2-bit array itself."""

    __slots__ = ("bits",)

    def __init__(self, bits: bytes):
        self.bits = bits

    def get(self, idx: int) -> int:
        return get_status(self.bits, idx)

    @property
    def nbytes(self) -> int:
        return sys.getsizeof(self.bits)

    def to_bits(self, size: int) -> bytes:
        return self.bits


class _Sparse:
    """The entries that are not valid, as sorted keys ``idx << 2 | value`` (idx < 2^26, so 4 bytes)."""

    __slots__ = ("keys",)

    def __init__(self, keys: array):
        self.keys = keys

    def get(self, idx: int) -> int:
        keys = self.keys
        key = idx << 2
        pos = bisect_left(keys, key)
        if pos < len(keys):
            found = keys[pos]
            if found >> 2 == idx:
                return found & 3
        return VALID

    @property
    def nbytes(self) -> int:
        return sys.getsizeof(self.keys)

    def to_bits(self, size: int) -> bytes:
        return bytes(build_bits(((key >> 2, key & 3) for key in self.keys), size * 4))


def _sparse_keys(bits: bytes) -> array:
    """The sparse keys of a bit array, its non-zero bytes found by the regex engine (C speed)."""
    keys = array(_KEY_TYPE)
    append = keys.append
    table = _BYTE_KEYS
    for m in _NONZERO.finditer(bits):
        p = m.start()
        base = p << 4
        for k in table[bits[p]]:
            append(base | k)
    return keys


def _compact(bits: bytes) -> _Dense | _Sparse:
    """The smaller form of a decompressed list: sparse while it is (at 4 bytes an entry not valid,
    against a quarter byte an entry for the array), which a list with under 1 entry in 16 not valid
    always is."""
    nonzero = len(bits) - bits.count(0)
    if nonzero * 4 < len(bits):
        keys = _sparse_keys(bits)
        if len(keys) * keys.itemsize < len(bits):
            return _Sparse(keys)
    return _Dense(bytes(bits))


class StatusList:
    """A checked status list: ``uri``, ``iat``, ``exp``, ``ttl``, the ``kid`` that signed it, and its
    entries in the compact form (:meth:`get`; :attr:`nbytes` is the memory they take)."""

    __slots__ = ("uri", "iat", "exp", "ttl", "kid", "size_bytes", "_table")

    def __init__(self, uri: str, iat: int, exp: int, ttl: int, bits: bytes, kid: bytes):
        self.uri, self.iat, self.exp, self.ttl, self.kid = uri, iat, exp, ttl, kid
        self.size_bytes = len(bits)
        """The length of the list as signed (decompressed), bytes."""
        self._table = _compact(bits)

    def get(self, idx: int) -> int:
        return self._table.get(idx)

    def is_stale(self, now: int) -> bool:
        return now >= self.exp

    @property
    def sparse(self) -> bool:
        return isinstance(self._table, _Sparse)

    @property
    def nbytes(self) -> int:
        """Bytes of memory this list holds: its entries and the object itself."""
        return self._table.nbytes + sys.getsizeof(self.uri) + 200

    @property
    def bits(self) -> bytes:
        """The 2-bit array as signed (rebuilt from the compact form: for tests and tools)."""
        return self._table.to_bits(self.size_bytes)

    def __repr__(self) -> str:
        return f"StatusList({self.uri!r}, iat={self.iat}, exp={self.exp}, ttl={self.ttl}, {self.size_bytes} bytes)"


@dataclass(frozen=True, slots=True)
class Header:
    """A status list whose signature and claims were checked, its entries left compressed
    (:func:`parse_header`): what a cache needs to index a file without reading the list."""

    uri: str
    iat: int
    exp: int
    ttl: int
    kid: bytes
    key: Any
    """The key entry that verified it (of ``region_keys``)."""


def _checked(signed: bytes, expected_uri: str | None, region_keys: Mapping[bytes, list]) -> tuple[Header, bytes]:
    try:
        s1 = cose.parse_sign1(signed)
    except FormatError as err:
        raise StatusListError(f"status list is not a COSE_Sign1: {err}") from err
    key = next((k for k in region_keys.get(s1.kid, ())
                if k.public.alg == s1.alg and k.status != KeyStatus.REVOKED
                and k.public.verify(s1.signature, s1.to_be_signed())), None)
    if key is None:
        raise StatusListUnsigned("status list is not signed by a key of its region")
    try:
        obj = cose.loads(s1.payload)
        sub, iat, exp, ttl, lst = (obj[k] for k in (CLAIM_SUB, CLAIM_IAT, CLAIM_EXP, CLAIM_TTL, CLAIM_LIST))
        if type(sub) is not str or (expected_uri is not None and sub != expected_uri):
            raise StatusListError("status list is not the one asked for")
        if not all(is_time(t) for t in (iat, exp)) or type(ttl) is not int or ttl < 0:
            raise StatusListError("status list times must be integer epoch seconds")
        if type(lst["bits"]) is not int or lst["bits"] != 2:
            raise StatusListError("only 2-bit status lists are used")
        if type(lst["lst"]) is not bytes:
            raise StatusListError("lst must be a byte string")
        return Header(sub, iat, exp, ttl, s1.kid, key), lst["lst"]
    except (KeyError, TypeError, ValueError, FormatError) as err:
        raise StatusListError(f"malformed status list: {err}") from err


def parse_header(signed: bytes, *, expected_uri: str | None, region_keys: Mapping[bytes, list]) -> Header:
    """:func:`parse`'s checks of the signature and the claims, without decompressing the list."""
    return _checked(signed, expected_uri, region_keys)[0]


def parse(signed: bytes, *, expected_uri: str | None, region_keys: Mapping[bytes, list]) -> StatusList:
    """Check a signed status list against the region's keys (``kid -> [KeyEntry]``). ``expected_uri``
    None accepts any uri (the caller checks :attr:`StatusList.uri`)."""
    head, lst = _checked(signed, expected_uri, region_keys)
    try:
        bits = decompress(lst, MAX_LIST_BYTES)
    except FormatError as err:
        raise StatusListError(f"malformed status list: {err}") from err
    return StatusList(head.uri, head.iat, head.exp, head.ttl, bits, head.kid)
