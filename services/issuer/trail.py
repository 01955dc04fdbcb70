"""A region's trail (全程留痕): every use of its credentials appended to one hash chain in the store
(:mod:`ecert.rules.trail` gives the entry, its hash and the walk), and the holder's access log read
from it.

One :class:`Trail` per issuer. Its appends are grouped: what arrives while a write is in progress
goes into the next, one durable write (and, on SQLite, the same commit as concurrent issuances).
Each entry has an id, and an id appended before is answered with the entry it made (a verifier's
redelivery, an issuance asked again): never a second entry. Another process appending to the same
region's chain makes a write collide on its place in the chain (the store keeps it a prefix);
the chain is read again and the rest written after it, so it never forks.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

from ecert.clock import Clock
from ecert.errors import InvalidRequest, Unavailable
from ecert.limits import DEFAULT_TRAIL_PAGE, MAX_EPOCH, MAX_TRAIL_BATCH, MAX_TRAIL_PAGE
from ecert.rules import trail
from ecert.rules.offline import ENTRY_PREFIX as OFFLINE_PREFIX
from ecert.rules.access import Principal, require_role
from ecert.store import Store
from ecert.vocab import Role, TrailAction

log = logging.getLogger("ecert.issuer.trail")

MAX_WRITE = 5000
"""Entries in one write at most (requests waiting beyond it go into the next)."""
ATTEMPTS = 8
"""Writes one group may take when other appenders keep taking its places."""
OWN_IDS = ("issue-", "photo-reuse-", "status-")
"""How the ids of the entries the issuer makes itself begin (each names what it records, so asking
again makes no second entry); a delivered entry may not take one."""


class Page(NamedTuple):
    """A page of a credential's access log: entries oldest first, and the ``seq`` to ask after for
    the next page (None: this was the last)."""

    entries: list[dict]
    next: int | None


class Recorded(NamedTuple):
    """What a delivered batch became: entries new in the chain, entries it held already (by id), and
    the ids of entries refused as malformed (acknowledged all the same: sending them again would
    not make them right)."""

    recorded: int
    duplicates: int
    refused: list[str]


def record_of(actor: Principal, *, action: TrailAction | str, credential_id: str, purpose: str = "",
              outcome: str = "", entry_id: str | None = None, at: int) -> trail.Record:
    return trail.Record(id=entry_id or uuid.uuid4().hex, credential_id=credential_id, at=at, action=str(action),
                        actor_org=actor.org, actor_key_id=actor.key_id, actor_role=str(actor.role),
                        actor_region=actor.region, purpose=str(purpose), result=str(outcome))


class Trail:
    """``region``'s trail over ``store``. ``record_region(principal, credential_id)`` is the issuer's
    check that the principal may read that credential's record (404 otherwise), for the access log."""

    def __init__(self, region: str, store: Store, *, now: Clock,
                 record_region: Callable[[Principal, str], Awaitable[object]]):
        self.region = region
        self.store = store
        self.now = now
        self.record_region = record_region
        self._waiting: list[tuple[list[trail.Record], asyncio.Future]] = []
        self._writing = False
        self._last: tuple[int, str] | None = None  # (seq, hash) of the chain's end as this process last wrote it

    # -- appending ---------------------------------------------------------------------------------
    async def append(self, *, action: TrailAction | str, credential_id: str, actor: Principal, purpose: str = "",
                     outcome: str = "", entry_id: str | None = None, at: int | None = None) -> dict:
        """Append one use of a credential (``entry_id`` None: a fresh one) and return its entry: the
        one made before, when that id was appended already. 400 for a member out of shape."""
        r = record_of(actor, action=action, credential_id=credential_id, purpose=purpose, outcome=outcome,
                      entry_id=entry_id, at=self.now() if at is None else at)
        return (await self.append_records([trail.check_record(r)]))[0]

    async def issued(self, p: Principal, doc: dict, *, photo_reused: bool = False) -> dict:
        """Record an issuance (its entry's id is the credential's, so an issuance asked again, with
        its ``request_id``, makes no second entry and repairs one a crash lost), and after it the
        reuse of the portrait on file when it was one; returns ``doc``."""
        records = [trail.check_record(record_of(p, action=TrailAction.ISSUE, credential_id=doc["_id"],
                                                outcome=str(doc["status"]), entry_id=f"issue-{doc['_id']}",
                                                at=doc["issued_at"]))]
        if photo_reused:
            records.append(trail.check_record(record_of(p, action=TrailAction.PHOTO_REUSE, credential_id=doc["_id"],
                                                        outcome="reused", entry_id=f"photo-reuse-{doc['_id']}",
                                                        at=doc["issued_at"])))
        await self.append_records(records)
        return doc

    async def status_changed(self, p: Principal, credential_id: str, status: str, at: int, change: int) -> None:
        """Record a credential's ``change``-th change of status, to ``status`` at ``at`` (its entry's id
        names the credential and the count, so recording it again, after a failure, makes no second entry)."""
        await self.append(action=TrailAction.STATUS_CHANGE, credential_id=credential_id, actor=p, outcome=str(status),
                          entry_id=f"status-{credential_id}-{change}", at=at)

    async def append_records(self, records: Sequence[trail.Record]) -> list[dict]:
        """Append checked records in order; each one's entry (new, or the one its id made before)."""
        return [entry for entry, _ in await self._append(records)]

    async def _append(self, records: Sequence[trail.Record]) -> list[tuple[dict, bool]]:
        """Each record's entry, and whether this append made it."""
        if not records:
            return []
        fut = asyncio.get_running_loop().create_future()
        self._waiting.append((list(records), fut))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write_waiting())
        return await fut

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                group, size = [], 0
                while self._waiting and (not group or size + len(self._waiting[0][0]) <= MAX_WRITE):
                    records, fut = self._waiting.pop(0)
                    group.append((records, fut))
                    size += len(records)
                try:
                    entries = await self._write([r for records, _ in group for r in records])
                except BaseException as err:
                    for _, fut in group:
                        if not fut.done():
                            fut.set_exception(err if isinstance(err, Exception) else Unavailable("stopped"))
                    if not isinstance(err, Exception):
                        raise
                    continue
                i = 0
                for records, fut in group:
                    if not fut.done():
                        fut.set_result(entries[i:i + len(records)])
                    i += len(records)
        finally:
            self._writing = False

    async def _chain_end(self, fresh: bool) -> tuple[int, str]:
        if self._last is None or fresh:
            last = await self.store.trail_last(self.region)
            self._last = (last["seq"], last["hash"]) if last else (0, trail.GENESIS)
        return self._last

    async def _write(self, records: list[trail.Record]) -> list[tuple[dict, bool]]:
        """The entries of ``records``, in order, appended where new (and whether it was)."""
        done: dict[str, dict] = {}  # id -> its entry
        new: set[str] = set()
        todo = _unique(records)
        fresh = False
        for _ in range(ATTEMPTS):
            if not todo:
                break
            seq, last_hash = await self._chain_end(fresh)
            texts: list[str] = []
            entries = trail.chained(self.region, todo, seq, last_hash, texts)
            n = await self.store.append_trail(self.region, entries, texts)
            for e in entries[:n]:
                done[e["id"]] = e
                new.add(e["id"])
            if n:
                self._last = (entries[n - 1]["seq"], entries[n - 1]["hash"])
            if n == len(entries):
                todo = []
                break
            # entry n collided: its id was appended before (a redelivery), or its place was taken by
            # another appender. Either way: what of the rest is there already, and where the chain ends now.
            rest = todo[n:]
            held = await self.store.trail_by_ids(self.region, [r.id for r in rest])
            done.update(held)
            todo = [r for r in rest if r.id not in held]
            fresh = True
        if todo:
            raise Unavailable("the trail is being appended to by others: try again", code="TRAIL_BUSY")
        made = set()
        out = []
        for r in records:  # a repeated id in one group: the first made the entry
            out.append((done[r.id], r.id in new and r.id not in made))
            made.add(r.id)
        return out

    # -- what verifiers deliver ----------------------------------------------------------------------
    async def record_delivered(self, p: Principal, records: Sequence[trail.Record]) -> Recorded:
        """Checks a verifier recorded and delivers (its service principal): appended once each by id,
        malformed ones refused one by one (never the whole delivery), and so is any record of
        another action than ``verify`` or with an id of the issuer's own entries (:data:`OWN_IDS`)."""
        require_role(p, Role.SERVICE)
        if len(records) > MAX_TRAIL_BATCH:
            raise InvalidRequest(f"at most {MAX_TRAIL_BATCH:,} entries in one delivery", field="entries")
        good, refused = [], []
        for r in records:
            try:
                good.append(_delivered(trail.check_record(r)))
            except InvalidRequest as err:
                refused.append(r.id if isinstance(r.id, str) else "")
                log.warning("a delivered trail entry was refused: %s", err.blamed)
        good, unheld = await self._held_only(good)
        refused.extend(unheld)
        flagged = await self._append(good)
        new = sum(1 for _, made in flagged if made)
        return Recorded(new, len(flagged) - new, refused)

    async def _held_only(self, records: list[trail.Record]) -> tuple[list[trail.Record], list[str]]:
        """The records, but a check a page made offline (its id :data:`~ecert.rules.offline.ENTRY_PREFIX`)
        only for a credential this region holds, and the ids of those left out. A page reports a check
        it judged itself: unlike a verifier's own (the credential's signature checked against this
        region's key), nothing else says the credential is this region's, or anybody's."""
        named = {r.credential_id for r in records if r.id.startswith(OFFLINE_PREFIX)}
        if not named:
            return records, []
        docs = dict(zip(named, await asyncio.gather(*(self.store.get_credential(c) for c in named))))
        held = {c for c, doc in docs.items() if doc is not None and doc.get("region") == self.region}
        kept = [r for r in records if not r.id.startswith(OFFLINE_PREFIX) or r.credential_id in held]
        unheld = [r.id for r in records if r.id.startswith(OFFLINE_PREFIX) and r.credential_id not in held]
        if unheld:
            log.warning("%d offline check(s) of credentials %s does not hold were refused", len(unheld), self.region)
        return kept, unheld

    # -- the holder's access log ------------------------------------------------------------------------
    async def access_log(self, p: Principal, credential_id: str, after: int = 0,
                         limit: int = DEFAULT_TRAIL_PAGE) -> Page:
        """One page of a credential's entries, oldest first (in the order the region recorded them),
        for whoever may read its record (the issuing agency on the holder's behalf, an admin)."""
        await self.record_region(p, credential_id)  # 403 / 404 as for the record itself
        if after.__class__ is not int or not 0 <= after <= MAX_EPOCH:
            raise InvalidRequest("after must be an entry's seq (0: from the start)", field="after")
        if limit == 0:
            limit = DEFAULT_TRAIL_PAGE
        if limit.__class__ is not int or not 1 <= limit <= MAX_TRAIL_PAGE:
            raise InvalidRequest(f"limit must be 1 to {MAX_TRAIL_PAGE}", field="limit")
        entries = await self.store.credential_trail(self.region, credential_id, after, limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        return Page(entries, entries[-1]["seq"] if more else None)


def _delivered(r: trail.Record) -> trail.Record:
    """A checked record as a verifier may deliver it: a check, under an id of its own."""
    if r.action != TrailAction.VERIFY:
        raise InvalidRequest("a verifier delivers checks only (action verify)", field="action")
    if r.id.startswith(OWN_IDS):
        raise InvalidRequest("the id is of an entry the issuer makes itself", field="id")
    return r


def _unique(records: Sequence[trail.Record]) -> list[trail.Record]:
    """``records`` without repeats of an id (the first is kept)."""
    seen: set[str] = set()
    out = []
    for r in records:
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out
