"""Checks a page made offline, delivered to their issuing regions' trails while the page waits.

The page keeps its queue until this answers (:mod:`ecert.rules.offline` says what a check must be
and the entry it becomes): the checks are judged as a whole first (one out of shape: 400, nothing
recorded), then each region's go to its issuer (the endpoint the trust list names) in one call,
the regions at once. The answer counts the entries made and those the trails held already (a
retry of the same ids), so the page can drop exactly what was acknowledged. A region that cannot be
reached is 503 ``REGION_UNAVAILABLE``: the page sends the same checks again later, and what the
other regions recorded meanwhile comes back as duplicates, never as second entries. Unlike the
outbox (:mod:`.outbox`), nothing is kept here: the page's own queue is the durable copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from ecert.clock import Clock
from ecert.errors import EcertError, InvalidRequest, Unavailable
from ecert.rules import trail
from ecert.rules.access import Principal, require_role
from ecert.rules.offline import OfflineCheck, check_offline
from ecert.vocab import VERIFY_ROLES

log = logging.getLogger("ecert.verifier.offline")


class DeliveryUpstream(Protocol):
    async def record_checks(self, endpoint: str, records: Sequence[trail.Record]) -> tuple[int, int, list[str]]:
        """(entries made, entries held already, ids refused)."""


class Delivered(NamedTuple):
    accepted: int
    duplicates: int
    ignored: int


class OfflineChecks:
    """Offline checks into the trails of the regions the trust list in ``trust()`` names."""

    def __init__(self, trust, upstream: DeliveryUpstream, *, skew: int, now: Clock):
        self.trust = trust  # () -> the TrustList in hand, or None
        self.upstream = upstream
        self.skew = skew
        self.now = now

    async def record(self, p: Principal, checks: Sequence[OfflineCheck]) -> Delivered:
        """Record ``checks`` reported by ``p`` (anyone who may verify; 403 otherwise), each once by its id."""
        require_role(p, *VERIFY_ROLES)
        judged = check_offline(p, checks, self.now(), self.skew)
        trust = self.trust()
        if judged.records and trust is None:
            raise Unavailable("no trust list yet: the registry could not be reached", code="REGION_UNAVAILABLE")
        endpoints: dict[str, str] = {}
        for i, c in enumerate(checks):
            if c.region not in judged.records or c.region in endpoints:
                continue
            entry = trust.regions.get(c.region)
            if entry is None:
                raise InvalidRequest("the trust list names no such region", field=f"checks[{i}].region",
                                     key="field.INVALID")
            if not entry.endpoint:
                raise Unavailable(f"region {c.region} has no issuer online", code="REGION_UNAVAILABLE")
            endpoints[c.region] = entry.endpoint
        regions = list(judged.records)
        answers = await asyncio.gather(*(self.upstream.record_checks(endpoints[r], judged.records[r]) for r in regions),
                                       return_exceptions=True)
        accepted = duplicates = ignored = 0
        failed: list[str] = []
        for region, answer in zip(regions, answers):
            if isinstance(answer, BaseException):
                if not isinstance(answer, EcertError):
                    raise answer
                log.warning("offline checks for %s could not be delivered (%s)", region, answer.code)
                failed.append(region)
                continue
            made, held, refused = answer
            accepted += made
            duplicates += held
            if refused:  # malformed (judged here as the region judges), or of a credential the region does not hold
                log.warning("%s refused %d offline check(s): malformed, or of no credential it holds", region, len(refused))
                ignored += len(refused)
        if failed:
            raise Unavailable(f"the trail of {', '.join(sorted(failed))} could not be reached: send the checks again",
                              code="REGION_UNAVAILABLE")
        return Delivered(accepted, duplicates, ignored + judged.ignored)
