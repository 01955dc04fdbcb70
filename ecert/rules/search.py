"""Finding a region's credentials: a search's filters and their bounds, the holder's keyed hash
and the cursor that pages through the answer.

A search is one region's (``GET /v1/credentials``, for the region's agencies and admins). Its
filters are all optional and all must match: the certificate type, the status (the vocabulary's),
the time of issue (``issued_from`` inclusive, ``issued_before`` exclusive: consecutive windows
never overlap) and the holder's ID number. The number is never stored for searching: at issuance
the region's issuer keeps ``HMAC-SHA256(search key, normalised number)`` on the record
(:func:`holder_hash`), and a search by holder hashes the number it is given the same way. The key
is the region's secret, so the hashes cannot be tried against the million numbers of a birth date
and a place by whoever reads the store.

The answer comes newest first (issued time, then id, both descending): the order is total, so a
cursor, the last answer's ``(issued_at, id)``, names the exact place to go on from; a credential
issued meanwhile comes before it and is not in the later pages, and none is answered twice or
skipped. A cursor also carries a short digest, keyed by the region's search key, of the region and
filters it was answered for (no cursor is made but by the issuer): one
used with other filters, or at another region, is refused rather than answering a page of another
search.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from ..errors import InvalidRequest
from ..format.credential import looks_like_id
from ..limits import DEFAULT_SEARCH_PAGE, MAX_CURSOR, MAX_EPOCH, MAX_HOLDER_ID, MAX_SEARCH_PAGE
from ..vocab import CredentialStatus
from .schema import check_type_id

HOLDER_FIELD = "id_number"
"""The field of a credential that names its holder's ID number (the types with a holder have it)."""
SEARCH_KEY_BYTES = 32
"""Bytes of a region's search key."""

_STATUSES = tuple(s.value for s in CredentialStatus)
_HOLDER_ID = re.compile(rf"[0-9A-Z]{{1,{MAX_HOLDER_ID}}}")
_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_CURSOR_TEXT = re.compile(r"1:(\d{1,15}):([0-9A-Z]{26}):([0-9a-f]{16})")
"""A cursor, decoded: its version, the last answer's issued_at and id, and the filters' digest."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search asks for ("" / 0: any), in ``region``. ``holder_hash`` is :func:`holder_hash` of the number."""

    region: str = ""
    type: str = ""
    status: str = ""
    issued_from: int = 0
    issued_before: int = 0
    holder_hash: str = ""

    def digest(self, key: bytes) -> str:
        """A short digest of the filters, which a cursor carries (:func:`encode_cursor`): keyed by the
        region's search key, so that no cursor is made but by the issuer, and none says anything of
        a holder hash (the text is never a bare ID number: no hash of a holder's is made the same)."""
        text = "\x1f".join(("cursor", self.region, self.type, self.status, str(self.issued_from),
                            str(self.issued_before), self.holder_hash))
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:16]


# -- the filters ---------------------------------------------------------------------------------

def check_type_filter(type_id: str) -> str:
    """``""`` (any type) or a certificate type id, else 400 naming ``type``."""
    return type_id and check_type_id(type_id, "type")


def check_status_filter(status: str) -> str:
    """``""`` (any) or a credential status (valid, revoked, suspended), else 400 naming ``status``."""
    if status and status not in _STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(_STATUSES)}", field="status")
    return status


def check_issued(issued_from: int, issued_before: int) -> tuple[int, int]:
    """The window of issue (epoch seconds; 0: unbounded), else 400 naming the bound at fault."""
    for name, value in (("issued_after", issued_from), ("issued_before", issued_before)):
        if value.__class__ is not int or not 0 <= value <= MAX_EPOCH:
            raise InvalidRequest(f"{name} must be an instant from 1970 on", field=name)
    if issued_from and issued_before and issued_before <= issued_from:
        raise InvalidRequest("issued_before must be later than issued_after", field="issued_before")
    return issued_from, issued_before


def check_limit(limit: int) -> int:
    """A page's size: 1 to :data:`~ecert.limits.MAX_SEARCH_PAGE` (0: the default), else 400."""
    if limit == 0:
        return DEFAULT_SEARCH_PAGE
    if limit.__class__ is not int or not 1 <= limit <= MAX_SEARCH_PAGE:
        raise InvalidRequest(f"limit must be 1 to {MAX_SEARCH_PAGE}", field="limit")
    return limit


def normalise_holder_id(text: str) -> str:
    """An ID number as it is hashed: without surrounding spaces, its letters upper case (a citizen
    ID's check character ``x`` is ``X``); 400 naming ``holder_id`` for anything but 1 to
    :data:`~ecert.limits.MAX_HOLDER_ID` letters and digits. The refusal never repeats the text."""
    number = text.strip().upper() if isinstance(text, str) else ""
    if not _HOLDER_ID.fullmatch(number):
        raise InvalidRequest(f"holder_id must be an ID number: 1 to {MAX_HOLDER_ID} letters and digits",
                             field="holder_id")
    return number


def holder_hash(key: bytes, id_number: str) -> str:
    """What a record keeps of its holder's ID number for searching: HMAC-SHA256 under the region's
    search key of the normalised number (:func:`normalise_holder_id`), hex."""
    return hmac.new(key, normalise_holder_id(id_number).encode("ascii"), hashlib.sha256).hexdigest()


def record_holder_hash(key: bytes, fields: dict) -> str | None:
    """The holder hash of a credential's fields (None: it names no ID number to find it by)."""
    number = fields.get(HOLDER_FIELD)
    if not isinstance(number, str):
        return None
    try:
        return holder_hash(key, number)
    except InvalidRequest:  # the type's schema allowed a number of another shape: not found by holder
        return None


# -- the cursor ----------------------------------------------------------------------------------

def encode_cursor(issued_at: int, cred_id: str, filters: Filters, key: bytes) -> str:
    """The cursor that goes on after the credential ``(issued_at, cred_id)`` for ``filters``
    (``key``: the region's search key)."""
    text = f"1:{issued_at}:{cred_id}:{filters.digest(key)}"
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, filters: Filters, key: bytes) -> tuple[int, str] | None:
    """``(issued_at, id)`` a cursor goes on after (None for ``""``: the first page); 400 naming
    ``cursor`` for one no search answered, or one answered for other filters."""
    if not cursor:
        return None
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR or not _CURSOR.fullmatch(cursor):
        raise InvalidRequest("cursor must be a next_cursor a search answered", field="cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    m = _CURSOR_TEXT.fullmatch(text)
    if m is None or not looks_like_id(m[2]) or int(m[1]) > MAX_EPOCH:
        raise InvalidRequest("cursor must be a next_cursor a search answered", field="cursor")
    if not hmac.compare_digest(m[3], filters.digest(key)):
        raise InvalidRequest("cursor was answered for other filters: search again from the first page",
                             field="cursor")
    return int(m[1]), m[2]
