"""One region's status lists at its issuer: where a new credential's status entry goes, and the
region's shards (:class:`~ecert.rules.shards.Shards`) answered one uri at a time or, for a
verifier's refresh, all it holds in one call with only the changed ones back.

A shard is one of the region's while the region's status counter has reached it (shard 1 always:
the single list of earlier releases); any other uri is unknown (404 alone, or listed as unknown).
Memory: the signed bytes of the shards asked for, nothing else (a few KiB a shard).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ecert.clock import Clock
from ecert.errors import InvalidRequest, NotFound
from ecert.format import statuslist
from ecert.limits import MAX_EPOCH, MAX_REGION_LISTS_BYTES
from ecert.rules.shards import KeySource, Shards, Signed
from ecert.store import Store


class RegionStatus:
    """The region's status lists over the store and the signing key (``key``: a plain or async
    callable giving the key to sign with now)."""

    def __init__(self, region: str, store: Store, key: KeySource, *, ttl: int, validity: int, now: Clock):
        self.region = region
        self.store = store
        self.shards = Shards(self._entries, key, ttl=ttl, validity=validity, now=now)

    async def _entries(self, uri: str) -> list[tuple[int, str]]:
        return await self.store.status_entries(self.region, uri)

    async def allocate(self) -> tuple[str, int]:
        """The status claim ``(uri, idx)`` of the next credential: the region's counter g gives
        shard ``g // SHARD_SIZE + 1``, entry ``g % SHARD_SIZE``."""
        return statuslist.allocate(self.region, await self.store.next_status_index(self.region))

    def changed(self, uri: str) -> None:
        """A credential of the list ``uri`` changed status: that shard is signed anew when next asked."""
        self.shards.changed(uri)

    async def known(self, uri: str, end: int | None = None) -> bool:
        """Whether ``uri`` is one of the region's shards (``end``: the region's counter, read already)."""
        parsed = statuslist.parse_shard_uri(uri)
        if parsed is None or parsed[0] != self.region:
            return False
        if parsed[1] == 1 or self.shards.held(uri) is not None:
            return True
        if end is None:
            end = await self.store.status_index_end(self.region)
        return (parsed[1] - 1) * statuslist.SHARD_SIZE < end

    async def status_list(self, uri: str) -> Signed:
        """The shard's signed list; 404 for a uri that is none of the region's."""
        if not await self.known(uri):
            raise NotFound(f"no status list {uri[:100]}")
        return await self.shards.get(uri)

    async def status_lists(self, held: Sequence[tuple[str, int]]) -> tuple[list[Signed], list[str]]:
        """For each ``(uri, iat held)`` (iat 0: none held), the shard's list if it was signed after that
        iat, in the order asked; and the uris that are none of the region's. At most
        :data:`~ecert.format.statuslist.MAX_LISTS_PER_CALL` a call, each uri at most
        :data:`~ecert.format.statuslist.MAX_URI` characters (400 otherwise)."""
        if len(held) > statuslist.MAX_LISTS_PER_CALL:
            raise InvalidRequest(f"at most {statuslist.MAX_LISTS_PER_CALL} status lists a call", field="held")
        if any(len(uri) > statuslist.MAX_URI for uri, _ in held):  # none of the region's, and echoed back
            raise InvalidRequest(f"a status list uri has at most {statuslist.MAX_URI} characters", field="held")
        lists: list[Signed] = []
        unknown: list[str] = []
        seen: set[str] = set()
        end = await self.store.status_index_end(self.region)  # once a call, not once a uri
        for uri, iat in held:
            if uri in seen:
                continue
            seen.add(uri)
            if not await self.known(uri, end):
                unknown.append(uri)
                continue
            signed = await self.shards.get(uri)
            if signed.iat > iat:
                lists.append(signed)
        return lists, unknown

    async def region_lists(self, since: int, from_shard: int = 1) -> tuple[list[Signed], int, str]:
        """Every shard of the region from ``from_shard`` (0: 1) in order, those signed after ``since``
        (a page that keeps them all: what changed), at most
        :data:`~ecert.limits.MAX_REGION_LISTS_BYTES` of them (at least one); and the first shard left
        out by that bound (0: none); and the version of the shards from ``from_shard`` (a digest of
        each one's uri and iat: another once any of them is signed anew). 400 for a ``since`` or
        ``from_shard`` out of range."""
        if since.__class__ is not int or not 0 <= since <= MAX_EPOCH:
            raise InvalidRequest(f"since must be an iat, 0 to {MAX_EPOCH}", field="since")
        if from_shard == 0:
            from_shard = 1
        if from_shard.__class__ is not int or not 1 <= from_shard <= statuslist.MAX_SHARD:
            raise InvalidRequest(f"from_shard must be 1 to {statuslist.MAX_SHARD}", field="from_shard")
        end = await self.store.status_index_end(self.region)
        last = min(statuslist.MAX_SHARD, max(1, -(-end // statuslist.SHARD_SIZE)))
        lists: list[Signed] = []
        size, cut = 0, 0
        version = hashlib.sha256()
        for n in range(from_shard, last + 1):
            signed = await self.shards.get(statuslist.shard_uri(self.region, n))
            version.update(f"{signed.uri} {signed.iat}\n".encode())
            if signed.iat <= since or cut:
                continue
            if lists and size + len(signed.signed) > MAX_REGION_LISTS_BYTES:
                cut = n
                continue
            lists.append(signed)
            size += len(signed.signed)
        return lists, cut, version.hexdigest()[:32]
