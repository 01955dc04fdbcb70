"""Verifier: checks EC1 credentials and EP1 tokens against the cached trust list.

The trust list comes from the registry, is checked against the pinned root key,
never goes back to a lower version, and is kept on disk so a restarted verifier
works offline. Status lists come from the issuing regions (found through the
trust list's directory) and are cached until their ``exp``; both are refreshed
in the background, so the hot path is CPU only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from ecert.clock import Clock, system_clock
from ecert.errors import (
    EcertError,
    InvalidRequest,
    NotFound,
    Outcome,
    TooLarge,
    Unavailable,
)
from ecert.format import keys, statuslist
from ecert.format.jsontext import json_text
from ecert.format.trustlist import TrustListError
from ecert.imaging import scan
from ecert.rpc import streams
from ecert.rpc.client import ChannelPool, call, channel
from ecert.rpc.convert import principal_from_pb, principal_to_pb
from ecert.rpc.server import create_server, rpc
from ecert.rules import verify
from ecert.rules.access import Principal, require_role
from ecert.rules.trust import TrustList
from ecert.runtime.config import VerifierConfig
from ecert.vocab import VERIFY_ROLES
from ecertpb.v1 import (
    issuer_pb2,
    issuer_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    verifier_pb2,
    verifier_pb2_grpc,
)

log = logging.getLogger("ecert.verifier")

MAX_BATCH = 1000
MAX_PAYLOAD_CHARS = 1024 * 1024  # the format limits are far below; this bounds the work
FETCH_TIMEOUT = 3.0
MAX_PURPOSE = 200
KID_REFRESH_INTERVAL = 5.0  # an unknown kid asks the registry for a newer trust list at most this often
# Reading pictures is CPU work (zxing-cpp and Pillow release the GIL): a few threads, so
# the event loop never waits on it, and a bound on the pictures waiting for one, since each
# holds up to 10 MiB.
DECODE_THREADS = min(4, os.cpu_count() or 1)
MAX_DECODES_WAITING = 32


class TrustCache:
    """The current trust list and the status lists, refreshed from the network."""

    def __init__(self, root: keys.PublicKey, registry_target: str, internal_token: str, cache_dir: Path | None,
                 now: Clock = system_clock):
        self.root = root
        self.token = internal_token
        self.now = now
        self.cache_file = cache_dir / "trust-list.cbor" if cache_dir else None
        self._registry_channel = channel(registry_target, internal_token)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._registry_channel)
        self._issuers = ChannelPool(internal_token)
        self.trust: TrustList | None = None
        self.status: dict[str, statuslist.StatusList] = {}
        self._status_region: dict[str, str] = {}
        self._fetching: dict[str, asyncio.Future] = {}
        self.last_refresh = 0.0

    def load_cached(self) -> None:
        if self.cache_file and self.cache_file.exists():
            try:
                self._accept(TrustList.from_signed(self.cache_file.read_bytes(), self.root), persist=False)
                log.info("trust list v%d loaded from cache", self.trust.version)
            except TrustListError as err:
                log.warning("ignoring cached trust list: %s", err)

    def _accept(self, tl: TrustList, persist: bool = True) -> bool:
        if self.trust is not None and tl.version <= self.trust.version:
            return False
        self.trust = tl
        if persist and self.cache_file:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp")
            tmp.write_bytes(tl.signed)
            tmp.replace(self.cache_file)
        return True

    def refresh_due(self, min_interval: float) -> bool:
        """Whether :meth:`refresh_trust_soon` would ask the registry now."""
        return time.monotonic() - self.last_refresh >= min_interval

    async def refresh_trust_soon(self, min_interval: float) -> bool:
        """Refresh unless that was tried less than ``min_interval`` seconds ago (the hot path
        never hammers a registry that is down); True if a newer version was accepted."""
        if not self.refresh_due(min_interval):
            return False
        try:
            return await self.refresh_trust()
        except (EcertError, TrustListError) as err:
            log.warning("trust list refresh failed: %s", err)
            return False

    async def refresh_trust(self) -> bool:
        """Fetch the trust list; True if a newer version was accepted."""
        self.last_refresh = time.monotonic()
        resp = await call(self._registry.GetTrustList(registry_pb2.GetTrustListRequest(), timeout=FETCH_TIMEOUT))
        if self.trust is not None and resp.signed == self.trust.signed:
            # The list in hand, byte for byte (the usual answer to the periodic refresh): checking
            # and parsing it again, schemas and all, would cost CPU for nothing.
            return False
        tl = TrustList.from_signed(resp.signed, self.root)
        accepted = self._accept(tl)
        if accepted:
            log.info("trust list v%d accepted", tl.version)
        return accepted

    def issuer(self, region: str) -> issuer_pb2_grpc.IssuerServiceStub | None:
        entry = self.trust.regions.get(region) if self.trust else None
        if entry is None or not entry.endpoint:
            return None
        return issuer_pb2_grpc.IssuerServiceStub(self._issuers.get(entry.endpoint))

    async def fetch_status(self, uri: str, region: str) -> statuslist.StatusList | None:
        """Fetch (once, shared by concurrent callers) and check a region's status list."""
        fut = self._fetching.get(uri)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._fetching[uri] = fut
        self._status_region[uri] = region
        try:
            result = await self._fetch_status(uri, region)
            fut.set_result(result)
            return result
        except BaseException as err:
            fut.set_result(self.status.get(uri))
            if isinstance(err, asyncio.CancelledError):
                raise
            return self.status.get(uri)
        finally:
            del self._fetching[uri]

    async def _fetch_status(self, uri: str, region: str) -> statuslist.StatusList | None:
        stub = self.issuer(region)
        if stub is None or self.trust is None:
            return self.status.get(uri)
        try:
            resp = await call(stub.GetStatusList(issuer_pb2.GetStatusListRequest(uri=uri), timeout=FETCH_TIMEOUT))
            region_keys = {k.kid: [k] for k in self.trust.regions[region].keys}
            sl = statuslist.parse(resp.signed, expected_uri=uri, region_keys=region_keys)
        except (EcertError, KeyError) as err:
            log.warning("status list %s unavailable: %s", uri, err)
            return self.status.get(uri)
        old = self.status.get(uri)
        if old is None or sl.iat >= old.iat:
            self.status[uri] = sl
        return self.status[uri]

    async def refresh_all(self) -> None:
        try:
            await self.refresh_trust()
        except (EcertError, TrustListError) as err:
            log.warning("trust list refresh failed, keeping v%s: %s", self.trust and self.trust.version, err)
        for uri, region in list(self._status_region.items()):
            await self.fetch_status(uri, region)

    async def run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.refresh_all()

    async def close(self) -> None:
        await self._registry_channel.close()
        await self._issuers.close()


