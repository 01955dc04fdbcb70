"""Two limits: failed authentications per client address (:class:`AuthThrottle`), and each API
key's quota (:class:`Quotas`).

**Failed authentications.**

Each address that presents a key that is not accepted (unknown, disabled, too long) opens a
window of a minute from that first failure. Once it has failed ``per_minute`` times in its window, every request of that address that
needs a key is answered 429 ``TOO_MANY_REQUESTS`` with ``Retry-After`` until the window ends,
**a correct key included**, and before the key is looked at (no store, no cache): otherwise the
limit would still let the guessing go on at full speed, only sorting the guesses. The event is
logged once per window, with the address and never the key.

Memory is bounded: at most ``size`` addresses are followed (least recently seen out first), each
forgotten when its window ends. Time is injectable (``clock=``, monotonic seconds).

**Quotas.** A key may make ``per_minute`` requests in each minute and ``per_day`` in each day (a
day of China time, UTC+8, from midnight), its role's numbers unless it has its own
(:meth:`ecert.rules.apikeys.Grant.quota`); 0 is no limit. The windows are fixed (aligned on the
epoch, the same in every process). Past either limit the request is answered 429
``QUOTA_EXCEEDED`` with ``Retry-After``: the whole seconds until that window ends.

The count is shared by every gateway process through the store, and no process admits past a
limit: a process reserves requests in the store's counter of each window in leases (an atomic
increment: the first of 1, each next twice the last, up to ``limit // LEASE_PARTS``, and at most
``1 / LEASE_SHRINK`` of what is left) and admits from its lease without asking the store again, and
gives back what it did not use when it stops; what an add takes past the limit is not granted. So
two processes never make a quota two (the store is asked once per lease, not per request), and a
key may be refused at most the leases other processes hold unused before its limit. While the store
cannot be asked, each process counts alone (logged). The store's counters of ended windows are
removed (:meth:`Quotas.prune`); in memory, a key's windows are forgotten once ended or idle for two
minutes. Time is injectable (``wall=``, epoch seconds).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ecert.errors import TooManyRequests
from ecert.rules.apikeys import Grant, Quota
from ecert.rules.document import CST_OFFSET
from ecert.runtime.cache import BoundedCache

log = logging.getLogger("ecert.gateway")

WINDOW = 60.0
"""Seconds of one window."""
SIZE = 10_000
"""Client addresses followed at once."""


@dataclass(slots=True)
class _Window:
    started: float
    failures: int = 0


class AuthThrottle:
    """``per_minute`` failed authentications per address and window; 0 turns the limit off."""

    def __init__(self, per_minute: int, *, size: int = SIZE, clock: Callable[[], float] = time.monotonic):
        self.limit = max(0, per_minute)
        self.window = WINDOW
        self._clock = clock
        self._seen: BoundedCache[str, _Window] = BoundedCache(size, WINDOW, clock=clock)

    def retry_after(self, address: str) -> int | None:
        """Whole seconds ``address`` must wait before its keys are looked at again (it is past the
        limit), or None."""
        if not self.limit:
            return None
        w = self._seen.get(address)
        if w is None or w.failures < self.limit:
            return None
        return max(1, math.ceil(w.started + self.window - self._clock()))

    def failed(self, address: str) -> None:
        """``address`` presented a key that was not accepted."""
        if not self.limit:
            return
        w = self._seen.get(address)
        if w is None:
            w = _Window(self._clock())
            self._seen.put(address, w)  # forgotten when the window ends (the cache's ttl)
        w.failures += 1
        if w.failures == self.limit:  # once per window
            log.warning("authentication: %d failed keys from %s within %.0f s; its keyed requests are "
                        "answered 429 for %d s", w.failures, address or "an unknown address", self.window,
                        max(1, math.ceil(w.started + self.window - self._clock())))


# -- quotas --------------------------------------------------------------------------------------

SYNC_INTERVAL = 1.0
"""Seconds between two rounds of the background upkeep (idle windows forgotten, last uses written)."""
LEASE_PARTS = 20
"""A lease is at most this part of a window's limit (600 a minute: leases of 30)."""
LEASE_SHRINK = 4
"""Near the limit a lease is at most this part of what is left, down to 1."""
PRUNE_INTERVAL = 600.0
"""Seconds between two removals of the store's ended counters (per process)."""
IDLE = 120
"""Seconds after which a window no request has touched is forgotten here (it stays in the store)."""
KEPT = 120
"""Seconds a counter is kept in the store past the end of its window."""
_WINDOWS = (("per_minute", "m", 60, 0), ("per_day", "d", 86400, CST_OFFSET))
"""Each limit: its name (also the metrics' reason), the counter's tag, the window's length and offset."""


