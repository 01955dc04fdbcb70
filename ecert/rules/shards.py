"""A region's status lists as its issuer publishes them: one signed list a shard
(:data:`~ecert.format.statuslist.SHARD_SIZE` entries, :func:`~ecert.format.statuslist.shard_uri`),
signed when first asked for and kept as signed bytes, signed again only when needed.

A shard is signed again when one of its credentials changed status since (:meth:`Shards.changed`),
when half its validity has passed (so a verifier that refreshes every ``ttl`` always holds a list
with half its validity ahead), or when the signing key is not the one that signed it. Every other
answer is the same bytes with the same ``iat``, which is what lets a verifier ask "anything newer
than the iat I hold?" (GetStatusLists) and get only the shards that changed.

Each new signature of a shard has a later ``iat`` than the one before, even within one second (a
verifier holding that second's list must see the change): one second ahead of the clock then, and
a second change within that second waits for the clock to reach it (a second at most). A clock
set back keeps the iats rising all the same.

Plain Python over two ports: where a shard's entries come from (the store's
``status_entries``) and the current signing key; used by the issuer and by the benchmark alike.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from ..clock import Clock
from ..format import statuslist
from ..format.keys import SigningKey

Entries = Callable[[str], Awaitable[Iterable[tuple[int, str]]]]
"""A shard's credentials that are not valid: ``uri -> [(idx, status name)]``."""
KeySource = Callable[[], "SigningKey | Awaitable[SigningKey]"]
"""The key to sign with now (a plain or an async callable; it may raise to refuse signing)."""


@dataclass(frozen=True, slots=True)
class Signed:
    """One shard's list as published: its uri, iat, exp, the kid that signed it and the bytes."""

    uri: str
    iat: int
    exp: int
    kid: bytes
    signed: bytes


def sign_shard(key: SigningKey, uri: str, entries: Iterable[tuple[int, str]], *, iat: int, exp: int,
               ttl: int, size: int = statuslist.SHARD_SIZE) -> Signed:
    """Sign a shard's list from its entries that are not valid (``(idx, status name)``): ``size``
    entries (a legacy list with a larger index grows to hold it)."""
    values = statuslist.STATUS_VALUES
    bits = statuslist.build_bits([(idx, values[status]) for idx, status in entries], size)
    return Signed(uri, iat, exp, key.kid, statuslist.sign(key, uri=uri, bits=bits, iat=iat, exp=exp, ttl=ttl))


class Shards:
    """The region's signed shards (:meth:`get`), kept as bytes only, and the marks of those that
    changed (:meth:`changed`). ``validity``: seconds from a list's iat to its exp; ``ttl``: the seconds
    a verifier keeps it before asking again."""

    def __init__(self, entries: Entries, key: KeySource, *, ttl: int, validity: int, now: Clock):
        self._entries = entries
        self._key = key
        self.ttl = ttl
        self.validity = validity
        self.now = now
        self._signed: dict[str, Signed] = {}
        self._dirty: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    def changed(self, uri: str) -> None:
        """One of the shard's credentials changed status: the next answer is signed anew."""
        self._dirty.add(uri)

    def held(self, uri: str) -> Signed | None:
        """The shard's list as last signed (None: never asked for), whether due or not."""
        return self._signed.get(uri)

    @property
    def nbytes(self) -> int:
        """The signed bytes held, all shards."""
        return sum(len(s.signed) for s in self._signed.values())

    def due(self, cur: Signed | None, kid: bytes, now: int) -> bool:
        """Whether ``cur`` (the shard's list held) must be signed again now."""
        return cur is None or cur.uri in self._dirty or cur.kid != kid or now >= cur.iat + self.validity // 2

    async def key(self) -> SigningKey:
        key = self._key()
        return await key if inspect.isawaitable(key) else key  # type: ignore[return-value]

    async def get(self, uri: str) -> Signed:
        """The shard's signed list: the one held unless it is due (:meth:`due`). The caller has
        checked that the shard is one of the region's."""
        key = await self.key()
        cur = self._signed.get(uri)
        if not self.due(cur, key.kid, self.now()):
            return cur  # type: ignore[return-value]
        lock = self._locks.get(uri)
        if lock is None:
            lock = self._locks[uri] = asyncio.Lock()
        async with lock:  # one signature at a time for a shard: concurrent askers share it
            now = self.now()
            cur = self._signed.get(uri)
            if not self.due(cur, key.kid, now):
                return cur  # type: ignore[return-value]
            if cur is not None and cur.iat == now + 1:  # signed a second ahead already: wait for the clock
                return cur
            iat = now if cur is None else max(now, cur.iat + 1)  # later than the one before, always
            self._dirty.discard(uri)  # before reading: a change marked while reading is signed next time
            entries = await self._entries(uri)
            signed = sign_shard(key, uri, entries, iat=iat, exp=max(now, iat - 1) + self.validity, ttl=self.ttl)
            self._signed[uri] = signed
            return signed