class Pending(NamedTuple):
    """A verification :meth:`Verifier.verify_now` could not finish without the network: the
    offline result so far (None when there was no trust list) and the instant it is checked at."""

    res: verify.Result | None
    trust: TrustList | None
    now: int


class Verifier:
    def __init__(self, cache: TrustCache, *, skew: int = verify.DEFAULT_SKEW, now: Clock = system_clock):
        self.cache = cache
        self.skew = skew
        self.now = now
        self._decoder = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="ecert-scan")
        self._decodes = 0

    async def decode_image(self, data: bytes) -> list[str]:
        """The QR texts in a picture, read on the decoding threads (see :func:`ecert.imaging.scan.decode_image`)."""
        if len(data) > scan.MAX_BYTES:
            raise TooLarge(f"the picture is over {scan.MAX_BYTES} bytes", field="image")
        if self._decodes >= MAX_DECODES_WAITING:
            raise Unavailable("too many pictures are being read: try again shortly", code="BUSY")
        self._decodes += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._decoder, scan.decode_image, data)
        finally:
            self._decodes -= 1

    async def verify_image(self, p: Principal, data: bytes, purpose: str = "") -> list[verifier_pb2.VerifyResponse]:
        """One answer per code in the picture, in reading order; ``NO_CODE_FOUND`` if there is none."""
        texts = await self.decode_image(data)
        if not texts:
            trust = self.cache.trust
            return [verifier_pb2.VerifyResponse(
                result=Outcome.NO_CODE_FOUND.value, checked_at=self.now(), fields_json="{}",
                trust_list_version=trust.version if trust else 0, detail="no QR code was found in the picture")]
        results = []
        for text in texts:
            r = await self.verify(p, text, purpose)
            r.code_sha256 = hashlib.sha256(text.encode()).hexdigest()
            results.append(r)
        return results

    def verify_now(self, p: Principal, payload: str,
                   out: verifier_pb2.VerifyResponse | None = None) -> verifier_pb2.VerifyResponse | Pending:
        """The answer when it needs nothing from the network (the common case: a trust list, a
        fresh cached status list), else what :meth:`finish` needs to complete it.

        Plain code, not a coroutine: a batch of 1,000 answered here costs no coroutine or event
        loop step per payload. The decisions are :meth:`verify`'s, which is this and ``finish``.
        The answer is written into ``out`` when given (a batch's own element: no copy), which is
        left untouched when the answer is pending.
        """
        now = self.now()
        trust = self.cache.trust
        if trust is None:
            return Pending(None, None, now)
        res = verify.check_any(payload, trust, now, self.skew)
        if not res.ok:
            if res.outcome is Outcome.KID_UNKNOWN and self.cache.refresh_due(KID_REFRESH_INTERVAL):
                return Pending(res, trust, now)  # a key registered moments ago? ask the registry
            return self._response(p, res, trust, now, out)
        if res.token is not None:
            return Pending(res, trust, now)  # resolved by the issuing region
        claims = res.claims
        sl = None
        if claims is not None and claims.status_uri is not None:
            sl = self.cache.status.get(claims.status_uri)
            if sl is None or sl.is_stale(now):
                return Pending(res, trust, now)
        verify.apply_status(res, sl, now)
        return self._response(p, res, trust, now, out)

    async def finish(self, p: Principal, payload: str, purpose: str, pending: Pending) -> verifier_pb2.VerifyResponse:
        """Complete what :meth:`verify_now` could not: fetch the trust list, look again after a
        refresh for an unknown kid, resolve a token, fetch a status list."""
        res, trust, now = pending
        if trust is None or res is None:
            await self.cache.refresh_trust_soon(1.0)
            trust = self.cache.trust
            if trust is None:
                return verifier_pb2.VerifyResponse(result=Outcome.REGION_UNAVAILABLE.value, checked_at=now,
                                                   detail="no trust list yet: the registry could not be reached")
            res = verify.check_any(payload, trust, now, self.skew)
        if res.outcome is Outcome.KID_UNKNOWN and await self.cache.refresh_trust_soon(KID_REFRESH_INTERVAL):
            # A key registered moments ago: look again with the fresher trust list.
            trust = self.cache.trust
            res = verify.check_any(payload, trust, now, self.skew)
        if res.token is not None and res.ok:
            return await self._resolve(p, res, trust, now, purpose)
        if res.ok and res.claims is not None and res.claims.status_uri is not None:
            sl = self.cache.status.get(res.claims.status_uri)
            if sl is None or sl.is_stale(now):
                sl = await self.cache.fetch_status(res.claims.status_uri, res.claims.iss)
            verify.apply_status(res, sl, now)
        elif res.ok:
            verify.apply_status(res, None, now)
        return self._response(p, res, trust, now)

    async def verify(self, p: Principal, payload: str, purpose: str = "") -> verifier_pb2.VerifyResponse:
        answer = self.verify_now(p, payload)
        if isinstance(answer, Pending):
            return await self.finish(p, payload, purpose, answer)
        return answer

    def _response(self, p: Principal, res: verify.Result, trust: TrustList, now: int,
                  out: verifier_pb2.VerifyResponse | None = None) -> verifier_pb2.VerifyResponse:
        """The answer to ``res``, written into ``out`` (a fresh message when None). Attribute sets
        on the message in place: with upb, cheaper than keyword arguments, and far cheaper than a
        message built apart and copied into a batch (about 2 µs a payload)."""
        if out is None:
            out = verifier_pb2.VerifyResponse()
        out.result = res.outcome  # a str Enum: the member is its code's text (and skips .value's cost)
        out.status_checked = res.status_checked
        out.trust_list_version = trust.version
        out.checked_at = now
        out.detail = res.detail
        c = res.claims
        if c is not None:
            cred = out.credential  # filled in place: no intermediate message to copy
            cred.id = cred_id = c.id
            cred.type, cred.version, cred.region = c.type_id, c.type_version, c.iss
            cred.issued_at, cred.expires_at = c.iat, c.exp
            if res.type is not None:
                cred.display_id = res.type.display_id(c.iss, cred_id)
        if res.outcome is Outcome.VALID and res.fields is not None:
            out.fields_json = json_text(res.disclosed(p.role))
        else:
            out.fields_json = "{}"
        return out

    async def _resolve(self, p: Principal, res: verify.Result, trust: TrustList, now: int,
                       purpose: str) -> verifier_pb2.VerifyResponse:
        tok = res.token
        out = verifier_pb2.VerifyResponse(trust_list_version=trust.version, checked_at=now, fields_json="{}")
        stub = self.cache.issuer(tok.iss)
        if stub is None:
            out.result, out.detail = Outcome.REGION_UNAVAILABLE.value, f"no endpoint for {tok.iss}"
            return out
        try:
            resp = await call(stub.ResolvePresentation(issuer_pb2.ResolvePresentationRequest(
                principal=principal_to_pb(p), token_cti=tok.cti, credential_cti=tok.credential_cti,
                purpose=purpose), timeout=FETCH_TIMEOUT))
        except NotFound:
            out.result, out.detail = Outcome.REVOKED.value, "the issuing region does not know this credential"
            return out
        except EcertError as err:
            out.result, out.detail = Outcome.REGION_UNAVAILABLE.value, f"{tok.iss} could not resolve the token"
            log.warning("resolving a token of %s failed: %s", tok.iss, err.code)
            return out
        c = resp.credential
        out.result = resp.result
        out.status_checked = True
        out.credential.CopyFrom(verifier_pb2.VerifiedCredential(
            id=c.id, type=c.type, version=c.version, region=c.region, issued_at=c.issued_at,
            expires_at=c.expires_at, display_id=c.display_id))
        if resp.result == Outcome.VALID.value:
            out.fields_json = c.fields_json or "{}"
        return out


