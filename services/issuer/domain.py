"""One region's issuing rules: issue, revoke, suspend and reinstate that region's credentials,
publish its status list, and answer presentation-token look-ups.

Plain Python over its ports: the store, the keyring, the registry (:class:`RegistryPort`) and
the clocks. Its private keys live only here, as encrypted PKCS#8 files (:mod:`.keyring`); the
registry gets the public halves. Which key signs, and when it changes, is :mod:`.signing`'s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from ecert.clock import Clock, system_clock
from ecert.errors import (
    Conflict,
    DuplicateKey,
    InvalidRequest,
    NotFound,
    Outcome,
    RuleViolation,
    Unavailable,
)
from ecert.format import credential, keys, statuslist
from ecert.rules.acceptance import Rules
from ecert.rules.access import (
    Principal,
    disclosure_role,
    purpose_for,
    require_issuer,
    require_record,
    require_region,
    require_role,
)
from ecert.rules.document import DocumentDate, china_day
from ecert.rules.requests import check_purpose, check_request_id, check_shown_purpose, check_valid_days
from ecert.rules.schema import TypeSchema, parse_fields_json, pick_type
from ecert.rules.shards import Signed
from ecert.rules.verify import not_current_reason
from ecert.runtime.refresh import Refreshed
from ecert.store import Store
from ecert.vocab import ISSUE_ROLES, VERIFY_ROLES, CredentialStatus, StatusAction, TrailAction

from .keyring import Keyring
from .photos import PHOTO_FIELD, PhotoLibrary
from .presentations import ShowCodes, Shown
from .registry_cache import RegistryCache
from .search import CredentialSearch, Page, Query
from .signing import KeyInfo, KeyPort, Signer
from .status import RegionStatus
from .trail import Trail

log = logging.getLogger("ecert.issuer")

TYPES_REFRESH = 10.0
"""Seconds the registry's certificate types (and its recognition rules) are used before they are
fetched again."""
TYPES_RETRY = 2.0
"""Seconds between fetches when one failed, or when an unknown type forces one."""
DEFAULT_STATUS_LIST_VALIDITY = 3600
"""Seconds from a status list's iat to its exp, unless configured (``ECERT_STATUS_LIST_VALIDITY``):
a verifier trusts a list that long; it is signed anew at half of it, or sooner after a change."""

_S = CredentialStatus
TRANSITIONS: dict[StatusAction, tuple[tuple[CredentialStatus, ...], CredentialStatus]] = {
    StatusAction.REVOKE: ((_S.VALID, _S.SUSPENDED), _S.REVOKED),
    StatusAction.SUSPEND: ((_S.VALID,), _S.SUSPENDED),
    StatusAction.REINSTATE: ((_S.SUSPENDED,), _S.VALID),
}
"""A status change: the statuses it may start from, and the one it leads to."""

Types = dict[tuple[str, int], TypeSchema]


class RegistryPort(KeyPort, Protocol):
    """What the issuer asks of the registry, for its own region (its keys: :class:`KeyPort`)."""

    async def certificate_types(self) -> list[TypeSchema]: ...

    async def recognition_rules(self) -> Rules:
        """The recognition rules of the registry's current trust list."""

    async def set_endpoint(self, endpoint: str) -> None: ...


_STATUS_OUTCOMES = {CredentialStatus.REVOKED: Outcome.REVOKED, CredentialStatus.SUSPENDED: Outcome.SUSPENDED}
"""A credential's status that makes a show code's answer that outcome."""


class Resolution(NamedTuple):
    """The answer to a presentation token: the outcome, the credential's record and the fields
    the caller is shown: VALID, those it may see (an agency of another region: the type's
    choice); REVOKED, SUSPENDED, EXPIRED or NOT_YET_VALID, the type's identifying fields for it
    (``x-identify``, so the operator knows who presented it); TOKEN_ALREADY_USED, none;
    NOT_ACCEPTED_FOR_PURPOSE (a code the holder limited to another purpose, or a type or region
    the recognition rules do not accept for the check), the identifying fields;
    REGION_UNAVAILABLE (the rules could not be had to judge it), none. ``detail``: the reason,
    for any outcome but VALID. ``document``: for EXPIRED / NOT_YET_VALID decided by the
    document's own dates, that field and date, as an EC1 answer gives them; else None."""

    outcome: Outcome
    record: dict
    fields: dict
    detail: str = ""
    document: DocumentDate | None = None


