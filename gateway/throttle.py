"""Failed authentications per client address, and the lockout past a rate.

Each address that presents a key that is not accepted (unknown, disabled, too long) opens a
window of a minute from that first failure. Once it has failed ``per_minute`` times in its window, every request of that address that
needs a key is answered 429 ``TOO_MANY_REQUESTS`` with ``Retry-After`` until the window ends,
**a correct key included**, and before the key is looked at (no store, no cache): otherwise the
limit would still let the guessing go on at full speed, only sorting the guesses. The event is
logged once per window, with the address and never the key.

Memory is bounded: at most ``size`` addresses are followed (least recently seen out first), each
forgotten when its window ends. Time is injectable (``clock=``, monotonic seconds).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

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
