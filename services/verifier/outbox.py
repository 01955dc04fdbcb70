"""The verifier's outbox: every check it makes of a credential, kept on disk before the answer goes
out, and delivered to the issuing region's trail in the background.

Verifications are checked offline and stay fast: a request's checks (one for a single payload, up
to 1,000 for a batch) are one line appended to a file, one ``write`` per region the request
touched, before the answer is sent; nothing waits for the network. The files are synced to disk
in the background (:meth:`Outbox.run`, within :data:`SYNC_EVERY` seconds); a write returned by
the system already survives the process being killed, which is what a restart needs.

A delivery task (:meth:`Outbox.run`: :data:`LINGER` seconds after new checks, so that a burst goes
in one call; at once when a call's worth is waiting) sends each region's lines, oldest first, to
its issuer (the endpoint the trust list names) in calls of at most :data:`~ecert.limits.MAX_TRAIL_BATCH` checks; once a region
acknowledged a call, the file's delivered position moves past it (kept beside it). Delivery is at
least once: a call answered but not yet noted is sent again, and the region makes no second
entry of an id it holds. An unreachable region waits, with a back-off, and never holds up the
answers or the other regions' delivery; a line that is not one the outbox writes (a damaged disk)
is skipped. A file delivered to its end is removed, and the region's next check begins a new one:
a file's bytes are never written over, so a delivered position on disk is never ahead of its
file. One that reaches :data:`ROTATE_BYTES` under a steady load is closed to new lines, delivered
and removed.

On disk (``var/verifier/outbox/``, folders 0700, files 0600)::

    <REGION>/<instance>-<n>.log   one JSON line per request: {"p": purpose, "o": org, "k": key id,
                                  "r": role, "g": region, "i": line id, "t": at,
                                  "c": [[credential id, result], ...]}
    <REGION>/<instance>-<n>.pos   the bytes of the .log delivered so far

An entry's id is ``<line id>.<n>`` (its place in the line). Each verifier instance writes its own
files and holds a lock on them; the files of an instance that is gone (a crash, a restart) are
unlocked, and the next verifier to start on the same folder (or the running one, within
:data:`ADOPT_EVERY` seconds) delivers them and removes them: nothing is lost across a restart.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ecert.errors import InvalidRequest, Unavailable
from ecert.files import private_dir
from ecert.limits import MAX_TRAIL_BATCH
from ecert.rules import trail
from ecert.rules.access import Principal
from ecert.rules.schema import is_region_code
from ecert.vocab import TrailAction

log = logging.getLogger("ecert.verifier.outbox")

READ_CHUNK = 256 << 10
"""Bytes read from a file at a time when delivering."""
ROTATE_BYTES = 16 << 20
"""Bytes after which a region's file is closed to new lines (delivered, then removed) and a new one begun:
under a steady load a file never empties, and this keeps it from growing without end."""
SYNC_EVERY = 0.5
"""Seconds within which what was written is synced to disk."""
ADOPT_EVERY = 10.0
"""Seconds between looks for the files of a verifier that is gone."""
LINGER = 0.1
"""Seconds a delivery waits after new checks, so that what comes meanwhile goes in the same call (calls are
few and full: each costs both sides a fixed amount, and the region one commit)."""

RETRY_FIRST, RETRY_MAX = 0.5, 30.0
"""The back-off for a region that could not be reached: from the first wait, doubled up to the last."""

Checks = Mapping[str, Sequence[tuple[str, str]]]
"""Issuing region -> the (credential id, result) of each check of its credentials in one request."""


class Delivery(Protocol):
    async def record_access(self, endpoint: str, records: list[dict]) -> Sequence[str]:
        """Deliver outbox lines (parsed) to the issuer at ``endpoint``: the ids of the entries it
        refused as malformed (not to be sent again); raises an EcertError if they were not
        acknowledged."""


class _File:
    """One outbox file: its descriptor (locked), the bytes written and the bytes delivered (kept in
    the ``.pos`` file beside it: one small write, never synced, for a position behind the truth only
    means checks sent again, which their region recognises; a file's bytes are never written over,
    so a position that reached the disk is never ahead of what it stands for)."""

    def __init__(self, region: str, path: Path, fd: int, size: int, own: bool):
        self.region, self.path, self.fd, self.size, self.own = region, path, fd, size, own
        self.pos_path = path.with_suffix(".pos")
        self.pos_fd = os.open(self.pos_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            pos = int(os.pread(self.pos_fd, 32, 0).strip() or 0)
        except ValueError:
            pos = 0
        self.pos = pos if 0 <= pos <= size else 0  # past the end: the file's tail was lost after its delivery
        self.dirty = False  # written since it was last synced

    def save_pos(self) -> None:
        os.pwrite(self.pos_fd, f"{self.pos:020d}".encode(), 0)

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.pos_fd)


class Outbox:
    """The outbox in ``folder``; ``endpoint(region)`` is where a region's issuer is reached now (None:
    nowhere known), ``delivery`` the port that delivers."""

    def __init__(self, folder: Path, delivery: Delivery, endpoint: Callable[[str], str | None], *,
                 monotonic: Callable[[], float] = time.monotonic):
        self.folder = folder
        self.delivery = delivery
        self.endpoint = endpoint
        self.monotonic = monotonic
        self.instance = secrets.token_hex(8)
        self._lines = 0
        self._files = 0
        self._heads: dict[tuple, str] = {}  # (role, region, key id, org, purpose) -> the line's JSON text for them
        self._own: dict[str, _File] = {}
        self._orphans: list[_File] = []
        self._retry: dict[str, tuple[float, float]] = {}  # region -> (next attempt, back-off)
        self._new = asyncio.Event()
        self._adopted_at = float("-inf")
        self._delivering = asyncio.Lock()
        self._closed = False
        self._fresh = 0  # checks recorded since the last delivery round began

    @classmethod
    def open(cls, folder: Path, delivery: Delivery, endpoint: Callable[[str], str | None], **kw) -> Outbox:
        """The outbox in ``folder`` (made 0700), with the files of any verifier gone taken over."""
        private_dir(folder)
        box = cls(folder, delivery, endpoint, **kw)
        box.adopt()
        return box

    # -- recording (on the hot path) ------------------------------------------------------------
    def record(self, actor: Principal, purpose: str, at: int, checks: Checks) -> None:
        """Keep one request's checks (a batch's, a picture's): one line, one write, per region, now.
        Before the answer is sent. A file the system does not let be opened or written (a full
        disk) is 503 ``TRAIL_UNAVAILABLE``, and what the request had written is taken back: no
        check goes unrecorded, and none refused is recorded."""
        self._check_open()
        written: list[tuple[_File, int]] = []  # the files written to, and their sizes before
        fresh = 0
        try:
            for region, pairs in checks.items():
                if pairs:
                    f = self._own.get(region) or self._own_file(region)
                    if f is None:
                        continue
                    self._lines += 1
                    data = self._line(self._head(actor, purpose), at, pairs)
                    written.append((f, f.size))
                    _write_all(f.fd, data)
                    f.size += len(data)
                    fresh += len(pairs)
        except OSError as err:
            for f, size in written:
                self._undo(f, size)
            log.error("the outbox cannot be written (%s): checks cannot be recorded", err.strerror)
            raise Unavailable("the verifier cannot record this check now", code="TRAIL_UNAVAILABLE") from err
        for f, _ in written:
            f.dirty = True
            if f.size >= ROTATE_BYTES:
                self._retire(f)
        self._fresh += fresh
        self._new.set()

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("the verifier is stopping", code="TRAIL_UNAVAILABLE")

    def _undo(self, f: _File, size: int) -> None:
        """Take ``f`` back to ``size`` bytes (a refused request's line: whole, or cut short by a full disk)."""
        try:
            os.ftruncate(f.fd, size)
            f.size = size
        except OSError:  # it cannot be: closed to new lines, what it holds is delivered (a torn end dropped)
            try:
                f.size = os.fstat(f.fd).st_size
            except OSError:
                pass
            f.dirty = True
            self._retire(f)

    def _head(self, actor: Principal, purpose: str) -> str:
        """The checker's part of a line (written once per checker and purpose, then kept)."""
        key = (actor.role, actor.region, actor.key_id, actor.org, purpose)
        head = self._heads.get(key)
        if head is None:
            head = json.dumps({"p": purpose, "o": actor.org, "k": actor.key_id, "r": actor.role, "g": actor.region},
                              separators=(",", ":"))[:-1]
            if len(self._heads) < 10_000:
                self._heads[key] = head
        return head

    def _line(self, head: str, at: int, pairs: Sequence[tuple[str, str]]) -> bytes:
        """A line of checks: written directly when they are ids and codes (as they are), else through
        the JSON writer."""
        if at.__class__ is int and all(c.isalnum() and r.replace("_", "").isalnum() for c, r in pairs):
            checks = ",".join(f'["{c}","{r}"]' for c, r in pairs)
            return f'{head},"i":"{self.instance}-{self._lines:x}","t":{at},"c":[{checks}]}}\n'.encode()
        return (head + "," + json.dumps({"i": f"{self.instance}-{self._lines:x}", "t": at, "c": list(pairs)},
                                        separators=(",", ":"))[1:] + "\n").encode()

    def _retire(self, f: _File) -> None:
        """Close ``f`` to new lines: it is delivered and removed as a gone verifier's file is (still ours, locked)."""
        del self._own[f.region]
        f.own = False
        self._orphans.append(f)

    def _own_file(self, region: str) -> _File | None:
        """A new file of this instance for ``region``'s checks (an OSError if the system refuses it);
        None for a text that is no region code (the codes a trust list names are checked when registered)."""
        if not is_region_code(region):
            log.warning("a check of a credential of an unnamed region was not recorded")
            return None
        folder = self.folder / region
        private_dir(folder)
        self._files += 1
        path = folder / f"{self.instance}-{self._files}.log"
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a file of our own: nobody else holds it
            f = _File(region, path, fd, os.fstat(fd).st_size, own=True)
        except OSError:
            os.close(fd)
            raise
        self._own[region] = f
        return f

    # -- the files of verifiers gone ----------------------------------------------------------------
    def adopt(self) -> int:
        """Take over the unlocked files of verifiers that are gone; how many were taken."""
        self._adopted_at = self.monotonic()
        taken = 0
        if not self.folder.is_dir():
            return 0
        held = {f.path for f in self._orphans} | {f.path for f in self._own.values()}
        for folder in sorted(self.folder.iterdir()):
            if not folder.is_dir() or not is_region_code(folder.name):
                continue
            for path in sorted(folder.glob("*.log")):
                if path in held:
                    continue
                f = self._take(folder.name, path)
                if f is not None:
                    self._orphans.append(f)
                    taken += 1
                    if f.pos >= f.size:  # all of it delivered before: nothing to do but tidy up
                        self._done(f)
        if taken:
            log.info("delivering the outbox files of %d verifier run(s) gone", taken)
        return taken

    @staticmethod
    def _take(region: str, path: Path) -> _File | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:  # removed and made anew meanwhile
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):  # a running verifier's, or gone already
            os.close(fd)
            return None
        f = _File(region, path, fd, os.fstat(fd).st_size, own=False)
        f.dirty = True  # what a run gone wrote last may not be on disk yet
        return f

    # -- delivering ----------------------------------------------------------------------------------
    def pending_bytes(self) -> int:
        """Bytes recorded and not yet acknowledged by their regions."""
        return sum(f.size - f.pos for f in (*self._own.values(), *self._orphans))

    async def deliver(self) -> int:
        """Deliver what every reachable region is due, now (a region in its back-off waits); the
        number of checks acknowledged."""
        async with self._delivering:
            self._fresh = 0
            if self.monotonic() - self._adopted_at >= ADOPT_EVERY:
                self.adopt()
            total = 0
            regions = sorted({f.region for f in (*self._own.values(), *self._orphans) if f.pos < f.size})
            for region in regions:
                total += await self._deliver_region(region)
            return total

    async def _deliver_region(self, region: str) -> int:
        due, wait = self._retry.get(region, (0.0, 0.0))
        if self.monotonic() < due:
            return 0
        endpoint = self.endpoint(region)
        if endpoint is None:
            return 0
        total = 0
        for f in [*(o for o in self._orphans if o.region == region), self._own.get(region)]:
            if f is None:
                continue
            try:
                total += await self._deliver_file(f, endpoint)
            except Exception as err:  # the region unreachable or refusing (an EcertError), or a fault here
                wait = min(RETRY_MAX, max(RETRY_FIRST, wait * 2))
                self._retry[region] = (self.monotonic() + wait, wait)
                log.warning("delivering checks to %s failed (%s): again in %.1f s", region, _name(err), wait)
                return total
        self._retry.pop(region, None)
        return total

    async def _deliver_file(self, f: _File, endpoint: str) -> int:
        """What ``f`` held when this round began (what comes meanwhile waits for the next round: under
        load, calls stay full rather than many small ones chasing the newest check)."""
        total = 0
        end = f.size
        while f.pos < end and not self._closed:
            records, used = self._read(f)
            if used == 0:  # a torn last line (a crash mid-write): nothing more to deliver of it
                if not f.own:
                    log.warning("an outbox file's last line was incomplete and is dropped")
                    f.pos = f.size
                    self._done(f)
                break
            if records:
                refused = await self.delivery.record_access(endpoint, records)
                if refused:
                    log.warning("%s refused %d delivered check(s) as malformed (the first: %s): not sent again",
                                f.region, len(refused), refused[0])
            f.pos += used
            total += sum(len(r["c"]) for r in records)
            if f.pos >= f.size:
                self._done(f)
            else:
                f.save_pos()
        return total

    def _read(self, f: _File) -> tuple[list[dict], int]:
        """Whole lines from the delivered position, up to MAX_TRAIL_BATCH checks (at least one line);
        and the bytes they take."""
        data = os.pread(f.fd, min(READ_CHUNK, f.size - f.pos), f.pos)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) < f.size - f.pos:  # a line over the chunk: read it whole
                data = os.pread(f.fd, f.size - f.pos, f.pos)
                end = data.rfind(b"\n")
            if end < 0:
                return [], 0  # a torn last line
        lines = data[:end].split(b"\n")
        valid = _valid_text if _ESCAPED_SURROGATE.search(data, 0, end) else _valid
        try:  # the lines as one JSON array: one parse for all (a line is an object, never holding a newline)
            parsed = json.loads(b"[" + b",".join(lines) + b"]")
            if len(parsed) != len(lines) or not all(map(valid, parsed)):
                raise ValueError
        except (ValueError, RecursionError):
            parsed = [_parse(line, valid) for line in lines]
        records, used, checks = [], 0, 0
        for line, rec in zip(lines, parsed):
            if rec is None:
                log.warning("an unreadable outbox line is skipped")
                used += len(line) + 1
                continue
            n = len(rec["c"])
            if records and checks + n > MAX_TRAIL_BATCH:
                break
            records.append(rec)
            checks += n
            used += len(line) + 1
        return records, used

    def _done(self, f: _File) -> None:
        """Everything in ``f`` is acknowledged: it is removed (an own file too, at once, with no
        await since the check: the region's next check begins a new file)."""
        if self._own.get(f.region) is f:
            del self._own[f.region]
        else:
            self._orphans.remove(f)
        for p in (f.pos_path, f.path):
            p.unlink(missing_ok=True)
        f.close()

    # -- in the background --------------------------------------------------------------------------
    async def sync(self) -> None:
        """Sync what was written to disk (off the event loop): the files written to, those closed to
        new lines and those taken over included."""
        files = [f for f in (*self._own.values(), *self._orphans) if f.dirty]
        for f in files:
            f.dirty = False
        if files:
            await asyncio.to_thread(_fsync_all, [f.fd for f in files])

    async def run(self, linger: float = LINGER) -> None:
        """Deliver and sync until cancelled: when checks are recorded (after ``linger``, unless a full
        call's worth, MAX_TRAIL_BATCH checks, came meanwhile), else every SYNC_EVERY seconds (a region in its back-off is tried
        when it is due). A failure of its own is logged (its kind only) and waited out, with a back-off."""
        synced = self.monotonic()
        wait = 0.0
        while True:
            try:
                await asyncio.wait_for(self._new.wait(), SYNC_EVERY)
                waited = 0.0
                while waited < linger and self._fresh < MAX_TRAIL_BATCH:
                    await asyncio.sleep(min(0.02, linger))
                    waited += min(0.02, linger)
            except TimeoutError:
                pass
            self._new.clear()
            try:
                if self.monotonic() - synced >= SYNC_EVERY:
                    synced = self.monotonic()
                    await self.sync()
                await self.deliver()
                wait = 0.0
            except Exception as err:
                wait = min(RETRY_MAX, max(RETRY_FIRST, wait * 2))
                log.warning("outbox delivery failed (%s): again in %.1f s", _name(err), wait)
                await asyncio.sleep(wait)

    async def close(self) -> None:
        """Sync and close the files (their locks go with them); what was not delivered stays for the next start."""
        if self._closed:
            return
        self._closed = True
        async with self._delivering:
            files = [*self._own.values(), *self._orphans]
            await asyncio.to_thread(_fsync_all, [f.fd for f in files if f.dirty])
            for f in files:
                f.close()
            self._own.clear()
            self._orphans.clear()

    def abandon(self) -> None:
        """Close the files at once, without syncing or delivering (what a killed process leaves)."""
        self._closed = True
        for f in (*self._own.values(), *self._orphans):
            f.close()
        self._own.clear()
        self._orphans.clear()


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # a regular file takes a write whole but on a full disk: be sure
        written += os.write(fd, data[written:])


