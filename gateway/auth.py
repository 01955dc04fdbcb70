"""Authentication of ``/v1/`` requests: the API key, its quota, its last use.

:func:`auth_middleware` runs before routing for every ``/v1/`` path: past the failed-authentication
limit of the client's address it answers 429 before the key is looked at (:mod:`gateway.throttle`);
then the key is read (``Authorization: Bearer KEY``), its grant found (:class:`Keyring`), its quota
counted (:class:`gateway.throttle.Quotas`: the store asked once per lease, never past a limit) and its use noted (:class:`LastUse`); the handler gets
the caller's :class:`~ecert.rules.access.Principal` as ``request[PRINCIPAL]``.

**Within a second.** A key disabled, deleted or rotated through any gateway process is refused by
every other within :data:`KEY_CHECK_INTERVAL`: each process holds the grants it accepted lately,
and before using them checks, at most once a second, a number the store moves on every such change
(:meth:`ecert.store.Store.apikeys_generation`): when it moved, every grant held is dropped and read
again. The request that finds a check due waits for it; the others meanwhile do not (a slow store
delays one request a second, not every one: the bound is a second plus the store's answer time).
An expiry, and the end of a rotated secret's overlap, are checked on every request against the
grant held (no store call). While the store cannot be asked, the grants held are used for at
most :data:`STORE_OUTAGE_GRACE` after its last answer (logged); past it, every keyed request is 503.

**Last use.** Each key's ``last_used_at`` is written by :meth:`LastUse.flush`, in the background
each second, at most once a minute per key and process: never a store write on the request's path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from aiohttp import web

from ecert.errors import TooManyRequests, Unauthenticated
from ecert.limits import MAX_API_KEY
from ecert.rules import apikeys
from ecert.rules.access import hash_key
from ecert.rules.apikeys import Grant
from ecert.runtime.cache import BoundedCache

from . import access
from .keys import AUTH_THROTTLE, CONFIG, KEYRING, LAST_USE, METRICS, PRINCIPAL, QUOTAS, STORE, WALL_CLOCK
from .throttle import SYNC_INTERVAL, QuotaExceeded, Quotas

log = logging.getLogger("ecert.gateway")

KEY_CHECK_INTERVAL = 1.0
"""Seconds a grant held is used without asking the store whether any key changed."""
KEY_CACHE_TTL = 300.0
"""Seconds a grant is held at most (changes are seen through the store's number, not this)."""
KEY_CACHE_SIZE = 10_000
STORE_OUTAGE_GRACE = 30.0
"""Seconds the grants held stay in use while the store cannot be asked (a store restarting must not
stop every verification at once); past them, every keyed request is 503 until it answers."""
USE_INTERVAL = 60
"""Seconds between two writes of one key's last use by one process."""


class Keyring:
    """The grants of the keys this process accepted lately (module docstring). ``clock``:
    monotonic seconds (the check interval); ``wall``: epoch seconds (expiries)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self._clock, self._wall = clock, wall
        self._grants: BoundedCache[str, Grant] = BoundedCache(KEY_CACHE_SIZE, KEY_CACHE_TTL, clock=clock)
        self._generation: int | None = None
        self._checked = -math.inf
        self._confirmed = -math.inf  # the last check the store answered
        self._epoch = 0  # moves when the grants held are dropped: a read begun before is not kept
        self._checking = asyncio.Lock()

    async def grant(self, store, key: str | None) -> Grant:
        """The grant of ``key``; 401 (:class:`Unauthenticated`) for no key or one not accepted."""
        if not key or len(key) > MAX_API_KEY:
            raise Unauthenticated("an API key is required: Authorization: Bearer KEY")
        await self._fresh(store)
        now = int(self._wall())
        digest = hash_key(key)
        grant = self._grants.get(digest)
        if grant is not None and grant.until is not None and now >= grant.until:
            self._grants.pop(digest)
            grant = None
        if grant is None:
            epoch = self._epoch
            grant = await apikeys.grant(store, key, now=now)
            if epoch == self._epoch:
                self._grants.put(digest, grant)
        return grant

    async def _fresh(self, store) -> None:
        """Drop every grant held if a key changed since the last check (at most one check a second)."""
        if self._clock() - self._checked < KEY_CHECK_INTERVAL:
            return
        if self._checking.locked() and self._clock() - self._confirmed <= STORE_OUTAGE_GRACE:
            return  # a check is on its way: the grants held serve meanwhile (a slow store stalls one request)
        async with self._checking:
            if self._clock() - self._checked < KEY_CHECK_INTERVAL:
                return  # another request checked meanwhile
            started = self._clock()
            try:
                generation = await store.apikeys_generation()
            except Exception as err:
                self._checked = self._clock()  # asked again a second after this failure, not by every request
                if started - self._confirmed > STORE_OUTAGE_GRACE:
                    self._drop()  # unconfirmed for too long: none of them is used
                    raise
                log.warning("API keys: the store cannot be asked (%s): the keys accepted in the last %.0f s "
                            "are used meanwhile", type(err).__name__, STORE_OUTAGE_GRACE)
                return
            if generation != self._generation:
                self._drop()
                self._generation = generation
            self._checked = self._confirmed = started

    def _drop(self) -> None:
        self._grants.clear()
        self._epoch += 1

    def __len__(self) -> int:
        return len(self._grants)


class LastUse:
    """Keys used here and not yet recorded (module docstring)."""

    def __init__(self, *, wall: Callable[[], float] = time.time):
        self._wall = wall
        self._noted: BoundedCache[str, int] = BoundedCache(KEY_CACHE_SIZE, USE_INTERVAL, clock=wall)
        self._pending: dict[str, int] = {}

    def used(self, key_id: str) -> None:
        if self._noted.get(key_id) is None:
            at = int(self._wall())
            self._noted.put(key_id, at)
            self._pending[key_id] = at

    async def flush(self, store) -> int:
        """Write the uses noted since the last flush: how many keys."""
        pending, self._pending = self._pending, {}
        try:
            await apikeys.record_use(store, pending)
        except BaseException:
            for key_id, at in pending.items():  # again next time (a newer use noted meanwhile wins)
                self._pending.setdefault(key_id, at)
            raise
        return len(pending)


# -- the middleware --------------------------------------------------------------------------------

@web.middleware
async def auth_middleware(request: web.Request, handler):
    if access.needs_key(request):
        app = request.app
        throttle, address = app[AUTH_THROTTLE], request.remote or ""
        wait = throttle.retry_after(address)
        if wait is not None:  # before the key is looked at, whichever it is (gateway.throttle)
            app[METRICS].throttled("unknown", "auth_failures")
            raise TooManyRequests(f"too many failed authentications from this address; try again in {wait} s",
                                  retry_after=wait)
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            grant = await app[KEYRING].grant(app[STORE], key)
        except Unauthenticated:
            if key:  # a key presented and refused (a missing key costs nothing to refuse)
                throttle.failed(address)
            raise
        try:
            await app[QUOTAS].admit(grant, app[STORE])
        except QuotaExceeded as err:
            app[METRICS].throttled(grant.principal.role, err.reason)
            raise  # 429 with Retry-After: err.retry_after (gateway.app.errors_middleware)
        app[LAST_USE].used(grant.principal.key_id)
        request[PRINCIPAL] = grant.principal
    return await handler(request)


# -- the background upkeep -------------------------------------------------------------------------

async def upkeep_once(app: web.Application) -> None:
    """One round: the ended quota windows forgotten, the last uses written, the ended counters pruned (each
    attempted even when another failed; a failure is logged, and tried again next round)."""
    store = app[STORE]
    for name, step in (("quota windows", app[QUOTAS].sync), ("last uses", app[LAST_USE].flush),
                       ("quota counters", app[QUOTAS].prune)):
        try:
            await step(store)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.warning("API keys: could not write the %s to the store: %s", name, err)


async def upkeep(app: web.Application):
    """``cleanup_ctx``: :func:`upkeep_once` every SYNC_INTERVAL while the app runs, and once more at
    its end (what was counted here is not lost)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            await upkeep_once(app)

    task = asyncio.create_task(loop(), name="ecert-gateway-keys")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await asyncio.wait_for(upkeep_once(app), SYNC_INTERVAL * 5)
    with contextlib.suppress(Exception):  # the leases not used, back to the other processes
        await asyncio.wait_for(app[QUOTAS].release(app[STORE]), SYNC_INTERVAL * 5)


def install(app: web.Application, *, clock: Callable[[], float], wall: Callable[[], float]) -> None:
    """Hold the keyring, the last uses and the clock in ``app``, and start the upkeep with it (after
    the store is open: call after the app's own ``cleanup_ctx``), and the quotas of its configuration."""
    app[QUOTAS] = Quotas(app[CONFIG].quotas, wall=wall)
    app[KEYRING] = Keyring(clock=clock, wall=wall)
    app[LAST_USE] = LastUse(wall=wall)
    app[WALL_CLOCK] = wall
    app.cleanup_ctx.append(upkeep)
