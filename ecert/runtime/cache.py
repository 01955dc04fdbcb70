"""A bounded in-memory cache: least recently used out first, entries optionally expiring."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``size`` entries; with ``ttl``, an entry is gone ``ttl`` seconds after it was put."""

    def __init__(self, size: int, ttl: float | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        value, expires = hit
        if self.ttl is not None and self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        expires = self._clock() + self.ttl if self.ttl is not None else 0.0
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
