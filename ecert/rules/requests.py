"""The checks of a request's own values that every entry point makes the same way: the
gateway before it calls a service, the service again for callers that reach it directly."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import InvalidRequest
from ..limits import MAX_BATCH, MAX_PURPOSE, MAX_REQUEST_ID, MAX_VALID_DAYS
from ..vocab import Purpose


def check_purpose(purpose: str) -> str:
    if len(purpose) > MAX_PURPOSE:
        raise InvalidRequest(f"purpose is over {MAX_PURPOSE} characters", field="purpose")
    return purpose


_PURPOSE_VALUES = frozenset(p.value for p in Purpose)


def check_shown_purpose(purpose: str) -> str:
    """The purpose a holder limits a show code (EP1) to: "" for any, else one of the purposes
    (400 ``PURPOSE_UNKNOWN``). Any role's: which roles may verify for it is judged at resolution."""
    check_purpose(purpose)
    if purpose and purpose not in _PURPOSE_VALUES:
        raise InvalidRequest(f"purpose must be one of {', '.join(sorted(_PURPOSE_VALUES))}, or none",
                             code="PURPOSE_UNKNOWN", field="purpose")
    return purpose


def check_batch(payloads: Sequence) -> Sequence:
    if len(payloads) > MAX_BATCH:
        raise InvalidRequest(f"at most {MAX_BATCH:,} payloads per batch", field="payloads")
    return payloads


def check_valid_days(days: int) -> int:
    if not 1 <= days <= MAX_VALID_DAYS:
        raise InvalidRequest(f"valid_days must be 1..{MAX_VALID_DAYS}", field="valid_days")
    return days


def check_request_id(request_id: str) -> str:
    if len(request_id) > MAX_REQUEST_ID:
        raise InvalidRequest(f"request_id is over {MAX_REQUEST_ID} characters", field="request_id")
    return request_id


_PHOTO_DIGEST = re.compile(r"[0-9a-fA-F]{64}\Z")


def check_photo_digest(digest: str, field: str = "digest") -> str:
    """A photo's name, the SHA-256 of its stored bytes: 64 hex digits, returned lower-case."""
    if not isinstance(digest, str) or not _PHOTO_DIGEST.match(digest):
        raise InvalidRequest("a photo is named by its SHA-256, 64 hex digits", field=field)
    return digest.lower()
