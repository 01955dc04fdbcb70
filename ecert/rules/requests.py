"""The checks of a request's own values that every entry point makes the same way: the
gateway before it calls a service, the service again for callers that reach it directly."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import InvalidRequest
from ..limits import MAX_BATCH, MAX_PURPOSE, MAX_REQUEST_ID, MAX_RULE_ITEMS, MAX_VALID_DAYS
from .access import parse_purpose


def check_purpose(purpose: str) -> str:
    if len(purpose) > MAX_PURPOSE:
        raise InvalidRequest(f"purpose is over {MAX_PURPOSE} characters", field="purpose", key="field.TOO_LONG",
                             params={"max": MAX_PURPOSE})
    return purpose


def check_shown_purpose(purpose: str) -> str:
    """The purpose a holder limits a show code (EP1) to: "" for any, else one of the purposes
    (400 ``PURPOSE_UNKNOWN``). Any role's: which roles may verify for it is judged at resolution."""
    check_purpose(purpose)
    if purpose:
        parse_purpose(purpose)
    return purpose


def check_rule_items(items: list, name: str) -> frozenset[str]:
    """A recognition rule's list (``types`` or ``recognises``): at most MAX_RULE_ITEMS texts, a
    repeat counting once. What each text must be, the registry judges."""
    if len(items) > MAX_RULE_ITEMS:
        raise InvalidRequest(f"{name} holds at most {MAX_RULE_ITEMS} entries", field=name, key="field.TOO_MANY",
                             params={"max": MAX_RULE_ITEMS})
    if not all(isinstance(item, str) for item in items):
        raise InvalidRequest(f"{name} must be a list of text", field=name, key="field.WRONG_TYPE",
                             params={"type": "array"})
    return frozenset(items)


def check_batch(payloads: Sequence) -> Sequence:
    if len(payloads) > MAX_BATCH:
        raise InvalidRequest(f"at most {MAX_BATCH:,} payloads per batch", field="payloads", key="field.TOO_MANY",
                             params={"max": MAX_BATCH})
    return payloads


def check_valid_days(days: int) -> int:
    if not 1 <= days <= MAX_VALID_DAYS:
        raise InvalidRequest(f"valid_days must be 1..{MAX_VALID_DAYS}", field="valid_days", key="field.OUT_OF_RANGE",
                             params={"min": 1, "max": MAX_VALID_DAYS})
    return days


def check_request_id(request_id: str) -> str:
    if len(request_id) > MAX_REQUEST_ID:
        raise InvalidRequest(f"request_id is over {MAX_REQUEST_ID} characters", field="request_id",
                             key="field.TOO_LONG", params={"max": MAX_REQUEST_ID})
    return request_id


_PHOTO_DIGEST = re.compile(r"[0-9a-fA-F]{64}\Z")


def check_photo_digest(digest: str, field: str = "digest") -> str:
    """A photo's name, the SHA-256 of its stored bytes: 64 hex digits, returned lower-case."""
    if not isinstance(digest, str) or not _PHOTO_DIGEST.match(digest):
        raise InvalidRequest("a photo is named by its SHA-256, 64 hex digits", field=field, key="field.PHOTO_DIGEST")
    return digest.lower()