def _name(err: Exception) -> str:
    """What a log line says of a failure: its code, or its kind (never its text)."""
    return getattr(err, "code", None) or type(err).__name__


_VERIFY = TrailAction.VERIFY.value  # plain text: the trail's rules keep the checkers they checked (by text)
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A surrogate written as a JSON escape: one of a pair (a character past U+FFFF), or a lone one."""


def _valid(rec: object) -> bool:
    """Whether a parsed line is one the outbox writes: its members of their types, 1 to
    MAX_TRAIL_BATCH checks as [credential id, result], and the checker, the line's id, its time and
    its first check of the shapes the trail takes (:func:`ecert.rules.trail.check_record`, which
    bounds the time by MAX_EPOCH)."""
    if rec.__class__ is not dict:
        return False
    get = rec.get  # type: ignore[attr-defined]
    p, o, k, r, g, i, t, checks = get("p"), get("o"), get("k"), get("r"), get("g"), get("i"), get("t"), get("c")
    if not (p.__class__ is o.__class__ is k.__class__ is r.__class__ is g.__class__ is i.__class__ is str
            and t.__class__ is int and checks.__class__ is list and 0 < len(checks) <= MAX_TRAIL_BATCH):
        return False
    for c in checks:
        if c.__class__ is not list or len(c) != 2 or c[0].__class__ is not str or c[1].__class__ is not str:
            return False
    try:
        trail.check_record(trail.Record(f"{i}.0", checks[0][0], t, _VERIFY, o, k, r, g, p, checks[0][1]))
    except InvalidRequest:
        return False
    return True


def _valid_text(rec: object) -> bool:
    """:func:`_valid`, with no lone surrogate in its text (JSON can write one; UTF-8 and protobuf cannot)."""
    if not _valid(rec):
        return False
    try:
        json.dumps(rec, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _parse(line: bytes, valid: Callable[[object], bool]) -> dict | None:
    """One outbox line, or None if it is not one."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return rec if valid(rec) else None


def _fsync_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.fsync(fd)
        except OSError:
            pass

