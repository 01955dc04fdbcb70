"""The verifier's network port over gRPC: the registry, and the regions' issuers by endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from ecert.rpc.client import ChannelPool, call, channel
from ecert.rpc.convert import document_from_pb, principal_to_pb, service_principal_pb
from ecert.rpc.links import Links
from ecert.rules import trail
from ecert.rules.access import Principal
from ecert.runtime import pki
from ecert.vocab import TrailAction
from ecertpb.v1 import common_pb2, issuer_pb2, issuer_pb2_grpc, registry_pb2, registry_pb2_grpc

from .domain import Resolved
from .trust import TrustListAnswer

FETCH_TIMEOUT = 3.0
"""Seconds one call to the registry or an issuer may take."""
STATUS_LISTS_TIMEOUT = 30.0
"""Seconds an issuer has to answer a refresh of many status lists (GetStatusLists)."""
DELIVERY_TIMEOUT = 10.0
"""Seconds an issuer has to acknowledge a delivery of checks (up to MAX_TRAIL_BATCH) for its trail."""


class GrpcUpstream:
    """:class:`services.verifier.domain.Upstream` over one registry channel and one channel per issuer;
    ``resolve_timeout``: the seconds an issuer has to resolve a show code (``ECERT_RESOLVE_TIMEOUT``:
    the caller is waiting)."""

    def __init__(self, registry_target: str, links: Links, *, resolve_timeout: float,
                 timeout: float = FETCH_TIMEOUT, delivery_timeout: float = DELIVERY_TIMEOUT):
        self.timeout = timeout
        self.resolve_timeout = resolve_timeout
        self.delivery_timeout = delivery_timeout
        self._registry_channel = channel(registry_target, links, peer=pki.REGISTRY)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._registry_channel)
        self._issuers = ChannelPool(links, peer=pki.ISSUER)

    def _issuer(self, endpoint: str) -> issuer_pb2_grpc.IssuerServiceStub:
        return issuer_pb2_grpc.IssuerServiceStub(self._issuers.get(endpoint))

    async def trust_list(self, known_version: int) -> TrustListAnswer:
        resp = await call(self._registry.GetTrustList(registry_pb2.GetTrustListRequest(known_version=known_version),
                                                      timeout=self.timeout))
        if resp.not_modified:
            return TrustListAnswer(not_modified=True)
        return TrustListAnswer(resp.signed, tuple(resp.root_chain))

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        resp = await call(self._issuer(endpoint).GetStatusList(issuer_pb2.GetStatusListRequest(uri=uri),
                                                               timeout=self.timeout))
        return resp.signed

    async def status_lists(self, endpoint: str, held: list[tuple[str, int]]) -> tuple[list[bytes], list[str]]:
        """The lists of ``held`` (``(uri, iat held)``, at most 1,024) signed after the iat held, and the
        uris the issuer has no list for, in one call (a refresh in the background: a longer deadline,
        for an issuer that signs many shards anew after its restart)."""
        req = issuer_pb2.GetStatusListsRequest(held=[issuer_pb2.HeldStatusList(uri=u, iat=i) for u, i in held])
        resp = await call(self._issuer(endpoint).GetStatusLists(req, timeout=STATUS_LISTS_TIMEOUT))
        return [s.signed for s in resp.lists], list(resp.unknown)

    async def region_status_lists(self, endpoint: str, since: int, from_shard: int) -> tuple[list[bytes], int, str]:
        """Every shard of the issuer's region from ``from_shard`` signed after ``since`` (within the
        issuer's size bound), the shard the rest begins at (0: none) and the shards' version, in one call."""
        req = issuer_pb2.GetStatusListsRequest(all=True, since=since, from_shard=from_shard)
        resp = await call(self._issuer(endpoint).GetStatusLists(req, timeout=STATUS_LISTS_TIMEOUT))
        return [s.signed for s in resp.lists], resp.next_shard, resp.version

    async def record_checks(self, endpoint: str, records: Sequence[trail.Record]) -> tuple[int, int, list[str]]:
        """Deliver trail records (checks made offline, checked) to the issuer at ``endpoint`` now:
        the entries it made, those it held already, and the ids it refused."""
        req = issuer_pb2.RecordAccessRequest(principal=service_principal_pb())
        for r in records:  # one record per check: few, and each may carry its own purpose
            req.records.add(actor=common_pb2.Principal(role=r.actor_role, region=r.actor_region,
                                                       key_id=r.actor_key_id, org=r.actor_org),
                            purpose=r.purpose, action=r.action, ids=[r.id], credential_ids=[r.credential_id],
                            results=[r.result], ats=[r.at])
        resp = await call(self._issuer(endpoint).RecordAccess(req, timeout=self.delivery_timeout))
        return resp.recorded, resp.duplicates, list(resp.refused)

    async def resolve(self, endpoint: str, p: Principal, token_cti: bytes, credential_cti: bytes,
                      purpose: str) -> Resolved:
        resp = await call(self._issuer(endpoint).ResolvePresentation(issuer_pb2.ResolvePresentationRequest(
            principal=principal_to_pb(p), token_cti=token_cti, credential_cti=credential_cti, purpose=purpose),
            timeout=self.resolve_timeout))
        c = resp.credential
        return Resolved(resp.result, c.id, c.type, c.version, c.region, c.issued_at, c.expires_at, c.display_id,
                        c.fields_json, detail=resp.detail, document=document_from_pb(resp))

    async def record_access(self, endpoint: str, records: list[dict]) -> Sequence[str]:
        """Deliver outbox lines (:mod:`services.verifier.outbox`) to the issuer at ``endpoint``: the
        ids of the entries it refused."""
        resp = await call(self._issuer(endpoint).RecordAccess(access_request(records), timeout=self.delivery_timeout))
        return list(resp.refused)

    async def close(self) -> None:
        await self._registry_channel.close()
        await self._issuers.close()


def access_request(records: list[dict]) -> issuer_pb2.RecordAccessRequest:
    """Outbox lines as one delivery: consecutive lines of one checker and purpose share one record
    (their order kept), each check's entry id ``<line id>.<its place in the line>``."""
    req = issuer_pb2.RecordAccessRequest(principal=service_principal_pb())
    groups: list[tuple[tuple, list, list, list, list]] = []
    key = None
    for r in records:
        if (r["r"], r["g"], r["k"], r["o"], r["p"]) != key:
            key = (r["r"], r["g"], r["k"], r["o"], r["p"])
            ids, creds, results, ats = [], [], [], []
            groups.append((key, ids, creds, results, ats))
        line, checks = r["i"], r["c"]
        ids.extend([f"{line}.{n}" for n in range(len(checks))])
        creds.extend([c for c, _ in checks])
        results.extend([res for _, res in checks])
        ats.extend([r["t"]] * len(checks))
    for (role, region, key_id, org, purpose), ids, creds, results, ats in groups:
        req.records.add(actor=common_pb2.Principal(role=role, region=region, key_id=key_id, org=org),
                        purpose=purpose, action=TrailAction.VERIFY, ids=ids, credential_ids=creds,
                        results=results, ats=ats)
    return req
