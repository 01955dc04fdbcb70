"""The verifier's trust list: fetched from the registry, checked, kept on disk, never rolled back.

Plain Python over one port (:class:`TrustSource`: the registry's answer to "the trust list, I
hold version N") and the clocks. What it holds, in ``cache_dir``:

- ``trust-list.cbor``: the signed list in use, as the registry sent it;
- ``trust-state.json``: the highest version accepted and its iat, the last successful refresh
  (epoch seconds: a restarted verifier knows how old its list is) and the root kid followed;
- ``root-chain.cbor``: the root rotations followed (each announcement a list signed by the old
  root naming the next in ``next_root``), oldest first, from the pinned root.

The rules: a list must be signed by the root reached from the pinned key along the announcements
(:func:`ecert.format.trustlist.follow_roots`; roots only move forward); never a lower version
than the highest accepted, nor one below the configured minimum version or issue time (so a
verifier starting with an empty cache cannot be handed an old genuine list); a list fetched past
its ``exp`` is refused, one loaded from disk past its ``exp`` is used and said to be stale. A
list dated more than the skew ahead of the clock is reported and never fresh. Every refusal is
counted (:attr:`TrustListCache.events`) and logged; a refresh that fails keeps the list in hand.

:meth:`TrustListCache.stale` (called for every answer) compares the clock with two bounds worked
out when the list or its refresh time changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import cbor2

from ecert.clock import Clock, system_clock
from ecert.errors import EcertError
from ecert.files import write_private
from ecert.format import trustlist
from ecert.format.keys import PublicKey
from ecert.rules.trust import TrustList, TrustListError
from ecert.rules.verify import DEFAULT_SKEW
from ecert.runtime.refresh import Refreshed

log = logging.getLogger("ecert.verifier.trust")

DEFAULT_MAX_AGE = 300
"""Seconds since the last successful refresh after which the list in use is stale (``ECERT_TRUST_LIST_MAX_AGE``)."""

# What is counted (the events of GetCacheState, list "trust"):
REFUSED_OLDER = "refused_older"  # a version below the highest accepted (a replay, or a registry rolled back)
REFUSED_EXPIRED = "refused_expired"  # fetched past its exp
REFUSED_BELOW_MINIMUM = "refused_below_minimum"  # below ECERT_TRUST_LIST_MIN_VERSION / _MIN_IAT
FUTURE_DATED = "future_dated"  # iat more than the skew ahead of the clock: used, never fresh
DAMAGED_FILE = "damaged_file"  # a file in cache_dir that could not be read or did not verify
BAD_SIGNATURE = "bad_signature"  # a fetched list not signed by the root followed (or malformed)
REFRESH_FAILED = "refresh_failed"  # the registry could not be asked
WRITE_FAILED = "write_failed"  # a cache file could not be written (a full disk): the list is used from memory
EVENTS = (REFUSED_OLDER, REFUSED_EXPIRED, REFUSED_BELOW_MINIMUM, FUTURE_DATED, DAMAGED_FILE, BAD_SIGNATURE,
          REFRESH_FAILED, WRITE_FAILED)


@dataclass(frozen=True, slots=True)
class TrustListAnswer:
    """The registry's answer to a conditional fetch: the signed list and every root rotation's
    announcement (oldest first), or ``not_modified`` when the version held is the current one."""

    signed: bytes = b""
    root_chain: tuple[bytes, ...] = ()
    not_modified: bool = False


class TrustSource(Protocol):
    async def trust_list(self, known_version: int) -> TrustListAnswer:
        """The registry's current trust list, ``known_version`` being the one held (0: none)."""


class Freshness(NamedTuple):
    """What an answer says of the trust list it was checked against: its version, its iat
    (``trust_list_as_of``) and whether it is stale (0, 0, True: there was none)."""

    version: int
    as_of: int
    stale: bool


NO_TRUST_LIST = Freshness(0, 0, True)


class Refused(TrustListError):
    """A trust list that is genuine-looking but may not be used; ``event`` says why (one of :data:`EVENTS`)."""

    def __init__(self, event: str, message: str):
        super().__init__(f"{event}: {message}")
        self.event = event


@dataclass(slots=True)
class _State:
    version: int = 0  # the highest version accepted
    iat: int = 0  # its iat
    refreshed_at: int = 0  # epoch seconds of the last successful refresh (0: none known)
    root_kid: str = ""


