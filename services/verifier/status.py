"""The verifier's status lists: the regions' shards it has needed, fetched lazily, kept on disk,
bounded in memory and refreshed in the background.

A list is fetched the first time a credential names it (:meth:`StatusCache.fetch`, shared by
concurrent callers) and kept in ``cache_dir/status/<SHA-256 of its uri, hex>.cbor`` as signed, so a
restarted verifier with its issuers down still checks statuses. Every list is checked against the
current trust list's keys of its region, on fetch and on load: a damaged or badly signed file is
ignored, logged, counted and removed (fetched anew when asked for); a list dated more than the skew ahead of the clock is refused and
counted. A list is only ever the one its uri names for its region: a shard uri
(:func:`~ecert.format.statuslist.shard_uri`) naming the region that signed it.

Memory is bounded (``max_bytes``): lists are held in their compact form
(:class:`~ecert.format.statuslist.StatusList`), the least recently used let go first and read from
disk again when asked for.

Refresh (draft-ietf-oauth-status-list: fetch again after ``ttl``, trust up to ``exp``): every
second (:meth:`StatusCache.run`), each region with lists past their ttl (with jitter) is asked for
them in one conditional call (GetStatusLists: the uri and iat held; only the changed ones come
back). A failed call never raises and is retried with backoff; a first fetch that failed is not
tried again on the hot path for :data:`STATUS_RETRY` seconds, so no answer waits on an issuer that
is down (the background round keeps trying it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ecert.clock import Clock
from ecert.errors import NotFound
from ecert.files import write_private
from ecert.format import statuslist
from ecert.format.statuslist import StatusList, StatusListError, StatusListUnsigned
from ecert.rules.trust import TrustList
from ecert.vocab import KeyStatus

log = logging.getLogger("ecert.verifier.status")

STATUS_RETRY = 5.0
"""Seconds after a failed fetch of a region's list during which the hot path does not ask that
region again (it answers with what it holds, or "unknown")."""
TICK = 1.0
"""Seconds between refresh rounds (:meth:`StatusCache.run`), plus jitter."""
JITTER = 0.1
"""The most a wait is lengthened at random, as a fraction of it (refreshes spread out)."""
MIN_TTL = 1
"""Seconds a list is kept at least before it is asked for again (a ttl of 0 would ask every round)."""
RETRY_BASE, RETRY_MAX = 2.0, 300.0
"""A region's refresh that failed is tried again after 2, 4, 8, ... seconds, at most 300."""
UNKNOWN_RETRY = 60.0
"""Seconds before a list its issuer does not know is asked for again."""
MAX_WANTED = 4096
"""Lists asked for but never had (their first fetch failed) that the refresh keeps trying."""
FOLDER = "status"

# What is counted (the events of GetCacheState, list "status"):
FETCHED = "fetched"  # a new list accepted from an issuer
RELOADED = "reloaded"  # a list read from disk into memory (after a restart, or after it was let go)
EVICTED = "evicted"  # a list let go from memory (the memory bound)
UNKNOWN = "unknown"  # the issuer has no such list
REFUSED_OLDER = "refused_older"  # an issuer's list older than the one held
FUTURE_DATED = "future_dated"  # iat more than the skew ahead of the clock: refused
DAMAGED_FILE = "damaged_file"  # a file that could not be read, parsed, or is not the list it is named for
BAD_SIGNATURE = "bad_signature"  # a list (fetched or on disk) no current key of its region signed
REFRESH_FAILED = "refresh_failed"  # an issuer could not be asked
WRITE_FAILED = "write_failed"  # a list could not be kept on disk (a full disk): used from memory
EVENTS = (FETCHED, RELOADED, EVICTED, UNKNOWN, REFUSED_OLDER, FUTURE_DATED, DAMAGED_FILE, BAD_SIGNATURE,
          REFRESH_FAILED, WRITE_FAILED)


class StatusUpstream(Protocol):
    """The network as the status cache uses it (every failure an EcertError)."""

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        """One signed list (NotFound: the issuer has none for ``uri``)."""

    async def status_lists(self, endpoint: str, held: list[tuple[str, int]]) -> tuple[list[bytes], list[str]]:
        """The lists of ``held`` (``(uri, iat held)``) signed after the iat held, and the unknown uris."""


@dataclass(slots=True)
class _Held:
    """What is known of a list held (in memory, on disk or both)."""

    region: str
    iat: int
    exp: int
    ttl: int
    kid: bytes
    on_disk: bool
    due: float  # monotonic time of its next refresh