def _check_request(p: Principal, purpose: str) -> None:
    require_role(p, *VERIFY_ROLES)
    if len(purpose) > MAX_PURPOSE:
        raise InvalidRequest("purpose is over 200 characters", field="purpose")


class VerifierServicer(verifier_pb2_grpc.VerifierServiceServicer):
    def __init__(self, verifier: Verifier):
        self.v = verifier

    def _too_large(self, out: verifier_pb2.VerifyResponse | None = None) -> verifier_pb2.VerifyResponse:
        """The answer to a payload far over every format limit: not worth decoding."""
        if out is None:
            out = verifier_pb2.VerifyResponse()
        out.result, out.checked_at, out.fields_json = Outcome.PAYLOAD_TOO_LARGE.value, self.v.now(), "{}"
        return out

    async def _verify_payload(self, p: Principal, payload: str, purpose: str) -> verifier_pb2.VerifyResponse:
        if len(payload) > MAX_PAYLOAD_CHARS:
            return self._too_large()
        return await self.v.verify(p, payload, purpose)

    async def _verify(self, request) -> verifier_pb2.VerifyResponse:
        p = principal_from_pb(request.principal)
        _check_request(p, request.purpose)
        return await self._verify_payload(p, request.payload, request.purpose)

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
        purpose = request.purpose
        _check_request(p, purpose)
        if len(request.payloads) > MAX_BATCH:
            raise InvalidRequest(f"at most {MAX_BATCH} payloads per batch", field="payloads")
        v = self.v
        batch = verifier_pb2.VerifyBatchResponse()
        add = batch.results.add  # each answer written in place: no copy per payload
        for payload in request.payloads:
            out = add()
            if len(payload) > MAX_PAYLOAD_CHARS:
                self._too_large(out)
            else:
                answer = v.verify_now(p, payload, out)  # ``out`` itself, or what is left to do
                if isinstance(answer, Pending):
                    out.CopyFrom(await v.finish(p, payload, purpose, answer))
        return batch

    @rpc
    async def VerifyImage(self, request, context):
        p = principal_from_pb(request.principal)
        _check_request(p, request.purpose)
        return verifier_pb2.VerifyImageResponse(results=await self.v.verify_image(p, request.image, request.purpose))


async def build(cfg: VerifierConfig, *, now: Clock = system_clock, listen: str | None = None):
    root = keys.public_from_pem(cfg.root_public_key_pem)
    cache = TrustCache(root, cfg.registry_target, cfg.internal_token, cfg.var_dir / "verifier", now)
    cache.load_cached()
    verifier = Verifier(cache, skew=cfg.clock_skew, now=now)
    server, port = create_server(
        listen or cfg.listen,
        [lambda s: verifier_pb2_grpc.add_VerifierServiceServicer_to_server(VerifierServicer(verifier), s)],
        internal_token=cfg.internal_token, service_names=["ecert.v1.VerifierService"])
    return verifier, server, port
