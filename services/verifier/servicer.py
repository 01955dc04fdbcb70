"""The verifier's gRPC edge: protobuf to :class:`~services.verifier.domain.Verifier` calls and
back, and :func:`build`, which wires the process together."""

from __future__ import annotations

from ecert.clock import Clock, system_clock
from ecert.errors import Outcome
from ecert.format import keys
from ecert.format.jsontext import json_text
from ecert.rpc import streams
from ecert.rpc.convert import principal_from_pb
from ecert.rpc.links import Links
from ecert.rpc.server import create_server, rpc
from ecert.rules import verify
from ecert.rules.access import Principal, disclosure_role
from ecert.rules.document import DocumentDate
from ecert.rules.offline import OfflineCheck
from ecert.runtime.config import VerifierConfig
from ecertpb.v1 import verifier_pb2, verifier_pb2_grpc

from .domain import Checks, Freshness, Pending, Resolved, TrustCache, Unverified, Verdict, Verifier
from .offline import OfflineChecks
from .outbox import Outbox
from .published import StatusPublisher
from .upstream import GrpcUpstream


def write_result(p: Principal, res: verify.Result, fresh: Freshness, now: int,
                 out: verifier_pb2.VerifyResponse | None = None) -> verifier_pb2.VerifyResponse:
    """The answer to ``res``, checked at ``now`` against the trust list ``fresh`` describes,
    written into ``out`` (a fresh message when None). Attribute sets on the message in place:
    with upb, cheaper than keyword arguments, and far cheaper than a message built apart and
    copied into a batch (about 2 µs a payload)."""
    if out is None:
        out = verifier_pb2.VerifyResponse()
    out.result = res.outcome  # a str Enum: the member is its code's text (and skips .value's cost)
    out.status_checked = res.status_checked
    out.status = res.status
    out.status_as_of = res.status_as_of
    _write_freshness(fresh, out)
    out.checked_at = now
    out.detail = res.detail
    if res.document is not None:
        _write_document(res.document, out)
    c = res.claims
    if c is not None:
        cred = out.credential  # filled in place: no intermediate message to copy
        cred.id = cred_id = c.id
        cred.type, cred.version, cred.region = c.type_id, c.type_version, c.iss
        cred.issued_at, cred.expires_at = c.iat, c.exp
        if res.type is not None:
            cred.display_id = res.type.display_id(c.iss, cred_id)
    if res.fields is not None and c is not None:
        shown = res.shown(disclosure_role(p, c.iss))  # as the outcome lets the role see; another region's agency: not all
        out.fields_json = json_text(shown)
        if res.warnings:
            _write_warnings(res.shown_warnings(shown), out)
    else:
        out.fields_json = "{}"
    return out


def _write_freshness(fresh: Freshness, out: verifier_pb2.VerifyResponse) -> None:
    """The trust list's version, iat and staleness (every answer says them)."""
    out.trust_list_version, out.trust_list_as_of, out.trust_list_stale = fresh


def _write_warnings(warnings, out: verifier_pb2.VerifyResponse) -> None:
    add = out.warnings.add
    for w in warnings:
        add(code=w.code, field=w.field, since=w.since)


def _write_document(d: DocumentDate, out: verifier_pb2.VerifyResponse) -> None:
    """The document's own date that decided the outcome (set only then)."""
    doc = out.document
    doc.field, doc.date = d.field, d.date


def write_verdict(p: Principal, v: Verdict, out: verifier_pb2.VerifyResponse | None = None
                  ) -> verifier_pb2.VerifyResponse:
    """Any answer of :class:`Verifier`, written into ``out`` (a fresh message when None)."""
    res = v.res
    if isinstance(res, verify.Result):
        out = write_result(p, res, v.fresh, v.now, out)
    else:
        if out is None:
            out = verifier_pb2.VerifyResponse()
        out.result = res.outcome
        out.checked_at = v.now
        _write_freshness(v.fresh, out)
        if isinstance(res, Unverified):
            out.detail = res.detail
        else:
            _write_resolved(res, v.now, out)
    if v.code_sha256:
        out.code_sha256 = v.code_sha256
    return out


def _write_resolved(r: Resolved, now: int, out: verifier_pb2.VerifyResponse) -> None:
    """A region's answer to a show code: the status it found in its own records, as of now."""
    status = r.status
    out.status_checked = bool(status)
    if status:
        out.status, out.status_as_of = status, now
    cred = out.credential
    cred.SetInParent()
    cred.id, cred.type, cred.version, cred.region = r.id, r.type, r.version, r.region
    cred.issued_at, cred.expires_at, cred.display_id = r.issued_at, r.expires_at, r.display_id
    shows = r.outcome == Outcome.VALID or r.outcome in verify.IDENTIFYING_OUTCOMES
    out.fields_json = (r.fields_json or "{}") if shows else "{}"
    if r.detail:
        out.detail = r.detail
    if r.document is not None:
        _write_document(r.document, out)
    _write_warnings(r.warnings, out)


