"""The verifier's rules: EC1 credentials and EP1 tokens checked against the cached trust list.

Plain Python over its ports: the network (:class:`Upstream`: the registry's signed trust list,
the regions' status lists and token look-ups), the trust-list file and the clocks. The trust
list is checked against the pinned root key, never goes back to a lower version and is kept on
disk, so a restarted verifier works offline; status lists are cached until they are stale.
Both are refreshed in the background, so the hot path is CPU only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from ecert.clock import Clock, system_clock
from ecert.errors import EcertError, NotFound, Outcome, TooLarge, Unavailable
from ecert.files import write_private
from ecert.format import keys, statuslist
from ecert.imaging import scan
from ecert.limits import MAX_PAYLOAD_CHARS
from ecert.rules import verify
from ecert.rules.access import Principal, purpose_for, require_role
from ecert.rules.document import DocumentDate, Warning, china_day
from ecert.rules.requests import check_batch, check_purpose
from ecert.rules.trust import TrustList, TrustListError
from ecert.runtime.refresh import Refreshed
from ecert.vocab import VERIFY_ROLES, Purpose

log = logging.getLogger("ecert.verifier")

KID_REFRESH_INTERVAL = 5.0
"""Seconds between the registry look-ups an unknown kid may cause (a key registered moments ago)."""
NO_TRUST_LIST_INTERVAL = 1.0
"""Seconds between the registry look-ups a verifier with no trust list at all may make."""
# Reading pictures is CPU work (zxing-cpp and Pillow release the GIL): a few threads, so
# the event loop never waits on it, and a bound on the pictures waiting for one, since each
# holds up to 10 MiB.
DECODE_THREADS = min(4, os.cpu_count() or 1)
MAX_DECODES_WAITING = 32


@dataclass(frozen=True, slots=True)
class Resolved:
    """A region's answer to a presentation token: its outcome text and the credential, with
    ``fields_json`` holding what the caller's role may see, as the region wrote it, and its
    ``detail`` and ``document`` (the document's own date that decided EXPIRED / NOT_YET_VALID)."""

    outcome: str
    id: str
    type: str
    version: int
    region: str
    issued_at: int
    expires_at: int
    display_id: str
    fields_json: str
    warnings: tuple[Warning, ...] = ()
    detail: str = ""
    document: DocumentDate | None = None


@dataclass(frozen=True, slots=True)
class Unverified:
    """Nothing could be checked: there is no trust list yet."""

    outcome: Outcome
    detail: str


class Verdict(NamedTuple):
    """A verification's answer: what was found, the trust-list version it was checked against
    (0: none) and the instant; for a code read from a picture, that code's SHA-256 (hex)."""

    res: verify.Result | Resolved | Unverified
    version: int
    now: int
    code_sha256: str = ""


class Pending(NamedTuple):
    """A verification :meth:`Verifier.verify_now` could not finish without the network: the
    offline result so far (None when there was no trust list) and the instant it is checked at."""

    res: verify.Result | None
    trust: TrustList | None
    now: int


class Upstream(Protocol):
    """The network as the verifier uses it (every failure an :class:`EcertError`)."""

    async def trust_list(self) -> bytes:
        """The registry's signed trust list."""

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        """A region's signed status list, from its issuer at ``endpoint``."""

    async def resolve(self, endpoint: str, p: Principal, token_cti: bytes, credential_cti: bytes,
                      purpose: str) -> Resolved:
        """A presentation token resolved by its region's issuer (NotFound: no such credential)."""

    async def close(self) -> None: ...


Checks = dict[str, list[tuple[str, str]]]
"""A request's checks for the trail: issuing region -> [(credential id, outcome)], in order."""


class Trail(Protocol):
    """Where each check of a credential is kept, before its answer goes out, for its issuing
    region's trail (:class:`services.verifier.outbox.Outbox`)."""

    def record(self, actor: Principal, purpose: str, at: int, checks: Checks) -> None:
        """Keep one request's checks (503 ``TRAIL_UNAVAILABLE`` if they cannot be)."""


class TrustCache:
    """The current trust list (:attr:`trust`) and the status lists (:attr:`status`), refreshed from
    the network; the accepted trust list is kept in ``cache_dir/trust-list.cbor``."""

    def __init__(self, root: keys.PublicKey, upstream: Upstream, cache_dir: Path | None, *, every: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.root = root
        self.upstream = upstream
        self.cache_file = cache_dir / "trust-list.cbor" if cache_dir else None
        self.trust_list: Refreshed[TrustList] = Refreshed(self._fetch_trust, name="trust list", every=every,
                                                          retry=every, clock=monotonic)
        self.status: dict[str, statuslist.StatusList] = {}
        self._status_region: dict[str, str] = {}
        self._fetching: dict[str, asyncio.Future] = {}

    # -- the trust list ----------------------------------------------------------------------
    @property
    def trust(self) -> TrustList | None:
        """The trust list in hand (:attr:`trust_list`'s copy), None before the first."""
        return self.trust_list.value

    def load_cached(self) -> None:
        """Start from the list kept on disk (checked against the root key like any other)."""
        if self.cache_file and self.cache_file.exists():
            try:
                tl = TrustList.from_signed(self.cache_file.read_bytes(), self.root)
            except TrustListError as err:
                log.warning("ignoring cached trust list: %s", err)
                return
            if self.trust is None or tl.version > self.trust.version:
                self.trust_list.seed(tl)
                log.info("trust list v%d loaded from cache", tl.version)

    async def _fetch_trust(self) -> TrustList:
        signed = await self.upstream.trust_list()
        cur = self.trust
        if cur is not None and signed == cur.signed:
            # The list in hand, byte for byte (the usual answer to the periodic refresh): checking
            # and parsing it again, schemas and all, would cost CPU for nothing.
            return cur
        tl = TrustList.from_signed(signed, self.root)
        if cur is not None and tl.version <= cur.version:
            return cur  # never a lower version
        self._persist(tl)
        log.info("trust list v%d accepted", tl.version)
        return tl

    def _persist(self, tl: TrustList) -> None:
        if self.cache_file:
            write_private(self.cache_file, tl.signed)  # 0600, as every file in var/

    def refresh_due(self, min_interval: float) -> bool:
        """Whether :meth:`refresh_trust_soon` would ask the registry now."""
        return self.trust_list.due(min_interval)

    async def refresh_trust_soon(self, min_interval: float) -> bool:
        """:meth:`refresh_trust` unless that was tried less than ``min_interval`` seconds ago (the
        hot path never hammers a registry that is down); never raises."""
        return await self.trust_list.refresh_soon(min_interval)

    async def refresh_trust(self) -> bool:
        """Fetch the trust list; True if a newer version was accepted. A failure with a list in
        hand keeps it (False); with none, it raises."""
        return await self.trust_list.refresh()

    # -- status lists ------------------------------------------------------------------------
    def endpoint(self, region: str) -> str | None:
        """Where the trust list says ``region``'s issuer is reached (None: nowhere)."""
        entry = self.trust.regions.get(region) if self.trust else None
        return entry.endpoint if entry is not None and entry.endpoint else None

    async def fetch_status(self, uri: str, region: str) -> statuslist.StatusList | None:
        """Fetch (once, shared by concurrent callers) and check a region's status list; on failure
        the one in hand (or None)."""
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
        endpoint = self.endpoint(region)
        if endpoint is None or self.trust is None:
            return self.status.get(uri)
        try:
            signed = await self.upstream.status_list(endpoint, uri)
            region_keys = {k.kid: [k] for k in self.trust.regions[region].keys}
            sl = statuslist.parse(signed, expected_uri=uri, region_keys=region_keys)
        except (EcertError, KeyError) as err:
            log.warning("status list %s unavailable: %s", uri, err)
            return self.status.get(uri)
        old = self.status.get(uri)
        if old is None or sl.iat >= old.iat:
            self.status[uri] = sl
        return self.status[uri]

    # -- in the background -------------------------------------------------------------------
    async def refresh_all(self) -> None:
        """The trust list, then every status list asked for so far."""
        try:
            await self.refresh_trust()
        except EcertError as err:
            log.warning("trust list refresh failed, none yet: %s", err)
        for uri, region in list(self._status_region.items()):
            await self.fetch_status(uri, region)

    async def run(self) -> None:
        """:meth:`refresh_all` every ``every`` seconds (± the refresh's jitter) until cancelled."""
        while True:
            await asyncio.sleep(self.trust_list.interval())
            await self.refresh_all()

    async def close(self) -> None:
        await self.upstream.close()


O = TypeVar("O")
Write = Callable[[Principal, verify.Result, int, int, "O | None"], O]
"""``write(p, res, trust_list_version, now, out)``: an answer from a :class:`verify.Result`,
written into ``out`` when given (a batch's own element), else a new one."""


def _verdict(p: Principal, res: verify.Result, version: int, now: int, out: object = None) -> Verdict:
    return Verdict(res, version, now)


class Verifier:
    """Verification over a :class:`TrustCache` and a clock (epoch seconds); with a ``trail``, each
    check of a credential is kept there before its answer goes out (:meth:`recorded` says which)."""

    def __init__(self, cache: TrustCache, *, skew: int = verify.DEFAULT_SKEW, now: Clock = system_clock,
                 trail: Trail | None = None):
        self.cache = cache
        self.skew = skew
        self.now = now
        self.trail = trail
        self._decoder = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="ecert-scan")
        self._decodes = 0

    @staticmethod
    def admit(p: Principal, purpose: str = "", payloads: Sequence[str] | None = None) -> Purpose:
        """Refuse (403, 400) what ``p`` may not ask, once per request: the role, the purpose, a
        batch's size. Returns the purpose the request is judged for (the role's default when it
        names none)."""
        require_role(p, *VERIFY_ROLES)
        judged = purpose_for(p, check_purpose(purpose))
        if payloads is not None:
            check_batch(payloads)
        return judged

    async def verify(self, p: Principal, payload: str, purpose: str = "") -> Verdict:
        """Verify one payload completely (:meth:`verify_now`, then :meth:`finish` if need be), its
        check kept in the trail."""
        judged = self.admit(p, purpose)
        checks: Checks = {}
        verdict = await self._complete(p, payload, judged, checks)
        self.keep(p, judged, verdict.now, checks)
        return verdict

    async def _complete(self, p: Principal, payload: str, purpose: str, checks: Checks) -> Verdict:
        answer = self.verify_now(p, payload, _verdict, None, purpose, checks)
        if answer.__class__ is Pending:
            verdict = await self.finish(p, payload, purpose, answer)  # type: ignore[arg-type]
            self.note(verdict.res, checks)
            return verdict
        return answer  # type: ignore[return-value]

    @staticmethod
    def recorded(res: verify.Result | Resolved | Unverified) -> tuple[str, str, str] | None:
        """The check the trail keeps of an answer, as (issuing region, credential id, outcome): one
        of an EC1 credential whose signature verified, whatever its outcome. None for the rest: a
        forgery names nobody's credential, one signed with another region's key (ISSUER_MISMATCH)
        is no credential of the region it names, and a show code (EP1) is recorded by its issuing
        region as it resolves it."""
        if res.__class__ is not verify.Result:
            return None
        claims = res.claims  # type: ignore[union-attr]
        if claims is None or res.token is not None or res.outcome is Outcome.ISSUER_MISMATCH:  # type: ignore[union-attr]
            return None
        return claims.iss, claims.id, res.outcome.value

    @staticmethod
    def note(res: verify.Result | Resolved | Unverified, checks: Checks) -> None:
        """Add the check of ``res`` to a request's ``checks`` if the trail keeps it (:meth:`recorded`)."""
        kept = Verifier.recorded(res)
        if kept is not None:
            region, cred, outcome = kept
            pairs = checks.get(region)
            if pairs is None:
                pairs = checks[region] = []
            pairs.append((cred, outcome))

    def keep(self, p: Principal, purpose: str, at: int, checks: Checks) -> None:
        """Keep a request's checks (:meth:`note`) in the trail, before its answer goes out (503
        ``TRAIL_UNAVAILABLE`` if they cannot be)."""
        if checks and self.trail is not None:
            self.trail.record(p, purpose, at, checks)

    def verify_now(self, p: Principal, payload: str, write: Write[O], out: O | None = None,
                   purpose: str = Purpose.GENERAL, checks: Checks | None = None) -> O | Pending:
        """``write``'s answer when it needs nothing from the network (the common case: a trust list,
        a fresh cached status list), else what :meth:`finish` needs to complete it.

        Plain code, not a coroutine: a batch of 1,000 answered here costs no coroutine or event
        loop step per payload, and no object beyond the result: ``write`` (the edge's translation)
        fills ``out`` in place. The caller has admitted ``p`` (:meth:`admit`), which gave ``purpose``.
        An answer's check is added to ``checks`` (when given: :meth:`note`), for :meth:`keep`; after
        :meth:`finish`, the caller notes it.
        """
        now = self.now()
        if len(payload) > MAX_PAYLOAD_CHARS:  # far over every format limit: not worth decoding
            return write(p, verify.Result(Outcome.PAYLOAD_TOO_LARGE), 0, now, out)
        trust = self.cache.trust
        if trust is None:
            return Pending(None, None, now)
        res = verify.check_any(payload, trust, now, self.skew)
        if not res.ok:
            if res.outcome is Outcome.KID_UNKNOWN and self.cache.refresh_due(KID_REFRESH_INTERVAL):
                return Pending(res, trust, now)  # a key registered moments ago? ask the registry
            if checks is not None:
                self.note(res, checks)
            return write(p, res, trust.version, now, out)
        if res.token is not None:
            return Pending(res, trust, now)  # resolved by the issuing region
        claims = res.claims
        sl = None
        if claims is not None and claims.status_uri is not None:
            sl = self.cache.status.get(claims.status_uri)
            if sl is None or sl.is_stale(now):
                return Pending(res, trust, now)
        verify.apply_status(res, sl, now)
        verify.apply_acceptance(res, trust.acceptance, purpose, p.region, now)
        if checks is not None:
            self.note(res, checks)
        return write(p, res, trust.version, now, out)

    async def finish(self, p: Principal, payload: str, purpose: str, pending: Pending) -> Verdict:
        """Complete what :meth:`verify_now` could not: fetch the trust list, look again after a
        refresh for an unknown kid, resolve a token, fetch a status list."""
        res, trust, now = pending
        if trust is None or res is None:
            await self.cache.refresh_trust_soon(NO_TRUST_LIST_INTERVAL)
            trust = self.cache.trust
            if trust is None:
                return Verdict(Unverified(Outcome.REGION_UNAVAILABLE,
                                          "no trust list yet: the registry could not be reached"), 0, now)
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
        verify.apply_acceptance(res, trust.acceptance, purpose, p.region, now)
        return Verdict(res, trust.version, now)

    async def _resolve(self, p: Principal, res: verify.Result, trust: TrustList, now: int, purpose: str) -> Verdict:
        tok = res.token
        assert tok is not None
        endpoint = self.cache.endpoint(tok.iss)
        if endpoint is None:
            return Verdict(verify.Result(Outcome.REGION_UNAVAILABLE, f"no endpoint for {tok.iss}"), trust.version, now)
        try:
            resolved = await self.cache.upstream.resolve(endpoint, p, tok.cti, tok.credential_cti, purpose)
        except NotFound:
            return Verdict(verify.Result(Outcome.REVOKED, "the issuing region does not know this credential"),
                           trust.version, now)
        except EcertError as err:
            log.warning("resolving a token of %s failed: %s", tok.iss, err.code)
            return Verdict(verify.Result(Outcome.REGION_UNAVAILABLE, f"{tok.iss} could not resolve the token"),
                           trust.version, now)
        return Verdict(self._judged(resolved, trust, now), trust.version, now)

    @staticmethod
    def _judged(r: Resolved, trust: TrustList, now: int) -> Resolved:
        """A region's answer to a token, its outcome and fields kept: the region judged it (the
        holder's purpose limit, then the recognition rules, as for a credential) and recorded that
        outcome in the trail. A VALID one gains the warnings of the fields the region showed (those
        the caller may see), when the trust list knows the type's version (else none)."""
        ts = trust.types.get((r.type, r.version))
        if r.outcome != Outcome.VALID or ts is None:
            return r
        try:
            fields = json.loads(r.fields_json or "{}")
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            fields = {}
        return replace(r, warnings=ts.document.warnings(fields, china_day(now)))

    # -- pictures ----------------------------------------------------------------------------
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

    async def verify_image(self, p: Principal, data: bytes, purpose: str) -> list[Verdict]:
        """One answer per code in the picture, in reading order (their checks kept in the trail in
        one go); ``NO_CODE_FOUND`` if there is none. The caller has admitted ``p`` (:meth:`admit`),
        which gave ``purpose``."""
        texts = await self.decode_image(data)
        if not texts:
            trust = self.cache.trust
            return [Verdict(verify.Result(Outcome.NO_CODE_FOUND, "no QR code was found in the picture"),
                            trust.version if trust else 0, self.now())]
        checks: Checks = {}
        verdicts = [(await self._complete(p, text, purpose, checks))._replace(
            code_sha256=hashlib.sha256(text.encode()).hexdigest()) for text in texts]
        self.keep(p, purpose, self.now(), checks)
        return verdicts