class QuotaExceeded(TooManyRequests):
    """A key over its quota: 429 ``QUOTA_EXCEEDED``; ``reason`` is the limit (``per_minute``, ``per_day``)."""

    def __init__(self, reason: str, limit: int, retry_after: int):
        what = "minute" if reason == "per_minute" else "day (China time)"
        super().__init__(f"this API key's quota of {limit} requests a {what} is used up; try again in "
                         f"{retry_after} s", code="QUOTA_EXCEEDED", retry_after=retry_after)
        self.reason = reason


@dataclass(slots=True)
class _Count:
    end: int
    """Epoch second the window ends."""
    seen: float
    """When a request last touched it (epoch seconds)."""
    granted: int = 0
    """Requests this process reserved in the store's counter and has not admitted yet (its lease)."""
    total: int = 0
    """The store's total as of this process's last reservation (every process's reservations)."""
    lease: int = 0
    """The size of the last lease (each next one twice as big, up to the cap: a process that serves
    a key a few times reserves a few, not a twentieth of its limit)."""


class Quotas:
    """Each key's requests in its windows, reserved in the store in leases (module docstring)."""

    def __init__(self, defaults: Mapping[str, Quota], *, wall: Callable[[], float] = time.time):
        self.defaults = defaults
        self._wall = wall
        self._windows: dict[str, _Count] = {}
        self._pruned = -math.inf
        self._reserving = asyncio.Lock()  # one reservation at a time in this process
        self._warned_end = 0  # the store's failures are logged once a minute

    async def admit(self, grant: Grant, store) -> None:
        """Count one request of ``grant``'s key, or raise :class:`QuotaExceeded` (nothing counted).
        Asks the store only when a window's lease is used up."""
        quota = grant.quota(self.defaults)
        if not (quota.per_minute or quota.per_day):
            return
        now = self._wall()
        touched: list[tuple[str, str, int, _Count]] = []
        for reason, tag, length, offset in _WINDOWS:
            limit = getattr(quota, reason)
            if not limit:
                continue
            index = int((now + offset) // length)
            name = f"{grant.principal.key_id}:{tag}:{index}"
            w = self._windows.get(name)
            if w is None:
                w = self._windows[name] = _Count((index + 1) * length - offset, now)
            w.seen = now
            touched.append((reason, name, limit, w))
        taken: list[_Count] = []
        for reason, name, limit, w in touched:
            if w.granted <= 0:
                try:
                    async with self._reserving:
                        if w.granted <= 0:  # another request may have reserved meanwhile
                            await self._reserve(store, name, limit, w, now)
                except BaseException:  # cancelled while waiting (the client went away): nothing counted
                    for t in taken:
                        t.granted += 1
                    raise
                if w.granted <= 0:
                    for t in taken:  # nothing counted: what this request took goes back to its lease
                        t.granted += 1
                    raise QuotaExceeded(reason, limit, math.ceil(w.end - now))
            # taken at once, with no wait between the look and the take: requests that wait on the
            # same reservation must never take one lease twice (the lease would go below nothing,
            # and the next one, smaller than the debt, would refuse a key far from its limit)
            w.granted -= 1
            taken.append(w)

    async def _reserve(self, store, name: str, limit: int, w: _Count, now: float) -> None:
        """A lease for window ``name``: a part of what is left of ``limit``, added to the store's
        counter at once (an atomic increment), so no process admits past the limit; what the add
        took past it is not granted."""
        if w.total >= limit:
            return
        lease = max(1, min(2 * w.lease, limit // LEASE_PARTS, (limit - w.total) // LEASE_SHRINK))
        w.lease = lease
        try:
            totals = await store.add_counts({name: lease}, {name: w.end + KEPT})
        except Exception as err:  # the store away: admit locally, as one process alone would
            if now >= self._warned_end:
                self._warned_end = int(now) + 60
                log.warning("quotas: the store cannot be asked (%s): counted by this process alone meanwhile",
                            type(err).__name__)
            w.granted += lease
            w.total += lease
            return
        total = totals.get(name, w.total + lease)
        w.total = total
        w.granted += max(0, lease - max(0, total - limit))

    async def sync(self, store) -> None:
        """Forget the windows that ended or that no request touched for IDLE seconds (the background,
        every second). The counts themselves are in the store from the moment they are reserved."""
        now = self._wall()
        for name, w in list(self._windows.items()):
            if w.end <= now or now - w.seen > IDLE:
                del self._windows[name]

    async def release(self, store) -> int:
        """Give back to the store the leases not used (the process stopping): how many requests."""
        steps = {name: -w.granted for name, w in self._windows.items() if w.granted > 0 and w.end > self._wall()}
        if steps:
            await store.add_counts(steps, {name: self._windows[name].end + KEPT for name in steps})
            for name in steps:
                self._windows[name].granted = 0
        return -sum(steps.values())

    async def prune(self, store) -> int:
        """Remove the store's ended counters, at most once every PRUNE_INTERVAL: how many."""
        now = self._wall()
        if now - self._pruned < PRUNE_INTERVAL:
            return 0
        self._pruned = now
        return await store.prune_counts(int(now))

    def __len__(self) -> int:
        return len(self._windows)