class _Refused(Exception):
    """A list that may not be used: ``event`` (one of :data:`EVENTS`) says why, ``reason`` in words."""

    def __init__(self, event: str, reason: str):
        super().__init__(reason)
        self.event, self.reason = event, reason


def _named_for(path: Path, uri: str) -> None:
    """A file must hold the list its name is made from (:meth:`StatusCache._path`)."""
    if path.stem != hashlib.sha256(uri.encode()).hexdigest():
        raise _Refused(DAMAGED_FILE, f"it holds {uri[:100]}, another list")


def _region_of(uri: str) -> str | None:
    parsed = statuslist.parse_shard_uri(uri)
    return None if parsed is None else parsed[0]


class StatusCache:
    """The status lists held (:meth:`get`, the hot path), fetched (:meth:`fetch`), kept on disk in
    ``cache_dir`` (None: memory only), refreshed (:meth:`refresh_due`, :meth:`run`). ``trust``
    gives the current trust list (the regions' keys and endpoints); ``skew``: seconds a list's iat
    may be ahead of ``now``; ``max_bytes``: the memory the lists held may take."""

    def __init__(self, upstream: StatusUpstream, cache_dir: Path | None, *, trust: Callable[[], TrustList | None],
                 skew: int, now: Clock, monotonic: Callable[[], float] = time.monotonic,
                 max_bytes: int = 256 << 20):
        self.upstream = upstream
        self.folder = cache_dir / FOLDER if cache_dir is not None else None
        self.trust = trust
        self.skew = skew
        self.now = now
        self.monotonic = monotonic
        self.max_bytes = max_bytes
        self.events: Counter[str] = Counter()
        self._mem: OrderedDict[str, StatusList] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._held: dict[str, _Held] = {}
        self._wanted: dict[str, tuple[str, float]] = {}  # uri -> (region, due): never had, keep trying
        self._fetching: dict[str, asyncio.Future] = {}
        self._hot_retry: dict[str, float] = {}  # region or uri -> monotonic time the hot path may ask again
        self._region_retry: dict[str, tuple[int, float]] = {}  # region -> (failures in a row, next try)
        self._keys: tuple[TrustList | None, dict[str, dict]] = (None, {})
        self._checked_keys_of: TrustList | None = None  # the trust list the held lists' keys were checked against
        self._rng = random.Random()

    # -- the hot path ------------------------------------------------------------------------
    def get(self, uri: str) -> StatusList | None:
        """The list held in memory for ``uri`` (it may be past its exp), None if none is."""
        sl = self._mem.get(uri)
        if sl is not None:
            self._mem.move_to_end(uri)
        return sl

    async def fetch(self, uri: str, region: str) -> StatusList | None:
        """The list for ``uri`` of ``region``: from memory or disk while it is within its validity,
        else from the region's issuer (once, shared by concurrent callers; not again for
        :data:`STATUS_RETRY` seconds after a failure); the one held when that fails, None when
        there is none. Never raises."""
        try:
            if _region_of(uri) != region:
                return None  # not a list of the credential's region: never asked for, never held
            sl = self._mem.get(uri) or self._reload(uri)
            now = self.now()
            if sl is not None and now < sl.exp:
                return sl
            mono = self.monotonic()
            if mono < self._hot_retry.get(region, 0.0) or mono < self._hot_retry.get(uri, 0.0):
                return sl
            fut = self._fetching.get(uri)
            if fut is not None:
                return await asyncio.shield(fut)
            fut = self._fetching[uri] = asyncio.get_running_loop().create_future()
            try:
                result = await self._fetch_one(uri, region)
            except BaseException:
                fut.set_result(self._mem.get(uri))
                raise
            else:
                fut.set_result(result)
            finally:
                del self._fetching[uri]
            return result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("status list %s: fetch failed", uri[:100])
            return self._mem.get(uri)

    async def _fetch_one(self, uri: str, region: str) -> StatusList | None:
        trust = self.trust()
        entry = trust.regions.get(region) if trust is not None else None
        if entry is None or not entry.endpoint:
            return self._mem.get(uri)
        try:
            signed = await self.upstream.status_list(entry.endpoint, uri)
        except NotFound:
            self._count(UNKNOWN, f"{region} has no status list {uri[:100]}")
            self._hot_retry[uri] = self.monotonic() + STATUS_RETRY
            return self._mem.get(uri)
        except Exception as err:  # an issuer down: nobody asks it on the hot path for a while
            self._count(REFRESH_FAILED, f"status list {uri[:100]} of {region} unavailable: {err}")
            self._hot_retry[region] = self.monotonic() + STATUS_RETRY
            self._want(uri, region)
            return self._mem.get(uri)
        try:
            return self._accept(uri, region, signed)
        except _Refused:  # counted by _accept
            self._hot_retry[uri] = self.monotonic() + STATUS_RETRY
            self._want(uri, region)
            return self._mem.get(uri)

    def _want(self, uri: str, region: str) -> None:
        if uri not in self._held and (uri in self._wanted or len(self._wanted) < MAX_WANTED):
            self._wanted[uri] = (region, self.monotonic() + RETRY_BASE)

    # -- checking and keeping ----------------------------------------------------------------
    def _region_keys(self, region: str) -> dict:
        """``kid -> [KeyEntry]`` of the region in the current trust list (built once a list)."""
        trust = self.trust()
        cached_for, by_region = self._keys
        if cached_for is not trust:
            by_region = {}
            self._keys = (trust, by_region)
        keys = by_region.get(region)
        if keys is None:
            entry = trust.regions.get(region) if trust is not None else None
            keys = by_region[region] = {} if entry is None else {k.kid: [k] for k in entry.keys}
        return keys

    def _check(self, signed: bytes, uri: str | None, region: str, *, damaged: str) -> StatusList:
        """Parse and check a signed list of ``region`` (``uri`` None: any of the region's), else
        :class:`_Refused`: ``bad_signature`` when no current key of the region signed it,
        ``future_dated`` when it is dated more than the skew ahead, ``damaged`` when it does not
        parse (a fetched list's bytes are the issuer's: ``bad_signature``; a file's: ``damaged_file``).
        The callers count: one place for each of what is refused, the issuer's lists and the files."""
        try:
            sl = statuslist.parse(signed, expected_uri=uri, region_keys=self._region_keys(region))
        except StatusListError as err:
            raise _Refused(BAD_SIGNATURE if isinstance(err, StatusListUnsigned) else damaged, str(err)) from None
        if _region_of(sl.uri) != region:
            raise _Refused(BAD_SIGNATURE, f"{sl.uri[:100]} is not a list of {region}")
        self._not_ahead(sl.iat)
        return sl

    def _not_ahead(self, iat: int) -> None:
        ahead = iat - self.now()
        if ahead > self.skew:
            raise _Refused(FUTURE_DATED, f"dated {ahead} s ahead of this verifier's clock")

    def _accept(self, uri: str | None, region: str, signed: bytes) -> StatusList:
        """Check a list fetched from ``region``'s issuer and keep it (memory and disk) unless the one
        held is as new; _Refused (counted) if it is not acceptable."""
        try:
            sl = self._check(signed, uri, region, damaged=BAD_SIGNATURE)
        except _Refused as r:
            self._count(r.event, f"status list {(uri or '')[:100]} of {region} refused: {r.reason}")
            raise
        held = self._held.get(sl.uri)
        if held is not None and sl.iat < held.iat:
            self._count(REFUSED_OLDER, f"status list {sl.uri[:100]}: iat {sl.iat} is older than the one held")
            raise _Refused(REFUSED_OLDER, "older than the one held")
        if held is not None and sl.iat == held.iat and sl.uri in self._mem:
            self._checked(sl.uri)
            return self._mem[sl.uri]
        on_disk = self._write(sl.uri, signed)
        self._hold(sl, region, on_disk)
        self.events[FETCHED] += 1
        return sl

    def _hold(self, sl: StatusList, region: str, on_disk: bool) -> None:
        """Put ``sl`` in memory (most recently used) and in the index, letting go of the least
        recently used lists over the memory bound."""
        old = self._mem.pop(sl.uri, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._mem[sl.uri] = sl
        self._bytes += sl.nbytes
        self._held[sl.uri] = _Held(region, sl.iat, sl.exp, sl.ttl, sl.kid, on_disk, self._next_due(sl.ttl))
        self._wanted.pop(sl.uri, None)
        while self._bytes > self.max_bytes and len(self._mem) > 1:
            _, gone = self._mem.popitem(last=False)
            self._bytes -= gone.nbytes
            self.events[EVICTED] += 1

    def _checked(self, uri: str) -> None:
        """The issuer has nothing newer than the list held: ask again after its ttl."""
        held = self._held.get(uri)
        if held is not None:
            held.due = self._next_due(held.ttl)

    def _next_due(self, ttl: int) -> float:
        wait = max(ttl, MIN_TTL)
        return self.monotonic() + wait * (1 + self._rng.uniform(0, JITTER))

    def _path(self, uri: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"{hashlib.sha256(uri.encode()).hexdigest()}.cbor"

    def _write(self, uri: str, signed: bytes) -> bool:
        path = self._path(uri)
        if path is None:
            return False
        try:
            write_private(path, signed)  # 0600: what this verifier relies on
            return True
        except OSError as err:
            self._count(WRITE_FAILED, f"status list {uri[:100]} could not be kept on disk: {err}")
            return False

    def _reload(self, uri: str) -> StatusList | None:
        """The list kept on disk for ``uri``, checked again, into memory; None if there is none
        usable (a damaged or badly signed file is ignored, logged, counted and removed)."""
        path = self._path(uri)
        region = _region_of(uri)
        if path is None or region is None or self.trust() is None:
            return None
        try:
            signed = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            self._count(DAMAGED_FILE, f"status list file {path.name} unreadable: {err}")
            return None
        sl = self._checked_file(path, signed, uri, region)
        if sl is None:
            held = self._held.get(uri)
            if held is not None:
                held.on_disk = False
            return None
        held = self._held.get(uri)
        if held is not None and held.iat > sl.iat:
            return None  # memory held a newer one the disk could not keep: ask the issuer again
        due = held.due if held is not None else float("-inf")
        self._hold(sl, region, True)
        self._held[uri].due = due
        self.events[RELOADED] += 1
        return sl

    def _checked_file(self, path: Path, signed: bytes, uri: str, region: str) -> StatusList | None:
        """The list in ``path`` (kept for ``uri``), checked again; None when it may not be used
        (:meth:`_discard`)."""
        try:
            sl = self._check(signed, uri, region, damaged=DAMAGED_FILE)
            _named_for(path, sl.uri)
        except _Refused as r:
            self._discard(path, r)
            return None
        return sl

    def _discard(self, path: Path, refused: _Refused) -> None:
        """A file that may not be used: counted, logged and removed, so it is neither read nor
        counted again (the list is fetched anew when it is asked for)."""
        self._count(refused.event, f"status list file {path.name} ignored and removed: {refused.reason}")
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            log.warning("status list file %s could not be removed: %s", path.name, err)

    def load(self) -> None:
        """Index the lists kept on disk (each checked against the trust list now in hand), so they
        are refreshed and read when asked for; call it once the trust list is loaded."""
        if self.folder is None or not self.folder.is_dir():
            return
        trust = self.trust()
        if trust is None:
            log.warning("status lists on disk not indexed: no trust list yet (each is read when asked for)")
            return
        for path in sorted(self.folder.glob("*.cbor")):
            try:
                signed = path.read_bytes()
            except OSError as err:
                self._count(DAMAGED_FILE, f"status list file {path.name} unreadable: {err}")
                continue
            try:
                try:
                    head = statuslist.parse_header(signed, expected_uri=None, region_keys=trust.keys_by_kid)
                except StatusListError as err:
                    raise _Refused(BAD_SIGNATURE if isinstance(err, StatusListUnsigned) else DAMAGED_FILE,
                                   str(err)) from None
                region = _region_of(head.uri)
                if region is None or head.key.region != region:
                    raise _Refused(BAD_SIGNATURE, f"{head.uri[:100]} not signed by its region")
                _named_for(path, head.uri)
                self._not_ahead(head.iat)
            except _Refused as r:
                self._discard(path, r)
                continue
            held = self._held.get(head.uri)
            if held is None or held.iat < head.iat:
                self._held[head.uri] = _Held(region, head.iat, head.exp, head.ttl, head.kid, True, float("-inf"))
        log.info("%d status lists indexed on disk", sum(h.on_disk for h in self._held.values()))

    # -- in the background -------------------------------------------------------------------
    async def refresh_due(self, *, everything: bool = False) -> None:
        """One round: for each region, one conditional call for its lists past their ttl (and those
        wanted but never had); a region whose last call failed waits for its backoff. With
        ``everything``, every list held or wanted is asked for, backoff or not (at start, and for
        a test that needs now what the rounds do within seconds). Never raises."""
        try:
            trust = self.trust()
            if trust is None:
                return
            self._drop_unsigned(trust)
            mono = float("inf") if everything else self.monotonic()
            due: dict[str, list[tuple[str, int]]] = {}
            for uri, held in self._held.items():
                if held.due <= mono:
                    due.setdefault(held.region, []).append((uri, held.iat))
            for uri, (region, at) in self._wanted.items():
                if at <= mono and uri not in self._held:
                    due.setdefault(region, []).append((uri, 0))
            regions = [r for r in due if self._region_retry.get(r, (0, 0.0))[1] <= mono]
            await asyncio.gather(*(self._refresh_region(trust, r, due[r]) for r in regions))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("status list refresh round failed")

    async def _refresh_region(self, trust: TrustList, region: str, held: list[tuple[str, int]]) -> None:
        try:
            entry = trust.regions.get(region)
            if entry is None or not entry.endpoint:
                raise LookupError(f"the trust list names no endpoint for {region}")
            for start in range(0, len(held), statuslist.MAX_LISTS_PER_CALL):
                chunk = held[start:start + statuslist.MAX_LISTS_PER_CALL]
                signed_lists, unknown = await self.upstream.status_lists(entry.endpoint, chunk)
                self._answered(region, chunk, signed_lists, unknown)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            failures = self._region_retry.get(region, (0, 0.0))[0] + 1
            wait = min(RETRY_MAX, RETRY_BASE * 2 ** (failures - 1)) * (1 + self._rng.uniform(0, JITTER))
            self._region_retry[region] = (failures, self.monotonic() + wait)
            self._count(REFRESH_FAILED, f"status lists of {region} not refreshed ({failures} in a row, next in "
                        f"{wait:.0f} s): {err}", quiet=failures > 1)
            return
        self._region_retry.pop(region, None)
        self._hot_retry.pop(region, None)

    def _answered(self, region: str, asked: Sequence[tuple[str, int]], signed_lists: list[bytes],
                  unknown: list[str]) -> None:
        asked_uris = {uri for uri, _ in asked}
        got: set[str] = set()
        for signed in signed_lists:
            try:
                sl = self._accept(None, region, signed)
            except _Refused:
                continue
            if sl.uri not in asked_uris:
                continue  # a list nobody asked for: kept all the same (it verified), not counted as an answer
            got.add(sl.uri)
            self._hot_retry.pop(sl.uri, None)
        for uri in unknown:
            if uri in asked_uris:
                self._count(UNKNOWN, f"{region} has no status list {uri[:100]}", quiet=True)
                later = self.monotonic() + UNKNOWN_RETRY
                if uri in self._held:
                    self._held[uri].due = later
                elif uri in self._wanted:
                    self._wanted[uri] = (region, later)
        for uri in asked_uris - got - set(unknown):
            self._checked(uri)

    def _drop_unsigned(self, trust: TrustList) -> None:
        """Let go of the lists whose key the trust list no longer holds as active or retired (a key
        revoked since): they are asked for again at once."""
        if self._checked_keys_of is trust:
            return
        self._checked_keys_of = trust
        for uri, held in list(self._held.items()):
            keys = self._region_keys(held.region).get(held.kid, ())
            if not any(k.status != KeyStatus.REVOKED for k in keys):
                sl = self._mem.pop(uri, None)
                if sl is not None:
                    self._bytes -= sl.nbytes
                del self._held[uri]
                self._count(BAD_SIGNATURE, f"status list {uri[:100]}: its key is no longer a key of {held.region}",
                            quiet=True)
                self._want(uri, held.region)

    async def run(self) -> None:
        """:meth:`refresh_due` every second (plus jitter) until cancelled."""
        while True:
            await asyncio.sleep(TICK * (1 + self._rng.uniform(0, JITTER)))
            await self.refresh_due()

    # -- reporting ---------------------------------------------------------------------------
    def _count(self, event: str, message: str, *, quiet: bool = False) -> None:
        self.events[event] += 1
        (log.info if quiet else log.warning)("%s", message)

    def state(self) -> dict:
        """``lists`` (held in memory), ``bytes`` (their memory), ``on_disk``, ``oldest_iat`` (the
        oldest iat of the lists held, 0: none) and ``events`` (``{("status", event): count}``)."""
        return {"lists": len(self._mem), "bytes": self._bytes,
                "on_disk": sum(1 for h in self._held.values() if h.on_disk),
                "oldest_iat": min((h.iat for h in self._held.values()), default=0),
                "events": {("status", event): n for event, n in self.events.items() if n}}