class VerifierServicer(verifier_pb2_grpc.VerifierServiceServicer):
    def __init__(self, verifier: Verifier):
        self.v = verifier
        trust = lambda: verifier.cache.trust  # noqa: E731 (the list in hand at each call)
        self.lists = StatusPublisher(trust, getattr(verifier.cache, "upstream", None))
        self.offline = OfflineChecks(trust, getattr(verifier.cache, "upstream", None), skew=verifier.skew,
                                     now=verifier.now)

    async def _verify(self, request) -> verifier_pb2.VerifyResponse:
        p = principal_from_pb(request.principal)
        v = self.v
        purpose = v.admit(p, request.purpose)
        checks: Checks = {}
        answer = v.verify_now(p, request.payload, write_result, None, purpose, checks)
        if isinstance(answer, Pending):
            verdict = await v.finish(p, request.payload, purpose, answer)
            v.note(verdict.res, checks)
            answer = write_verdict(p, verdict)
        answer.purpose = purpose  # every answer says what it was judged for
        v.keep(p, purpose, answer.checked_at, checks)  # before the answer goes out
        return answer

    @rpc
    async def Verify(self, request, context):
        return await self._verify(request)

    async def VerifyStream(self, request_iterator, context):
        """Verify over one long-lived stream (see :mod:`ecert.rpc.streams`)."""
        async for resp in streams.serve(request_iterator, self._verify, verifier_pb2.VerifyStreamAnswer,
                                        verifier_pb2.VerifyStreamResponse, "VerifyStream"):
            yield resp

    @rpc
    async def VerifyBatch(self, request, context):
        """Each payload answered as :meth:`Verify` would, in order. Most need no network and are
        answered by plain calls (:meth:`Verifier.verify_now`); the others are completed in turn."""
        p = principal_from_pb(request.principal)
        v = self.v
        purpose = v.admit(p, request.purpose, request.payloads)
        batch = verifier_pb2.VerifyBatchResponse()
        add = batch.results.add  # each answer written in place: no copy per payload
        checks: Checks = {}
        for payload in request.payloads:
            out = add()
            answer = v.verify_now(p, payload, write_result, out, purpose, checks)  # ``out`` itself, or what is left
            if isinstance(answer, Pending):
                verdict = await v.finish(p, payload, purpose, answer)
                v.note(verdict.res, checks)
                write_verdict(p, verdict, out)
            out.purpose = purpose
        v.keep(p, purpose, v.now(), checks)  # the whole batch: one write (per issuing region)
        return batch

    @rpc
    async def VerifyImage(self, request, context):
        p = principal_from_pb(request.principal)
        purpose = self.v.admit(p, request.purpose)
        answers = [write_verdict(p, v) for v in await self.v.verify_image(p, request.image, purpose)]
        for answer in answers:
            answer.purpose = purpose
        return verifier_pb2.VerifyImageResponse(results=answers)

    @rpc
    async def GetCacheState(self, request, context):
        state = cache_state_pb(self.v.cache_state(principal_from_pb(request.principal)))
        if self.v.trail is not None:  # the trail's backlog, for the gateway's /metrics (and its alert)
            state.outbox_pending_bytes = self.v.trail.pending_bytes()
        return state

    @rpc
    async def FetchStatusLists(self, request, context):
        got = await self.lists.fetch(principal_from_pb(request.principal), uri=request.uri, region=request.region,
                                     since=request.since, from_shard=request.from_shard)
        return verifier_pb2.FetchedStatusLists(
            lists=[verifier_pb2.FetchedStatusList(uri=s.uri, signed=s.signed, iat=s.iat, exp=s.exp, ttl=s.ttl)
                   for s in got.lists], next_shard=got.next_shard, version=got.version)

    @rpc
    async def RecordOfflineChecks(self, request, context):
        got = await self.offline.record(principal_from_pb(request.principal), [
            OfflineCheck(c.id, c.credential_id, c.region, c.result, c.purpose, c.checked_at) for c in request.checks])
        return verifier_pb2.RecordOfflineChecksResponse(accepted=got.accepted, duplicates=got.duplicates,
                                                        ignored=got.ignored)


def cache_state_pb(state: dict) -> verifier_pb2.CacheState:
    """:meth:`TrustCache.state` as the message."""
    trust, status = state["trust"], state["status"]
    return verifier_pb2.CacheState(
        trust_list_version=trust["version"], trust_list_iat=trust["iat"], trust_list_exp=trust["exp"],
        trust_list_refreshed_at=trust["refreshed_at"], trust_list_stale=trust["stale"],
        trust_list_failures=trust["failures"], root_kid=trust["root_kid"],
        status_lists=status["lists"], status_bytes=status["bytes"], status_lists_on_disk=status["on_disk"],
        oldest_status_as_of=status["oldest_iat"],
        events=[verifier_pb2.CacheEvent(list=kind, event=event, count=n)
                for (kind, event), n in sorted(state["events"].items())])


async def build(cfg: VerifierConfig, *, now: Clock = system_clock, listen: str | None = None):
    """The trust cache (its list loaded from disk, if any), the verifier and the bound server:
    returns ``(verifier, server, port)``; ``verifier.cache`` is to be closed, and run in the background."""
    root = keys.public_from_pem(cfg.root_public_key_pem)
    links = Links.from_config(cfg)
    cache = TrustCache(root, GrpcUpstream(cfg.registry_target, links, resolve_timeout=cfg.resolve_timeout),
                       cfg.var_dir / "verifier", every=cfg.refresh_seconds, skew=cfg.clock_skew,
                       max_age=cfg.trust_list_max_age, min_version=cfg.trust_list_min_version,
                       min_iat=cfg.trust_list_min_iat, status_bytes=cfg.status_cache_bytes, now=now)
    cache.load_cached()
    # every check of a credential, for its region's trail: run verifier.trail.run(), close it
    trail = Outbox.open(cfg.var_dir / "verifier" / "outbox", cache.upstream, cache.endpoint) if cfg.trail else None
    verifier = Verifier(cache, skew=cfg.clock_skew, now=now, trail=trail)
    server, port = create_server(
        listen or cfg.listen,
        [lambda s: verifier_pb2_grpc.add_VerifierServiceServicer_to_server(VerifierServicer(verifier), s)],
        links=links, service_names=["ecert.v1.VerifierService"], health_listen=cfg.health_listen)
    return verifier, server, port