def status_uri(region: str) -> str:
    """The region's first status list (shard 1: the single list of earlier releases)."""
    return statuslist.shard_uri(region, 1)


class Issuer:
    """One region's issuing logic over a store, its keyring and the registry.

    ``key``: the region's :class:`Keyring`, or one key (a keyring in memory). ``key_lifetime_days``
    (0: never) and ``auto_rotate``: see :mod:`.signing`. ``cache``: where the registry's types and
    rules are kept between starts (None: nowhere). ``search_key``: the region's key for the holders'
    search hashes (:mod:`.search`; None: one for this process alone)."""

    def __init__(self, region: str, store: Store, key: keys.Signer | Keyring, registry: RegistryPort, *,
                 default_valid_days: int, status_ttl: int, now: Clock = system_clock,
                 monotonic: Callable[[], float] = time.monotonic, key_lifetime_days: int = 365,
                 auto_rotate: bool = True, cache: RegistryCache | None = None,
                 status_list_validity: int = DEFAULT_STATUS_LIST_VALIDITY, search_key: bytes | None = None):
        self.region = region
        self.store = store
        self.signer = Signer(key if isinstance(key, Keyring) else Keyring.of(key), registry,
                             lifetime_days=key_lifetime_days, auto_rotate=auto_rotate, now=lambda: self.now(),
                             monotonic=monotonic)
        self._registry = registry
        self.default_valid_days = default_valid_days
        self.status_ttl = status_ttl
        self.now = now
        self.cache = cache
        self.known_types: Refreshed[Types] = Refreshed(
            self._fetch_types, name=f"certificate types ({region})", every=TYPES_REFRESH, retry=TYPES_RETRY,
            force_every=TYPES_RETRY, errors=(Unavailable,), clock=monotonic)
        self.known_rules: Refreshed[Rules] = Refreshed(
            self._fetch_rules, name="recognition rules", every=TYPES_REFRESH, retry=TYPES_RETRY,
            errors=(Unavailable,), clock=monotonic)
        if cache is not None:  # what the registry said before the restart, until it answers
            cached_types, cached_rules = cache.load()
            if cached_types is not None:
                self.known_types.seed(cached_types)
            if cached_rules is not None:
                self.known_rules.seed(cached_rules)
        # the region's status lists, one a shard, each signed with the key checked as any signature is
        self.statuses = RegionStatus(region, store, self.signing_key, ttl=status_ttl, validity=status_list_validity,
                                     now=lambda: self.now())
        self.trail = Trail(region, store, now=lambda: self.now(), record_region=self.get)  # the region's 全程留痕
        self.show_codes = ShowCodes(region, store)
        self.photos = PhotoLibrary(self)
        self.search = CredentialSearch(self, search_key)  # the region's agencies find what they issued

    # -- registry ----------------------------------------------------------------------------
    @property
    def registry(self) -> RegistryPort:
        return self._registry

    @registry.setter
    def registry(self, registry: RegistryPort) -> None:
        self._registry = self.signer.registry = registry

    async def register(self, advertise: str, attempts: int = 60, pause: float = 0.5) -> str:
        """Register the current public key and this issuer's endpoint, then read the region's keys
        (:meth:`refresh_keys`); waits for the registry to come up."""
        for attempt in range(attempts):
            try:
                key = self.signer.keyring.current
                nbf, exp = self.signer.registration()
                kid = await self.registry.register_key(keys.ALG_NAMES[key.alg], key.spki, nbf, exp)
                await self.registry.set_endpoint(advertise)
                break
            except Unavailable:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(pause)
        try:
            await self.signer.learn()
        except Unavailable as err:
            log.warning("the region's keys could not be read from the registry yet: %s", err)
        return kid

    async def _fetch_types(self) -> Types:
        types = {(t.id, t.version): t for t in await self.registry.certificate_types()}
        if self.cache is not None:
            self.cache.save_types(types)
        return types  # the region's keys are read by the signer's own round (Signer.run), off this path

    async def types(self, force: bool = False) -> Types:
        """The registry's certificate types, refreshed every TYPES_REFRESH seconds (``force``: now,
        but at most every TYPES_RETRY seconds). While the registry is unreachable the types
        already known are used; with none yet, the call fails with 503."""
        return await self.known_types.get(force)

    def expire_types(self) -> None:
        """Make the next look-ups fetch the types, and the recognition rules, from the registry."""
        self.known_types.expire()
        self.known_rules.expire()

    async def _fetch_rules(self) -> Rules:
        rules = await self.registry.recognition_rules()
        if self.cache is not None:
            self.cache.save_rules(rules)
        return rules

    async def rules(self) -> Rules:
        """The recognition rules of the registry's trust list, which a show code is judged by,
        kept as the types are (:meth:`types`); with none yet and the registry unreachable, 503."""
        return await self.known_rules.get()

    async def type_schema(self, type_id: str, version: int) -> TypeSchema:
        for force in (False, True):  # a type published moments ago: look once more
            ts = pick_type(await self.types(force), type_id, version)
            if ts is not None:
                return ts
        raise RuleViolation(f"certificate type {type_id} v{version or 'latest'} is unknown",
                            code="TYPE_UNKNOWN", field="type")

    # -- signing keys ------------------------------------------------------------------------
    @property
    def key(self) -> keys.Signer:
        """The key signing now (unchecked: :meth:`signing_key` is the one to sign with)."""
        return self.signer.keyring.current

    async def signing_key(self) -> keys.Signer:
        """The key to sign with, checked first (before every signature): a key the registry says
        is revoked, retired or outside its window is replaced (``auto_rotate``), else 503
        ``SIGNING_KEY_UNAVAILABLE``."""
        return await self.signer.key()

    async def rotate(self, p: Principal, request_id: str = "") -> KeyInfo:
        """A new signing key, registered and used from now on; the old one retired at the registry
        (an admin, the region's agency, or the suite's service principal for the region). The same
        ``request_id`` again answers the first rotation."""
        require_region(p, self.region)
        check_request_id(request_id)
        return await self.signer.rotate(request_id, reason=f"asked for by {p.role}")

    async def refresh_keys(self, p: Principal) -> KeyInfo:
        """Read the region's keys from the registry now (after a revocation): a current key that
        may no longer sign is replaced (policy allowing; kid ``""`` when none can sign). Unavailable
        while the registry cannot be reached."""
        require_region(p, self.region)
        return await self.signer.refresh()

    # -- issuing -----------------------------------------------------------------------------
    async def issue(self, p: Principal, type_id: str, version: int, fields_json: str, valid_days: int,
                    request_id: str) -> dict:
        """Issue a credential (``version`` 0: the newest; ``valid_days`` 0: the default). The same
        ``request_id`` again answers the first credential; with another request, 409.

        The fields must satisfy the type's schema (422 ``SCHEMA_INVALID``), agree with each other
        (``FIELDS_INCONSISTENT`` naming both) and describe a document inside its own validity today
        in China time (``DOCUMENT_EXPIRED`` / ``DOCUMENT_NOT_YET_VALID`` naming the field); the
        credential's ``exp`` is at most the end of the document's last valid day (China time)."""
        require_issuer(p, self.region)
        check_request_id(request_id)
        valid_days = check_valid_days(valid_days or self.default_valid_days)
        fields = parse_fields_json(fields_json)
        request_hash = None
        if request_id:
            request_hash = hashlib.sha256(json.dumps([type_id, version, fields, valid_days], sort_keys=True,
                                                     ensure_ascii=False).encode()).hexdigest()
            existing = await self.store.find_credential_by_request(self.region, request_id)
            if existing is not None:
                reuses = isinstance(fields.get(PHOTO_FIELD), dict)  # {"reuse_for": ...}: the portrait on file
                return await self._recorded(p, self._same_request(existing, request_hash), photo_reused=reuses)
        fields, reused_photo = await self.photos.for_issue(fields)  # {"reuse_for": ID number}: the one on file
        ts = await self.type_schema(type_id, version)
        ts.validate(fields)
        now = self.now()
        document_end = ts.document.check_issuance(fields, now)
        await self.photos.check_held(fields)
        key = await self.signing_key()  # before a status index is taken: a key that may not sign is 503
        cti = credential.new_cti()
        cred_id = credential.cti_to_id(cti)
        uri, idx = await self.statuses.allocate()  # the shard the region's counter has reached
        exp = now + valid_days * 86400
        if document_end is not None and document_end < exp:
            exp = document_end
        qr_text = credential.issue(key, iss=self.region, iat=now, exp=exp, cti=cti, type_id=ts.id,
                                   type_version=ts.version, fields=ts.to_cbor(fields), status_uri=uri, status_idx=idx)
        doc = {"_id": cred_id, "region": self.region, "type": ts.id, "version": ts.version,
               "kid": key.kid.hex(), "qr_text": qr_text, "issued_at": now, "expires_at": exp,
               "status": CredentialStatus.VALID, "status_idx": idx, "status_uri": uri, "fields": fields,
               "request_id": request_id or None, "request_hash": request_hash,
               "display_id": ts.display_id(self.region, cred_id),
               "holder_hash": self.search.holder_hash(fields)}  # the ID number keyed-hashed, for searching
        try:
            await self.store.insert_credential(doc)
        except DuplicateKey:
            existing = await self.store.find_credential_by_request(self.region, request_id) if request_id else None
            if existing is None:
                raise
            return await self._recorded(p, self._same_request(existing, request_hash),
                                        photo_reused=reused_photo is not None)
        log.info("issued %s (%s v%d)", cred_id, ts.id, ts.version)
        return await self._recorded(p, doc, photo_reused=reused_photo is not None)

    async def _recorded(self, p: Principal, doc: dict, *, photo_reused: bool = False) -> dict:
        """``doc`` once its issuance is in the trail and its portrait on file: both idempotent (asked
        again, they repair what a crash left undone) and independent, so in the same group commit."""
        await asyncio.gather(self.trail.issued(p, doc, photo_reused=photo_reused), self.photos.issued(doc))
        return doc

    @staticmethod
    def _same_request(existing: dict, request_hash: str | None) -> dict:
        if existing.get("request_hash") != request_hash:
            raise Conflict("request_id was already used for a different request", code="REQUEST_ID_REUSED",
                           field="request_id")
        return existing

    async def get(self, p: Principal, cred_id: str) -> dict:
        """A credential of this region (another region's answers 404, as an unknown one does)."""
        doc = await self.store.get_credential(cred_id) if credential.id_to_cti(cred_id) else None
        require_record(p, self.region, None if doc is None else doc["region"], cred_id)
        return doc  # type: ignore[return-value]

    async def change_status(self, p: Principal, cred_id: str, action: StatusAction | str) -> dict:
        """Revoke, suspend or reinstate; repeating a change is harmless, and records the change in
        the trail when a failure kept the first attempt from it. A credential counts its changes
        (``status_changes``): the n-th change's trail entry has an id of its own that names n."""
        require_role(p, *ISSUE_ROLES)
        transition = TRANSITIONS.get(action)  # type: ignore[call-overload]
        if transition is None:
            raise InvalidRequest("action must be revoke, suspend or reinstate")
        allowed_from, target = transition
        for _ in range(5):
            doc = await self.get(p, cred_id)
            changes = doc.get("status_changes") or 0
            if doc["status"] == target:
                if changes:  # the change made before: its entry, once (by id)
                    await self.trail.status_changed(p, cred_id, target, doc["status_changed_at"], changes)
                return doc
            if doc["status"] not in allowed_from:
                raise Conflict(f"a {doc['status']} credential cannot become {target}", code="STATUS_CONFLICT")
            at = self.now()
            if await self.store.set_credential_status(cred_id, target, doc["status"], at, changes + 1):
                self.statuses.changed(doc.get("status_uri") or status_uri(self.region))  # signed anew when asked
                log.info("credential %s is now %s", cred_id, target)
                await self.trail.status_changed(p, cred_id, target, at, changes + 1)
                return await self.get(p, cred_id)
        raise Conflict("the credential changed concurrently, try again", code="STATUS_CONFLICT")

    async def find(self, p: Principal, q: Query) -> Page:
        """A page of the region's credentials by type, status, time of issue or holder (:mod:`.search`)."""
        return await self.search.find(p, q)

    # -- status lists ------------------------------------------------------------------------
    async def status_list(self, uri: str) -> bytes:
        """One of the region's signed status lists (a shard, :mod:`.status`): the same bytes until one
        of its credentials changes status, half its validity passes or the signing key changes; 404
        for a uri that is none of the region's."""
        return (await self.statuses.status_list(uri)).signed

    async def signed_status_list(self, uri: str) -> Signed:
        """:meth:`status_list` with its iat (as signed)."""
        return await self.statuses.status_list(uri)

    async def status_lists(self, held: list[tuple[str, int]]) -> tuple[list[Signed], list[str]]:
        """A verifier's refresh in one call: of the ``(uri, iat held)`` it names (at most 1,024, else
        400), the lists signed after the iat it holds, in the order asked, and the uris that are none
        of the region's."""
        return await self.statuses.status_lists(held)

    async def region_status_lists(self, since: int, from_shard: int = 1) -> tuple[list[Signed], int, str]:
        """Every shard of the region from ``from_shard``, those signed after ``since``, within the size
        bound; the first shard left out by it (0: none); the shards' version
        (:meth:`.status.RegionStatus.region_lists`)."""
        return await self.statuses.region_lists(since, from_shard)

    # -- presentations -----------------------------------------------------------------------
    async def show(self, p: Principal, cred_id: str, purpose: str = "") -> Shown:
        """A single-use show code (EP1) for a valid credential, made on the holder's behalf by the
        issuing agency (or an admin), limited to the purpose the holder chose (``""``: any). It
        is kept while it is live (:meth:`shown`) and recorded in the credential's trail."""
        require_issuer(p, self.region)
        purpose = check_shown_purpose(purpose)
        doc = await self.get(p, cred_id)
        if doc["status"] != CredentialStatus.VALID:
            raise Conflict(f"a {doc['status']} credential cannot be presented", code="STATUS_CONFLICT")
        now = self.now()
        if now >= doc["expires_at"]:
            raise Conflict("an expired credential cannot be presented", code="CREDENTIAL_EXPIRED")
        shown = await self.show_codes.mint(await self.signing_key(), doc["_id"], purpose, now)
        await self.trail.append(action=TrailAction.PRESENT, credential_id=doc["_id"], actor=p, purpose=purpose,
                                at=now)
        return shown

    async def shown(self, p: Principal, cred_id: str, token_id: str) -> Shown:
        """A live show code of this region's credential again, to draw it: 404 for an unknown one,
        ``PRESENTATION_USED`` or ``PRESENTATION_EXPIRED``; 409 once the credential is not valid."""
        require_issuer(p, self.region)
        doc = await self.get(p, cred_id)
        shown = await self.show_codes.live(doc["_id"], token_id, self.now())
        if doc["status"] != CredentialStatus.VALID:
            raise Conflict(f"a {doc['status']} credential cannot be presented", code="STATUS_CONFLICT")
        return shown

    async def resolve(self, p: Principal, token_cti: bytes, credential_cti: bytes, purpose: str = "") -> Resolution:
        """Answer a show code once: the first look-up uses it up. ``purpose`` is the one the check
        is for (none: the caller's role's default). A current credential is judged as a verifier
        judges an EC1 one: NOT_ACCEPTED_FOR_PURPOSE for a code the holder limited to another
        purpose, then by the recognition rules (the type for the purpose, this region for the
        caller's); REGION_UNAVAILABLE while the rules cannot be had. Every look-up is recorded in
        the credential's trail with the outcome answered."""
        require_role(p, *VERIFY_ROLES)
        judged = purpose_for(p, check_purpose(purpose)).value
        if len(token_cti) != 16 or len(credential_cti) != 16:
            raise InvalidRequest("token and credential ids are 16 bytes")
        doc = await self.store.get_credential(credential.cti_to_id(credential_cti))
        if doc is None or doc["region"] != self.region:
            raise NotFound("no such credential")
        now = self.now()
        r = await self._resolve(p, doc, token_cti.hex(), judged, now)
        await self.trail.append(action=TrailAction.RESOLVE, credential_id=doc["_id"], actor=p, purpose=judged,
                                outcome=r.outcome.value, at=now)
        return r

    async def _resolve(self, p: Principal, doc: dict, token_id: str, purpose: str, now: int) -> Resolution:
        if not await self.store.mark_token_used(token_id, now):
            return Resolution(Outcome.TOKEN_ALREADY_USED, doc, {}, "this show code was used before")
        code = await self.show_codes.kept(token_id)  # the purpose the holder chose, if any
        if self.show_codes.expired(code, now):
            return Resolution(Outcome.EXPIRED, doc, {}, "the show code has expired")
        role = disclosure_role(p, self.region)
        # the order of the checks an EC1 credential meets (credential-format.md §7): its exp, the
        # document's own dates, its status, then what it is accepted for
        if now >= doc["expires_at"]:
            return await self._not_current(Outcome.EXPIRED, doc, role, now)
        status = _STATUS_OUTCOMES.get(doc["status"])
        try:
            ts = await self.type_schema(doc["type"], doc["version"])
        except (RuleViolation, Unavailable):
            if status is None:
                raise
            return await self._not_current(status, doc, role, now)  # revoked all the same: say so
        outside = ts.document.check(doc["fields"], china_day(now))  # a record issued before the check
        if outside is not None:
            return Resolution(outside.outcome, doc, ts.identified(role, doc["fields"]), outside.detail,
                              outside.document)
        if status is not None:
            return await self._not_current(status, doc, role, now)
        refusal = self.show_codes.refusal(code, purpose)
        if refusal is None:
            try:
                rules = await self.rules()
            except Unavailable:  # never VALID unjudged
                return Resolution(Outcome.REGION_UNAVAILABLE, doc, {},
                                  "the recognition rules could not be had from the registry")
            refusal = rules.refusal(purpose, doc["type"], p.region, self.region)
        if refusal is not None:
            return Resolution(Outcome.NOT_ACCEPTED_FOR_PURPOSE, doc, ts.identified(role, doc["fields"]), refusal)
        return Resolution(Outcome.VALID, doc, ts.disclosed(role, doc["fields"]))

    async def _not_current(self, outcome: Outcome, doc: dict, role: str, now: int) -> Resolution:
        """An authentic credential that is not current: who it names, as the type lets ``role``
        see (nothing when the type cannot be had: the outcome matters more than the name), and
        why, as an EC1 answer says it (:func:`~ecert.rules.verify.not_current_reason`)."""
        try:
            ts = await self.type_schema(doc["type"], doc["version"])
        except (RuleViolation, Unavailable):
            return Resolution(outcome, doc, {}, *not_current_reason(outcome, None, None, now))
        return Resolution(outcome, doc, ts.identified(role, doc["fields"]),
                          *not_current_reason(outcome, ts, doc["fields"], now))
