"""Injectable time: every component takes ``now: Callable[[], int]`` (epoch seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def system_clock() -> int:
    return int(time.time())


class FixedClock:
    """A clock tests set and move by hand."""

    def __init__(self, t: int | None = None):
        self.t = system_clock() if t is None else t

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: int) -> None:
        self.t += seconds


class OffsetClock:
    """The system clock shifted by an adjustable offset (tests that move time in a running suite)."""

    def __init__(self, offset: int = 0):
        self.offset = offset

    def __call__(self) -> int:
        return int(time.time()) + self.offset
