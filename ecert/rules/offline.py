"""Checks a scanner page made offline, delivered later for the issuing regions' trails.

Plain Python: what a check reported by a page must be, and the trail record it becomes. A page
(``/scan``) verifies from its cached lists while there is no network and queues each check without
personal data: its own id (a UUID it made, the idempotency key), the credential's id and issuing
region, the outcome, the purpose and the time on the device. Delivered once online, each becomes one
``verify`` entry in its region's trail, the caller's API key as the checker; its entry id is made
from the caller's key id and the check's id (:func:`entry_id`), so the same check delivered again,
by a retry or a second tab, makes no second entry, and one caller cannot take another's ids.

Only the outcomes the server's trail would have kept are recorded (:data:`RECORDED`: a credential
whose signature verified, whatever its outcome); the others (a forgery, an unreadable code) name
nobody's credential and are answered as ``ignored``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import NamedTuple

from ..errors import InvalidRequest, Outcome
from ..format.credential import looks_like_id
from ..limits import MAX_CLIENT_ID, MAX_EPOCH, MAX_OFFLINE_AGE, MAX_OFFLINE_CHECKS
from ..vocab import TrailAction
from . import trail
from .access import Principal, purpose_for
from .requests import check_purpose
from .schema import is_region_code

RECORDED = frozenset({Outcome.VALID, Outcome.NOT_YET_VALID, Outcome.EXPIRED, Outcome.TYPE_UNKNOWN,
                      Outcome.SCHEMA_INVALID, Outcome.REVOKED, Outcome.SUSPENDED, Outcome.NOT_ACCEPTED_FOR_PURPOSE})
"""The outcomes of a check the trail keeps: those reached after the credential's signature, key and
issuer checked out (``services.verifier``'s ``Verifier.recorded``)."""
_OUTCOMES = frozenset(o.value for o in Outcome)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ENTRY_PREFIX = "offline-"
"""How the trail entry ids of checks made offline begin."""


class OfflineCheck(NamedTuple):
    """One check as a page reported it (``checked_at``: epoch seconds, on the device's clock)."""

    id: str
    credential_id: str
    region: str
    result: str
    purpose: str
    checked_at: int


class Checked(NamedTuple):
    """A delivery's checks, judged: the trail records by issuing region (in the order sent), and how
    many were ignored (an outcome the trail does not keep)."""

    records: dict[str, list[trail.Record]]
    ignored: int


def entry_id(key_id: str, check_id: str) -> str:
    """The trail entry id of a check: the caller's key id and the check's (lower-case) id, hashed."""
    digest = hashlib.sha256(f"{key_id}\n{check_id.lower()}".encode()).hexdigest()
    return f"{ENTRY_PREFIX}{digest[:40]}"


def _field(i: int, name: str) -> str:
    return f"checks[{i}].{name}"


def check_offline(p: Principal, checks: Sequence[OfflineCheck], now: int, skew: int) -> Checked:
    """The trail records of ``checks`` reported by ``p``, or 400 naming the first member out of
    shape (``checks[i].name``): nothing of a refused delivery is recorded. 403 for a purpose ``p``'s
    role may not verify for. A check dated more than :data:`~ecert.limits.MAX_OFFLINE_AGE` behind
    ``now`` is refused; one dated more than ``skew`` seconds ahead (a device clock running fast) is
    recorded at ``now``."""
    if not checks:
        raise InvalidRequest("checks must hold at least one check", field="checks", key="field.REQUIRED")
    if len(checks) > MAX_OFFLINE_CHECKS:
        raise InvalidRequest(f"at most {MAX_OFFLINE_CHECKS} checks in one call", field="checks",
                             key="field.TOO_MANY", params={"max": MAX_OFFLINE_CHECKS})
    records: dict[str, list[trail.Record]] = {}
    ignored = 0
    for i, c in enumerate(checks):
        if not (len(c.id) <= MAX_CLIENT_ID and _UUID.fullmatch(c.id)):
            raise InvalidRequest("a check's id must be a UUID the page made", field=_field(i, "id"),
                                 key="field.INVALID")
        if not looks_like_id(c.credential_id):
            raise InvalidRequest("credential_id must be a credential id", field=_field(i, "credential_id"),
                                 key="field.INVALID")
        if not is_region_code(c.region):
            raise InvalidRequest("region must be a region code such as CN-ZJ", field=_field(i, "region"),
                                 key="field.REGION_FORMAT")
        if c.result not in _OUTCOMES:
            raise InvalidRequest("result must be an outcome code", field=_field(i, "result"),
                                 key="field.INVALID")
        if not now - MAX_OFFLINE_AGE <= c.checked_at <= MAX_EPOCH:
            raise InvalidRequest(f"checked_at must be within the last {MAX_OFFLINE_AGE // 86400} days",
                                 field=_field(i, "checked_at"), key="field.INVALID")
        # A device whose clock runs ahead still reports a real check: it is recorded, at the time it
        # reached the suite (no trail entry is dated in the future), never refused and so lost.
        at = c.checked_at if c.checked_at <= now + skew else now
        try:
            purpose = purpose_for(p, check_purpose(c.purpose)).value
        except InvalidRequest as err:
            raise InvalidRequest(str(err), code=err.code, field=_field(i, "purpose"), key=err.key,
                                 params=err.params) from err
        if c.result not in RECORDED:
            ignored += 1
            continue
        r = trail.Record(entry_id(p.key_id, c.id), c.credential_id.upper(), at, TrailAction.VERIFY.value,
                         p.org, p.key_id, str(p.role), p.region, purpose, c.result)
        records.setdefault(c.region, []).append(trail.check_record(r))
    return Checked(records, ignored)
