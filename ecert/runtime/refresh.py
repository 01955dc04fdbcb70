"""One way to keep a copy of something another process owns: fetch it on a schedule (with
jitter, so many processes do not ask at the same instant), keep the last good copy when a
fetch fails, and know how old the copy is.

Used for the registry's certificate types (issuer), its directory of regions (gateway) and
the signed trust list (verifier). Time is injectable (``clock=``, monotonic seconds).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ..errors import EcertError

log = logging.getLogger("ecert.refresh")

T = TypeVar("T")
_NOTHING: object = object()


class Refreshed(Generic[T]):
    """The last good copy of what ``fetch`` returns.

    - :meth:`get` answers from the copy while it is younger than ``every`` seconds, and
      fetches otherwise (``force``: fetch now, but at most once every ``force_every``).
    - A failed fetch (one of ``errors``) keeps the copy and tries again after ``retry``
      seconds; with no copy yet, the error reaches the caller.
    - :meth:`run` refreshes in the background every ``every`` seconds ± ``jitter``.
    - :attr:`age` says how old the copy is (None: none yet, or loaded from disk).
    """

    def __init__(self, fetch: Callable[[], Awaitable[T]], *, name: str, every: float, retry: float,
                 force_every: float | None = None, jitter: float = 0.1,
                 errors: tuple[type[BaseException], ...] = (EcertError,),
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None):
        self._fetch = fetch
        self.name = name
        self.every = every
        self.retry = retry
        self.force_every = retry if force_every is None else force_every
        self.jitter = jitter
        self._errors = errors
        self._clock = clock
        self._rng = rng or random.Random()
        self._value: object = _NOTHING
        self._lock = asyncio.Lock()
        self.fetched_at: float | None = None  # when the copy was last fetched
        self.attempted_at: float | None = None  # when a fetch was last tried
        self._next = 0.0  # when :meth:`get` fetches again
        self.failures = 0  # fetches failed in a row
        self.last_error: BaseException | None = None

    # -- the copy ---------------------------------------------------------------------------
    @property
    def value(self) -> T | None:
        """The copy in hand, without fetching (None when there is none yet)."""
        return None if self._value is _NOTHING else self._value  # type: ignore[return-value]

    @property
    def age(self) -> float | None:
        """Seconds since the copy was fetched (None: no copy, or one that was not fetched)."""
        return None if self.fetched_at is None else self._clock() - self.fetched_at

    def seed(self, value: T) -> None:
        """Take a copy that was not fetched (read from disk at start-up): used, of unknown age."""
        self._value = value

    def expire(self) -> None:
        """Make the next :meth:`get` fetch."""
        self._next = 0.0

    def due(self, min_interval: float) -> bool:
        """Whether no fetch was tried in the last ``min_interval`` seconds."""
        return self.attempted_at is None or self._clock() - self.attempted_at >= min_interval

    # -- fetching ---------------------------------------------------------------------------
    async def get(self, force: bool = False) -> T:
        async with self._lock:
            now = self._clock()
            if self._value is _NOTHING or now >= self._next or (force and self.due(self.force_every)):
                await self._refresh_locked()
            return self._value  # type: ignore[return-value]

    async def refresh(self) -> bool:
        """Fetch now; True if the copy changed (is not the same object as before). A failure
        with no copy yet raises; with one, it is kept and False returned."""
        async with self._lock:
            return await self._refresh_locked()

    async def refresh_soon(self, min_interval: float) -> bool:
        """:meth:`refresh`, unless a fetch was tried less than ``min_interval`` seconds ago (a hot
        path never hammers an upstream that is down). Never raises a fetch error."""
        if not self.due(min_interval):
            return False
        try:
            return await self.refresh()
        except self._errors:
            return False

    async def _refresh_locked(self) -> bool:
        now = self.attempted_at = self._clock()
        try:
            value = await self._fetch()
        except self._errors as err:
            self.failures += 1
            self.last_error = err
            self._next = now + self.retry
            if self._value is _NOTHING:
                raise
            log.warning("%s: refresh failed, keeping the copy of %s: %s", self.name, self._age_text(), err)
            return False
        changed = value is not self._value
        self._value = value
        self.fetched_at = now
        self.failures = 0
        self.last_error = None
        self._next = now + self.every
        return changed

    def _age_text(self) -> str:
        age = self.age
        return "unknown age" if age is None else f"{age:.0f} s ago"

    def interval(self) -> float:
        """The next background wait: ``every`` seconds ± ``jitter`` of it."""
        return self.every * (1 + self._rng.uniform(-self.jitter, self.jitter))

    async def run(self) -> None:
        """Refresh every :meth:`interval` seconds until cancelled; failures are logged, never raised."""
        while True:
            await asyncio.sleep(self.interval())
            try:
                await self.refresh()
            except self._errors as err:
                log.warning("%s: refresh failed, no copy yet: %s", self.name, err)


