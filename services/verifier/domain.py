"""The verifier's rules: EC1 credentials and EP1 tokens checked against the cached trust list.

Plain Python over its ports: the network (:class:`Upstream`: the registry's signed trust list,
the regions' status lists and token look-ups), the files in its cache folder and the clocks. The
trust list (:mod:`services.verifier.trust`) is checked against the root followed from the pinned
key, never goes back to a lower version and is kept on disk, so a restarted verifier works
offline; status lists are trusted up to their ``exp``. Both are refreshed in the background, so
the hot path is CPU only, and every answer says how fresh they were (:class:`Freshness`, the
result's ``status`` and ``status_as_of``). The time is always the verifier's own clock.
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
from ecert.format import keys, statuslist
from ecert.imaging import scan
from ecert.limits import MAX_PAYLOAD_CHARS
from ecert.rules import verify
from ecert.rules.access import Principal, purpose_for, require_role
from ecert.rules.document import DocumentDate, Warning, china_day
from ecert.rules.requests import check_batch, check_purpose
from ecert.rules.trust import TrustList
from ecert.vocab import VERIFY_ROLES, Purpose, Role, StatusAnswer

from .status import StatusCache
from .trust import DEFAULT_MAX_AGE, NO_TRUST_LIST, Freshness, TrustListAnswer, TrustListCache

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

    @property
    def status(self) -> str:
        """The status the region found in its own records, as a :class:`StatusAnswer` ("" when its
        answer came before the status: an expired or used show code, a document out of its dates)."""
        return _RESOLVED_STATUS.get(self.outcome, "")


_RESOLVED_STATUS = {Outcome.VALID: StatusAnswer.VALID, Outcome.NOT_ACCEPTED_FOR_PURPOSE: StatusAnswer.VALID,
                    Outcome.REVOKED: StatusAnswer.REVOKED, Outcome.SUSPENDED: StatusAnswer.SUSPENDED}
"""A region's outcomes reached after it looked at the credential's status (services.issuer: its
exp, the document's dates, its status, then what it is accepted for)."""


@dataclass(frozen=True, slots=True)
class Unverified:
    """Nothing could be checked: there is no trust list yet."""

    outcome: Outcome
    detail: str


class Verdict(NamedTuple):
    """A verification's answer: what was found, the freshness of the trust list it was checked
    against (:data:`NO_TRUST_LIST`: none) and the instant; for a code read from a picture, that
    code's SHA-256 (hex)."""

    res: verify.Result | Resolved | Unverified
    fresh: Freshness
    now: int
    code_sha256: str = ""

    @property
    def version(self) -> int:
        """The trust-list version checked against (0: none)."""
        return self.fresh.version


class Pending(NamedTuple):
    """A verification :meth:`Verifier.verify_now` could not finish without the network: the
    offline result so far (None when there was no trust list) and the instant it is checked at."""

    res: verify.Result | None
    trust: TrustList | None
    now: int


class Upstream(Protocol):
    """The network as the verifier uses it (every failure an :class:`EcertError`)."""

    async def trust_list(self, known_version: int) -> TrustListAnswer:
        """The registry's trust list and root chain, or not_modified when ``known_version`` (the
        version held, 0: none) is the current one."""

    async def status_list(self, endpoint: str, uri: str) -> bytes:
        """A region's signed status list, from its issuer at ``endpoint`` (NotFound: it has none)."""

    async def status_lists(self, endpoint: str, held: list[tuple[str, int]]) -> tuple[list[bytes], list[str]]:
        """The lists of ``held`` (``(uri, iat held)``) signed after the iat held, and the uris the
        issuer has no list for, in one call."""

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
    """What the verifier checks against: the trust list (:attr:`lists`, a :class:`TrustListCache`:
    durable, never rolled back) and the regions' status lists (:attr:`statuses`, a
    :class:`StatusCache`: fetched lazily, kept on disk, bounded in memory), both refreshed from
    the network in the background (:meth:`run`). The one object the :class:`Verifier` asks."""

    def __init__(self, root: keys.PublicKey, upstream: Upstream, cache_dir: Path | None, *, every: float = 10.0,
                 skew: int = verify.DEFAULT_SKEW, max_age: float = DEFAULT_MAX_AGE, min_version: int = 0,
                 min_iat: int = 0, status_bytes: int = 256 << 20, now: Clock = system_clock,
                 monotonic: Callable[[], float] = time.monotonic):
        self.upstream = upstream
        self.now = now
        self.lists = TrustListCache(root, upstream, cache_dir, every=every, skew=skew, max_age=max_age,
                                    min_version=min_version, min_iat=min_iat, now=now, monotonic=monotonic)
        self.statuses = StatusCache(upstream, cache_dir, trust=lambda: self.lists.refreshed.value, skew=skew,
                                    now=now, monotonic=monotonic, max_bytes=status_bytes)
        # The hot path's two look-ups, bound once (no call in between): the status list held for a
        # uri, from memory (it may be past its validity; None when none is), and what an answer
        # checked at ``now`` against ``trust`` (the list in hand when None) says of that list.
        self.status_list: Callable[[str], statuslist.StatusList | None] = self.statuses.get
        self.freshness: Callable[..., Freshness] = self.lists.freshness

    # -- the trust list ----------------------------------------------------------------------
    @property
    def trust(self) -> TrustList | None:
        """The trust list in hand, None before the first."""
        return self.lists.refreshed.value

    @property
    def root(self) -> keys.PublicKey:
        """The root key trust lists are checked against now (the pinned one, or where its rotations led)."""
        return self.lists.root

    def load_cached(self) -> None:
        """Start from what is kept on disk (checked like anything fetched): the trust list, then
        the status lists (indexed against that list's keys)."""
        self.lists.load()
        self.statuses.load()

    def refresh_due(self, min_interval: float) -> bool:
        """Whether :meth:`refresh_trust_soon` would ask the registry now."""
        return self.lists.due(min_interval)

    async def refresh_trust_soon(self, min_interval: float) -> bool:
        """:meth:`refresh_trust` unless that was tried less than ``min_interval`` seconds ago (the
        hot path never hammers a registry that is down); never raises."""
        return await self.lists.refresh_soon(min_interval)

    async def refresh_trust(self) -> bool:
        """Fetch the trust list; True if a newer version was accepted. A failure with a list in
        hand keeps it (False); with none, it raises."""
        return await self.lists.refresh()

    # -- status lists ------------------------------------------------------------------------
    def endpoint(self, region: str) -> str | None:
        """Where the trust list says ``region``'s issuer is reached (None: nowhere)."""
        entry = self.trust.regions.get(region) if self.trust else None
        return entry.endpoint if entry is not None and entry.endpoint else None

    async def fetch_status(self, uri: str, region: str) -> statuslist.StatusList | None:
        """The status list ``uri`` of ``region`` (:meth:`StatusCache.fetch`: disk, then its issuer,
        once for concurrent callers; the one held when that fails, else None). Never raises."""
        return await self.statuses.fetch(uri, region)

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> dict:
        """How fresh the lists are and what was refused: ``trust`` (:meth:`TrustListCache.state`),
        ``status`` (:meth:`StatusCache.state`: lists, bytes, on_disk, oldest_iat) and ``events``
        ``{(list, event): count}`` of both."""
        trust = self.lists.state(self.now())
        status = self.statuses.state()
        events = {("trust", event): n for event, n in trust["events"].items()}
        events.update(status["events"])
        return {"trust": trust, "status": status, "events": events}

    # -- in the background -------------------------------------------------------------------
    async def refresh_all(self) -> None:
        """The trust list, then every status list held or wanted, whatever its ttl (at start, and
        for a test that needs now what the background does within seconds); never raises."""
        await self.lists.refresh_quietly()
        await self.statuses.refresh_due(everything=True)

    async def run(self) -> None:
        """The trust list every ``every`` seconds (± jitter, :meth:`TrustListCache.run`) and the
        status lists past their ttl every second (:meth:`StatusCache.run`), until cancelled."""
        async with asyncio.TaskGroup() as tasks:  # neither ever ends alone; if one did, both would
            tasks.create_task(self.lists.run())
            tasks.create_task(self.statuses.run())

    async def close(self) -> None:
        await self.upstream.close()


O = TypeVar("O")
Write = Callable[[Principal, verify.Result, Freshness, int, "O | None"], O]
"""``write(p, res, fresh, now, out)``: an answer from a :class:`verify.Result` checked at ``now``
against the trust list ``fresh`` describes, written into ``out`` when given (a batch's own
element), else a new one."""


def _verdict(p: Principal, res: verify.Result, fresh: Freshness, now: int, out: object = None) -> Verdict:
    return Verdict(res, fresh, now)


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

    def cache_state(self, p: Principal) -> dict:
        """How fresh the lists are and what was refused (:meth:`TrustCache.state`), for anyone who
        may verify and for the suite's own service (the gateway's ``/metrics``)."""
        require_role(p, *VERIFY_ROLES, Role.SERVICE)
        return self.cache.state()

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
        cache = self.cache
        if len(payload) > MAX_PAYLOAD_CHARS:  # far over every format limit: not worth decoding
            return write(p, verify.Result(Outcome.PAYLOAD_TOO_LARGE), cache.freshness(now), now, out)
        trust = cache.trust
        if trust is None:
            return Pending(None, None, now)
        skew = self.skew
        res = verify.check_any(payload, trust, now, skew)
        if not res.ok:
            if res.outcome is Outcome.KID_UNKNOWN and cache.refresh_due(KID_REFRESH_INTERVAL):
                return Pending(res, trust, now)  # a key registered moments ago? ask the registry
            if checks is not None:
                self.note(res, checks)
            return write(p, res, cache.freshness(now), now, out)
        if res.token is not None:
            return Pending(res, trust, now)  # resolved by the issuing region
        claims = res.claims
        sl = None
        if claims is not None and claims.status_uri is not None:
            sl = cache.status_list(claims.status_uri)
            if sl is None or not sl.iat - skew <= now < sl.exp:  # verify.status_usable, inline
                return Pending(res, trust, now)  # none, or past its validity: ask its issuer
        verify.apply_status(res, sl, now, skew)
        verify.apply_acceptance(res, trust.acceptance, purpose, p.region, now)
        if checks is not None:
            self.note(res, checks)
        return write(p, res, cache.freshness(now), now, out)

    async def finish(self, p: Principal, payload: str, purpose: str, pending: Pending) -> Verdict:
        """Complete what :meth:`verify_now` could not: fetch the trust list, look again after a
        refresh for an unknown kid, resolve a token, fetch a status list."""
        res, trust, now = pending
        if trust is None or res is None:
            await self.cache.refresh_trust_soon(NO_TRUST_LIST_INTERVAL)
            trust = self.cache.trust
            if trust is None:
                return Verdict(Unverified(Outcome.REGION_UNAVAILABLE,
                                          "no trust list yet: the registry could not be reached"), NO_TRUST_LIST, now)
            res = verify.check_any(payload, trust, now, self.skew)
        if res.outcome is Outcome.KID_UNKNOWN and await self.cache.refresh_trust_soon(KID_REFRESH_INTERVAL):
            # A key registered moments ago: look again with the fresher trust list.
            trust = self.cache.trust
            res = verify.check_any(payload, trust, now, self.skew)
        if res.token is not None and res.ok:
            return await self._resolve(p, res, trust, now, purpose)
        if res.ok and res.claims is not None and res.claims.status_uri is not None:
            sl = self.cache.status_list(res.claims.status_uri)
            if sl is None or not verify.status_usable(sl, now, self.skew):
                sl = await self.cache.fetch_status(res.claims.status_uri, res.claims.iss)
            verify.apply_status(res, sl, now, self.skew)
        elif res.ok:
            verify.apply_status(res, None, now, self.skew)
        verify.apply_acceptance(res, trust.acceptance, purpose, p.region, now)
        return Verdict(res, self.cache.freshness(now, trust), now)

    async def _resolve(self, p: Principal, res: verify.Result, trust: TrustList, now: int, purpose: str) -> Verdict:
        tok = res.token
        assert tok is not None
        fresh = self.cache.freshness(now, trust)
        endpoint = self.cache.endpoint(tok.iss)
        if endpoint is None:
            return Verdict(verify.Result(Outcome.REGION_UNAVAILABLE, f"no endpoint for {tok.iss}"), fresh, now)
        try:
            resolved = await self.cache.upstream.resolve(endpoint, p, tok.cti, tok.credential_cti, purpose)
        except NotFound:
            return Verdict(verify.Result(Outcome.REVOKED, "the issuing region does not know this credential"),
                           fresh, now)
        except EcertError as err:
            log.warning("resolving a token of %s failed: %s", tok.iss, err.code)
            return Verdict(verify.Result(Outcome.REGION_UNAVAILABLE, f"{tok.iss} could not resolve the token"),
                           fresh, now)
        return Verdict(self._judged(resolved, trust, now), fresh, now)

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
            now = self.now()
            return [Verdict(verify.Result(Outcome.NO_CODE_FOUND, "no QR code was found in the picture"),
                            self.cache.freshness(now), now)]
        checks: Checks = {}
        verdicts = [(await self._complete(p, text, purpose, checks))._replace(
            code_sha256=hashlib.sha256(text.encode()).hexdigest()) for text in texts]
        self.keep(p, purpose, self.now(), checks)
        return verdicts
