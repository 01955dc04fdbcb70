"""Signed status lists for a page that verifies on its own (the scanner page, offline).

The page keeps the trust list and the status lists of the regions it may meet, and checks every
list's signature itself against the region's keys in its trust list; the verifier hands them on
from the issuing region's issuer (the endpoint the trust list names), one list by its uri or every
shard of a region, only those signed after the iat the page holds (a conditional fetch). Each list
is checked here too against the current trust list before it is passed on, so a list no current
key of its region signed never reaches a page. Plain Python over the verifier's upstream port.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from ecert.errors import InvalidRequest, NotFound, Unavailable
from ecert.format import statuslist
from ecert.format.statuslist import StatusListError
from ecert.limits import MAX_EPOCH
from ecert.rules.access import Principal, require_role
from ecert.rules.schema import check_region_code
from ecert.rules.trust import TrustList
from ecert.vocab import VERIFY_ROLES


class ListsUpstream(Protocol):
    async def status_lists(self, endpoint: str, held: list[tuple[str, int]]) -> tuple[list[bytes], list[str]]: ...

    async def region_status_lists(self, endpoint: str, since: int, from_shard: int) -> tuple[list[bytes], int, str]: ...


class Published(NamedTuple):
    """A signed status list as its region signed it, with its checked claims' times."""

    uri: str
    signed: bytes
    iat: int
    exp: int
    ttl: int


class Fetched(NamedTuple):
    """The lists answered; a region's: the shard to ask from next when cut at the size bound (0: none),
    and its shards' version (its issuer's digest of each one's uri and iat)."""

    lists: list[Published]
    next_shard: int = 0
    version: str = ""


class StatusPublisher:
    """Status lists for pages, from the issuers the trust list in ``trust()`` names."""

    def __init__(self, trust, upstream: ListsUpstream):
        self.trust = trust  # () -> the TrustList in hand, or None
        self.upstream = upstream

    async def fetch(self, p: Principal, *, uri: str = "", region: str = "", since: int = 0,
                    from_shard: int = 0) -> Fetched:
        """The list ``uri``, or every shard of ``region`` (from ``from_shard``), signed after
        ``since``. 403 for a role that may not verify; 400 for a request out of shape; 404 for a
        region the trust list does not name or a list its issuer does not have; 503
        ``REGION_UNAVAILABLE`` when the issuer cannot be asked or answers a list that does not check."""
        require_role(p, *VERIFY_ROLES)
        if bool(uri) == bool(region):
            raise InvalidRequest("name either a status list's uri or a region", field="uri")
        if since.__class__ is not int or not 0 <= since <= MAX_EPOCH:
            raise InvalidRequest(f"since must be an iat, 0 to {MAX_EPOCH}", field="since")
        if uri:
            parsed = statuslist.parse_shard_uri(uri) if len(uri) <= statuslist.MAX_URI else None
            if parsed is None:
                raise InvalidRequest("uri must be a status list's uri (urn:ecert:status:<region>:<shard>)",
                                     field="uri")
            region = parsed[0]
            trust, endpoint = self._endpoint(region)
            signed, unknown = await self._ask(region, self.upstream.status_lists(endpoint, [(uri, since)]))
            if uri in unknown:
                raise NotFound("no such status list", field="uri")
            return Fetched([_checked(trust, region, s, uri) for s in signed])
        check_region_code(region)
        if from_shard.__class__ is not int or not 0 <= from_shard <= statuslist.MAX_SHARD:
            raise InvalidRequest(f"from_shard must be 0 to {statuslist.MAX_SHARD}", field="from_shard")
        trust, endpoint = self._endpoint(region)
        signed, next_shard, version = await self._ask(region, self.upstream.region_status_lists(endpoint, since,
                                                                                               from_shard))
        return Fetched([_checked(trust, region, s, None) for s in signed], next_shard, version)

    def _endpoint(self, region: str) -> tuple[TrustList, str]:
        trust = self.trust()
        if trust is None:
            raise Unavailable("no trust list yet: the registry could not be reached", code="REGION_UNAVAILABLE")
        entry = trust.regions.get(region)
        if entry is None:
            raise NotFound(f"the trust list names no region {region}", code="REGION_UNKNOWN")
        if not entry.endpoint:
            raise Unavailable(f"region {region} has no issuer online", code="REGION_UNAVAILABLE")
        return trust, entry.endpoint

    @staticmethod
    async def _ask(region: str, call):
        try:
            return await call
        except Unavailable as err:
            raise Unavailable(f"the issuer of {region} could not be reached", code="REGION_UNAVAILABLE") from err


def _checked(trust: TrustList, region: str, signed: bytes, uri: str | None) -> Published:
    """``signed`` if a current key of ``region`` signed it and it is one of the region's lists (``uri``
    when named), else 503: an issuer's answer this verifier would not use is passed on to nobody."""
    entry = trust.regions.get(region)
    keys = {} if entry is None else {k.kid: [k] for k in entry.keys}
    try:
        head = statuslist.parse_header(signed, expected_uri=uri, region_keys=keys)
    except StatusListError as err:
        raise Unavailable(f"a status list of {region} did not check against the trust list",
                          code="REGION_UNAVAILABLE") from err
    parsed = statuslist.parse_shard_uri(head.uri)
    if parsed is None or parsed[0] != region:
        raise Unavailable(f"{region} answered a list of another region", code="REGION_UNAVAILABLE")
    return Published(head.uri, signed, head.iat, head.exp, head.ttl)