class TrustListCache:
    """The trust list in use (:attr:`trust`), refreshed from ``source`` every ``every`` seconds
    (± jitter) by :meth:`run`, kept in ``cache_dir`` (None: memory only) and checked against the
    root reached from ``pinned``. ``now``: epoch seconds (the verifier's own clock); ``monotonic``
    paces the look-ups; ``min_version`` / ``min_iat``: the oldest list a verifier may start from."""

    def __init__(self, pinned: PublicKey, source: TrustSource, cache_dir: Path | None, *, every: float = 10.0,
                 skew: int = DEFAULT_SKEW, max_age: float = DEFAULT_MAX_AGE, min_version: int = 0, min_iat: int = 0,
                 now: Clock = system_clock, monotonic: Callable[[], float] = time.monotonic):
        self.pinned = pinned
        self.root = pinned  # the root lists are checked against now (moves forward only)
        self.source = source
        self.dir = cache_dir
        self.list_file = cache_dir / "trust-list.cbor" if cache_dir else None
        self.state_file = cache_dir / "trust-state.json" if cache_dir else None
        self.chain_file = cache_dir / "root-chain.cbor" if cache_dir else None
        self.skew, self.max_age = skew, max_age
        self.min_version, self.min_iat = min_version, min_iat
        self.now = now
        self.events: Counter[str] = Counter()
        self._state = _State(root_kid=pinned.kid.hex())
        self._chain: list[bytes] = []  # the announcements followed from the pinned root
        self._signers: list[PublicKey] = []  # the root that signed each of them
        self.refreshed: Refreshed[TrustList] = Refreshed(self._fetch, name="trust list", every=every, retry=every,
                                                         errors=(Exception,), clock=monotonic)
        self._fresh_from = self._stale_from = 0  # stale(now) unless fresh_from <= now < stale_from
        self._fresh = self._stale = NO_TRUST_LIST

    # -- what is held ------------------------------------------------------------------------
    @property
    def trust(self) -> TrustList | None:
        """The list in use (None before the first)."""
        return self.refreshed.value

    @property
    def refreshed_at(self) -> int:
        """Epoch seconds of the last successful refresh, this run or one before (0: none known)."""
        return self._state.refreshed_at

    @property
    def failures(self) -> int:
        """Refreshes failed (or refused) in a row."""
        return self.refreshed.failures

    def stale(self, now: int) -> bool:
        """Whether the list in use is not to be called fresh at ``now``: none, past its ``exp``,
        dated more than the skew ahead of ``now``, or not refreshed in the last ``max_age``
        seconds. Two comparisons: it is asked for every answer."""
        return not self._fresh_from <= now < self._stale_from

    def freshness(self, now: int, trust: TrustList | None = None) -> Freshness:
        """What an answer checked at ``now`` against ``trust`` (the list in use when None) says
        of it; the list in use gets one of two prepared tuples."""
        held = self.refreshed.value
        if trust is not None and trust is not held:  # a list replaced while an answer was on its way
            stale = not (trust.iat - self.skew <= now < min(trust.exp, self._state.refreshed_at + self.max_age))
            return Freshness(trust.version, trust.iat, stale)
        if held is None:
            return NO_TRUST_LIST
        return self._stale if not self._fresh_from <= now < self._stale_from else self._fresh

    def _bounds(self) -> None:
        tl = self.refreshed.value
        if tl is None:
            self._fresh_from = self._stale_from = 0
            self._fresh = self._stale = NO_TRUST_LIST
            return
        self._fresh_from = tl.iat - self.skew
        self._stale_from = min(tl.exp, self._state.refreshed_at + self.max_age)
        self._fresh, self._stale = Freshness(tl.version, tl.iat, False), Freshness(tl.version, tl.iat, True)

    def state(self, now: int) -> dict:
        """The list in use and the refreshes, for GetCacheState: version, iat, exp (0: none),
        refreshed_at, stale, failures, root_kid and the events counted since start."""
        tl = self.trust
        return {"version": tl.version if tl else 0, "iat": tl.iat if tl else 0, "exp": tl.exp if tl else 0,
                "refreshed_at": self.refreshed_at, "stale": self.stale(now), "failures": self.failures,
                "root_kid": self.root.kid.hex(), "events": dict(self.events)}

    # -- from disk -----------------------------------------------------------------------------
    def load(self) -> None:
        """Start from what ``cache_dir`` holds: the root chain followed, the state, then the list
        (checked as a fetched one is, except that one past its ``exp`` is used, as stale). A
        file that cannot be read or does not verify is ignored, logged and counted."""
        if self.dir is None:
            return
        self._load_chain()
        self._load_state()
        if self.list_file is None or not self.list_file.exists():
            self._bounds()
            return
        try:
            tl = self._checked(self.list_file.read_bytes(), self.now(), fetched=False)
        except Refused as err:
            self._refused(err, "the list on disk")
        except (TrustListError, OSError) as err:
            self._count(DAMAGED_FILE, "ignoring the trust list on disk (%s): %s", self.list_file, err)
        else:
            if self.trust is None or tl.version > self.trust.version:
                self.refreshed.seed(tl)
                self._note_accepted(tl)
                log.info("trust list v%d (iat %d) loaded from disk; last refreshed at %d", tl.version, tl.iat,
                         self._state.refreshed_at)
        self._bounds()

    def _load_chain(self) -> None:
        if self.chain_file is None or not self.chain_file.exists():
            return
        try:
            chain = cbor2.loads(self.chain_file.read_bytes())
            if not isinstance(chain, list) or not all(type(a) is bytes for a in chain):
                raise ValueError("not a list of signed announcements")
        except (OSError, ValueError, cbor2.CBORDecodeError) as err:
            self._count(DAMAGED_FILE, "ignoring the root chain on disk (%s): %s", self.chain_file, err)
            return
        followed = self._follow(chain, persist=False)
        if followed < len(chain):  # normal once the pin is newer than the chain (a verifier pinned anew)
            log.info("root chain on disk (%s): %d of %d announcements do not lead on from the pinned root: "
                     "not followed", self.chain_file, len(chain) - followed, len(chain))

    def _load_state(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            raw = json.loads(self.state_file.read_text())
            state = _State(*(raw[k] for k in ("version", "iat", "refreshed_at")), root_kid=self.root.kid.hex())
            if not all(type(v) is int and v >= 0 for v in (state.version, state.iat, state.refreshed_at)):
                raise ValueError("members must be whole numbers")
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._count(DAMAGED_FILE, "ignoring the trust state on disk (%s): %s", self.state_file, err)
            return
        self._state = state

    # -- fetching ------------------------------------------------------------------------------
    async def _fetch(self) -> TrustList:
        """One conditional fetch (:class:`Refreshed` calls it): the list in use when unchanged,
        else the new one, checked and written to disk; raises when the registry cannot be asked
        or its list is refused."""
        cur = self.trust
        try:
            answer = await self.source.trust_list(cur.version if cur is not None else 0)
        except Exception as err:
            self._count(REFRESH_FAILED, "trust list refresh failed: %s", err, level=logging.INFO)
            raise
        now = self.now()
        if answer.not_modified:
            if cur is None:
                self._count(REFRESH_FAILED, "the registry answered not_modified to a verifier holding no list")
                raise TrustListError("not_modified, though no list is held")
            return self._success(cur, now)
        if answer.root_chain:
            self._follow(answer.root_chain)
        if cur is not None and answer.signed == cur.signed:
            # The list in hand, byte for byte (a registry that does not answer not_modified):
            # checking and parsing it again, schemas and all, would cost CPU for nothing.
            return self._success(cur, now)
        try:
            tl = self._checked(answer.signed, now, fetched=True)
        except Refused as err:
            self._refused(err, "the registry's list")
            raise
        except TrustListError as err:
            self._count(BAD_SIGNATURE, "refused the registry's trust list: %s", err)
            raise
        if cur is not None and tl.version == cur.version:
            return self._success(cur, now)  # the same version (re-encoded): nothing to change
        self._persist(tl)
        self._note_accepted(tl)
        log.info("trust list v%d accepted (root %s)", tl.version, self.root.kid.hex())
        return self._success(tl, now)

    def _checked(self, signed: bytes, now: int, *, fetched: bool) -> TrustList:
        """``signed`` as a list that may be used, or :class:`Refused` / TrustListError."""
        tl = self._parse(signed)
        high = max(self._state.version, self.trust.version if self.trust is not None else 0)
        if tl.version < high:
            raise Refused(REFUSED_OLDER, f"trust list v{tl.version} is older than v{high}, already accepted")
        if tl.version < self.min_version or tl.iat < self.min_iat:
            raise Refused(REFUSED_BELOW_MINIMUM, f"trust list v{tl.version} (iat {tl.iat}) is below the minimum "
                                                 f"v{self.min_version} (iat {self.min_iat})")
        if now >= tl.exp:
            if fetched:
                raise Refused(REFUSED_EXPIRED, f"trust list v{tl.version} expired at {tl.exp} (now {now})")
            log.warning("trust list v%d on disk expired at %d (now %d): used, as stale, until a fresh one comes",
                        tl.version, tl.exp, now)
        if tl.iat > now + self.skew:
            self._count(FUTURE_DATED, "trust list v%d is dated %d s ahead of this verifier's clock: used, never "
                        "as fresh", tl.version, tl.iat - now)
        return tl

    def _parse(self, signed: bytes) -> TrustList:
        """Checked against the root followed; the last announcement (signed by the root before
        it, which it names as its successor) is the one list a former root may have signed."""
        try:
            return TrustList.from_signed(signed, self.root)
        except TrustListError:
            if self._chain and signed == self._chain[-1]:
                return TrustList.from_signed(signed, self._signers[-1])
            raise

    def _follow(self, chain: Sequence[bytes], *, persist: bool = True) -> int:
        """Follow the root rotations of ``chain`` from the root reached so far; returns how many
        announcements were followed (and, with ``persist``, writes the chain when it grew)."""
        before = self.root
        root, followed = trustlist.follow_roots(self.root, list(chain))
        for announcement in followed:
            self._signers.append(before)
            self._chain.append(announcement.signed)
            before = announcement.next_root
        if followed:
            log.warning("root key rotated: trust lists are now checked against root %s (was %s)",
                        root.kid.hex(), self.root.kid.hex())
            self.root = root
            self._state.root_kid = root.kid.hex()
            if persist and self.chain_file is not None:
                self._write(self.chain_file, cbor2.dumps(self._chain))
        return len(followed)

    def _success(self, tl: TrustList, now: int) -> TrustList:
        self._state.refreshed_at = now  # the bounds follow once Refreshed holds the list (refresh)
        self._write_state()
        return tl

    def _note_accepted(self, tl: TrustList) -> None:
        if tl.version >= self._state.version:
            self._state.version, self._state.iat = tl.version, tl.iat

    def _persist(self, tl: TrustList) -> None:
        if self.list_file is not None:
            self._write(self.list_file, tl.signed)

    def _write_state(self) -> None:
        if self.state_file is not None:
            s = self._state
            self._write(self.state_file, json.dumps({"version": s.version, "iat": s.iat,
                                                     "refreshed_at": s.refreshed_at,
                                                     "root_kid": s.root_kid}).encode())

    def _write(self, path: Path, data: bytes) -> None:
        """``data`` into ``path`` (0600, as every file in var/, replaced whole). A failure (a full or
        read-only disk) is counted and logged, never raised: a good list fetched is used from
        memory rather than thrown away; the disk holds the last one written (a restart loads that,
        and the minimum version still bounds what it accepts)."""
        try:
            write_private(path, data)
        except OSError as err:
            self._count(WRITE_FAILED, "cannot write %s (%s): the list is used from memory", path.name,
                        err.strerror or type(err).__name__)

    def _count(self, event: str, message: str, *args, level: int = logging.WARNING) -> None:
        self.events[event] += 1
        log.log(level, message, *args)

    def _refused(self, err: Refused, what: str) -> None:
        self._count(err.event, "refused %s: %s", what, err)

    # -- refreshing ----------------------------------------------------------------------------
    def due(self, min_interval: float) -> bool:
        """Whether no refresh was tried in the last ``min_interval`` seconds."""
        return self.refreshed.due(min_interval)

    async def refresh(self) -> bool:
        """Fetch now; True if a newer list was accepted. A failure (or a refusal) with a list in
        hand keeps it (False); with none, it raises."""
        try:
            return await self.refreshed.refresh()
        finally:
            self._bounds()

    async def refresh_soon(self, min_interval: float) -> bool:
        """:meth:`refresh` unless one was tried less than ``min_interval`` seconds ago (the hot
        path never hammers a registry that is down); never raises."""
        try:
            return await self.refreshed.refresh_soon(min_interval)  # failures counted and logged in _fetch
        finally:
            self._bounds()

    async def refresh_quietly(self) -> None:
        """:meth:`refresh`, any failure logged and kept (the background schedule's one step)."""
        try:
            await self.refresh()
        except EcertError as err:
            log.warning("trust list refresh failed, no list yet: %s", err)
        except Exception:
            log.exception("trust list refresh failed, no list yet")

    async def run(self) -> None:
        """:meth:`refresh_quietly` every ``every`` seconds (± jitter) until cancelled: no failure,
        however many in a row, ends it."""
        while True:
            await asyncio.sleep(self.refreshed.interval())
            await self.refresh_quietly()
