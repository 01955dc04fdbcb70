"""The registry's rules: regions, their keys, certificate types and the recognition rules (which
types each purpose accepts, which regions each region recognises), published as a signed trust list.

Plain Python over its ports: the store, the root signing key (and where it is kept: the
:class:`RootKeeper`) and the clock. Every change publishes a new trust-list version; a published
list is also re-signed (new version) once half its validity has passed, so verifiers never see it
expire while the registry runs.

The root key rotates (:meth:`Registry.rotate_root`): one last list signed by the old root names the
new one (``next_root``, the announcement), and every list after is signed by the new root alone.
The announcements, oldest first, are the root chain: served with every list, so a verifier pinned
to any earlier root follows them (:func:`ecert.format.trustlist.follow_roots`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import NamedTuple, Protocol

from ecert.clock import Clock, system_clock
from ecert.errors import ConfigError, Conflict, InvalidRequest, NotFound, RuleViolation
from ecert.format import keys, trustlist
from ecert.limits import MAX_NAME, MAX_SPKI
from ecert.rules.acceptance import STAR, Rules, default_rules
from ecert.rules.access import Principal, parse_purpose, require_region, require_role
from ecert.rules.catalogue import (
    DEFAULT_REGIONS,
    builtin_types,
    content_digest,
    load_type_document,
    superseded_digests,
)
from ecert.rules.requests import check_rule_items
from ecert.rules.schema import check_endpoint, check_region_code, check_type_id
from ecert.store import Store
from ecert.vocab import KeyStatus, Role

log = logging.getLogger("ecert.registry")

DEFAULT_KEY_YEARS = 10
"""A registered key's lifetime when its request names no ``exp``."""
REVOKE_ROLES: tuple[Role, ...] = (Role.ADMIN,)
"""Who may revoke a region's key (a compromise: only an admin)."""
RETIRE_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.AGENCY, Role.SERVICE)
"""Who may retire a region's key (the region itself rotating its key, or an admin)."""
RETIRE_GRACE = 300
"""Seconds a retired key's window stays open after its retirement (its ``exp`` is cut to then): the
region's other issuer processes take up the new key meanwhile."""


class SignedTrustList(NamedTuple):
    """One published trust-list version."""

    version: int
    signed: bytes  # COSE_Sign1 by the root key
    json: str  # the payload as JSON text
    iat: int
    exp: int
    rules: Rules  # the recognition rules it carries
    root_chain: tuple[bytes, ...] = ()  # every root rotation's announcement until then, oldest first


class RootRotation(NamedTuple):
    """A root rotation done: the new root, the kid (hex) of the one it replaced, and the first
    trust-list version the new root signed."""

    root: keys.PublicKey
    previous_kid: str
    trust_list_version: int


class RootKeeper(Protocol):
    """Where the root key is kept (the registry's files: :mod:`services.registry.rootkeys`).

    A rotation stages the new key before announcing it and commits it after: a key the trust
    list names as root is always kept somewhere, and the old key is destroyed only once the new
    one is announced."""

    def generate(self, alg: int) -> keys.Signer:
        """A new key of ``alg`` where the keeper keeps keys (in memory, or made in a token)."""

    def staged(self) -> keys.Signer | None:
        """A key staged and not committed (a rotation interrupted), or None."""

    def stage(self, key: keys.Signer) -> None:
        """Keep ``key`` durably beside the root, not yet as the root."""

    def commit(self, key: keys.Signer) -> None:
        """Make ``key`` the root kept, the previous root's private key destroyed."""

    def discard(self) -> None:
        """Forget the staged key (one never announced)."""


class MemoryRootKeeper:
    """Keeps nothing: a rotated root lives in this process only (tests and tools)."""

    def generate(self, alg: int) -> keys.Signer:
        return keys.SigningKey.generate(alg)

    def staged(self) -> keys.Signer | None:
        return None

    def stage(self, key: keys.Signer) -> None:
        pass

    def commit(self, key: keys.Signer) -> None:
        pass

    def discard(self) -> None:
        pass


class PublishedRules(NamedTuple):
    """The recognition rules and the trust-list version that carries them."""

    rules: Rules
    version: int


class RegionKeys(NamedTuple):
    """A region's document and its keys' documents, as the store holds them."""

    region: dict
    keys: list[dict]


class Registry:
    """The registry over a store, the root key (kept by ``keeper``) and a clock."""

    def __init__(self, store: Store, root: keys.Signer, *, ttl: int, now: Clock = system_clock,
                 keeper: RootKeeper | None = None):
        self.store = store
        self.root = root
        self.ttl = ttl
        self.now = now
        self.keeper: RootKeeper = keeper or MemoryRootKeeper()
        self._current: SignedTrustList | None = None
        self._chain: tuple[bytes, ...] | None = None  # the root chain, once read from the store
        self._lock = asyncio.Lock()

    # -- the trust list ----------------------------------------------------------------------
    async def seed(self) -> None:
        for code, name in DEFAULT_REGIONS.items():
            await self.store.create_region(code, name)
        for t in builtin_types():
            try:
                await self.store.put_type(t["id"], t["version"], t["name"], t["schema"], t["disclosure"])
            except Conflict:  # stored with other content: the catalogue's earlier text, or an admin's
                if not await self._upgrade_builtin(t):
                    log.warning("certificate type %s v%d is stored with other content than the built-in "
                                "catalogue's; the stored one is kept (publish a new version to change it)",
                                t["id"], t["version"])
        await self.seed_rules()

    async def _upgrade_builtin(self, t: dict) -> bool:
        """Replace a built-in type version stored with one of the catalogue's own earlier texts (so
        credentials issued under it meet the checks the current text names); True if done."""
        stored = next((d for d in await self.store.list_types()
                       if d["id"] == t["id"] and d["version"] == t["version"]), None)
        if stored is None or content_digest(stored["name"], stored["schema"], stored["disclosure"]) \
                not in superseded_digests().get((t["id"], t["version"]), ()):
            return False
        if not await self.store.replace_type(t["id"], t["version"], stored["schema"], t["name"], t["schema"],
                                             t["disclosure"]):
            return False
        log.info("certificate type %s v%d: the catalogue's earlier text replaced by its current one",
                 t["id"], t["version"])
        return True

    async def seed_rules(self) -> None:
        """Each entry of the shipped agreement (:func:`default_rules`) the store holds none for:
        a store that already has an entry keeps it, whatever it says."""
        defaults = default_rules()
        for purpose, types in defaults.purposes.items():
            await self.store.add_rule("purpose", purpose, types)
        for region, regions in defaults.recognition.items():
            await self.store.add_rule("recognition", region, regions)

    async def _stored_rules(self) -> Rules:
        """The stored recognition rules; the shipped agreement while the store holds none."""
        docs = await self.store.list_rules()
        if not docs:
            return default_rules()
        return Rules({d["key"]: d["items"] for d in docs if d["kind"] == "purpose"},
                     {d["key"]: d["items"] for d in docs if d["kind"] == "recognition"})

    async def publish(self) -> SignedTrustList:
        """Sign and store a new trust-list version from what the store holds now."""
        async with self._lock:
            await self._settle_root()
            self._current = await self._sign_list()
            log.info("published trust list v%d", self._current.version)
            return self._current

    async def _sign_list(self, next_root: keys.PublicKey | None = None) -> SignedTrustList:
        """A new version signed by the root and stored (under the lock); with ``next_root``, the
        announcement of a rotation to it."""
        version = await self.store.next_trust_version()
        iat = self.now()
        rules = await self._stored_rules()
        payload = trustlist.build_payload(
            version=version, iat=iat, exp=iat + self.ttl,
            regions=await self.store.list_regions(), keys=await self.store.list_keys(),
            types=await self.store.list_types(), rules=rules.to_payload(), next_root=next_root)
        signed = trustlist.sign(self.root, payload)
        if next_root is not None:  # recorded first: once it may exist anywhere, the chain names it
            await self.store.add_root_announcement(version, base64.b64encode(signed).decode(),
                                                   self.root.kid.hex(), next_root.kid.hex(), iat)
        await self.store.save_trust_list(version, base64.b64encode(signed).decode(), iat, iat + self.ttl)
        return SignedTrustList(version, signed, trustlist.to_json(payload), iat, iat + self.ttl, rules,
                               self._chain or ())

    async def current(self) -> SignedTrustList:
        """The newest list, re-signed first if half its validity has passed."""
        cur = self._current
        if cur is None or self.now() >= cur.iat + self.ttl // 2:
            cur = await self.publish()
        return cur

    async def trust_list(self, known_version: int = 0) -> SignedTrustList | None:
        """The newest list (:meth:`current`), or None when it is ``known_version``: the caller
        holds it already (a conditional fetch)."""
        cur = await self.current()
        return None if known_version and known_version == cur.version else cur

    # -- the root key ------------------------------------------------------------------------
    async def open_root(self) -> None:
        """Read the root chain and make sure the root held is its newest root (at start; the
        first publish does it too). A rotation interrupted after its announcement was recorded
        is completed from the staged key; a staged key never announced is discarded. A root the
        chain has left behind is refused (ConfigError): the registry never signs with it again."""
        async with self._lock:
            await self._settle_root()

    async def _settle_root(self, *, again: bool = False) -> None:
        """:meth:`open_root` under the lock, once (``again``: read the store anew)."""
        if self._chain is not None and not again:
            return
        docs = await self.store.root_chain()
        staged = self.keeper.staged()
        if docs and docs[-1]["new_kid"] != self.root.kid.hex():
            want = docs[-1]["new_kid"]
            if staged is None or staged.kid.hex() != want:
                raise ConfigError(f"the root chain names root {want} as current, but the root key held is "
                                  f"{self.root.kid.hex()} and no key of {want} is staged: restore the key of "
                                  f"{want} (the registry never signs with a root it has left)")
            self.keeper.commit(staged)
            self.root = staged
            self._current = None
            log.warning("root rotation to %s completed (it was interrupted after its announcement)", want)
        elif staged is not None and staged.kid == self.root.kid:  # switched in memory, not on disk
            self.keeper.commit(staged)
        elif staged is not None:
            self.keeper.discard()
            log.warning("staged root key %s was never announced: discarded", staged.kid.hex())
        self._chain = tuple(base64.b64decode(d["signed"]) for d in docs)

    async def root_chain(self) -> tuple[bytes, ...]:
        """Every root rotation's announcement (a list signed by the old root naming the new one),
        oldest first."""
        async with self._lock:
            await self._settle_root()
            return self._chain or ()

    async def rotate_root(self, p: Principal) -> RootRotation:
        """Replace the root key (admin): a new key of the same algorithm is staged, announced in
        one list signed by the old root (``next_root``; recorded in the root chain before it is
        stored or served), made the root (the old private key destroyed), and the first list
        signed by the new root published. Everything under the publish lock: no list is signed
        in between."""
        require_role(p, Role.ADMIN)
        async with self._lock:
            await self._settle_root(again=True)  # a rotation whose answer was lost is completed first
            old = self.root
            new = self.keeper.generate(old.alg)
            self.keeper.stage(new)
            try:
                announcement = await self._sign_list(next_root=new.public)
            except BaseException:  # recorded or not, the store knows: the next publish settles from it
                self._chain = None
                raise
            self._chain = (*(self._chain or ()), announcement.signed)
            self.root = new  # from here on, whatever fails: the old root signs nothing more
            try:
                self.keeper.commit(new)
            finally:  # the new root's first list even if the files were not switched (the next start does it)
                self._current = await self._sign_list()
            log.warning("root key rotated: %s replaced by %s (announced in trust list v%d, first signed v%d)",
                        old.kid.hex(), new.kid.hex(), announcement.version, self._current.version)
            return RootRotation(new.public, old.kid.hex(), self._current.version)

    async def keep_current(self) -> None:
        """Re-sign before half the validity has passed (a background task)."""
        while True:
            await asyncio.sleep(min(60, self.ttl / 4))
            await self.current()

    # -- regions -----------------------------------------------------------------------------
    async def regions(self) -> list[RegionKeys]:
        all_keys = await self.store.list_keys()
        return [RegionKeys(r, [k for k in all_keys if k["region"] == r["code"]])
                for r in await self.store.list_regions()]

    async def create_region(self, p: Principal, code: str, name: str) -> RegionKeys:
        require_role(p, Role.ADMIN)
        code = check_region_code(code, "code")
        if not 1 <= len(name) <= MAX_NAME:
            raise InvalidRequest(f"name is required (at most {MAX_NAME} characters)", field="name")
        if not await self.store.create_region(code, name):
            raise Conflict(f"region {code} exists", code="REGION_EXISTS")
        await self.publish()
        return RegionKeys(await self.store.get_region(code), [])

    async def set_region_endpoint(self, p: Principal, code: str, endpoint: str) -> RegionKeys:
        """Where the region's issuer is reached (empty: none online). The same endpoint again
        publishes nothing new."""
        check_region_code(code, "code")
        require_region(p, code)
        region = await self.store.get_region(code)
        if region is None:
            raise NotFound(f"no region {code}")
        if region.get("endpoint") != check_endpoint(endpoint):
            await self.store.set_region_endpoint(code, endpoint)
            await self.publish()
        return RegionKeys(await self.store.get_region(code), await self.store.list_keys(code))

    # -- keys --------------------------------------------------------------------------------
    async def register_key(self, p: Principal, region: str, alg: str, spki: bytes, nbf: int = 0,
                           exp: int = 0) -> tuple[dict, bool]:
        """Register a region's public key (``nbf`` 0: now; ``exp`` 0: DEFAULT_KEY_YEARS later).
        Returns the key's document and whether it is new (the same key again is no change). A
        public key belongs to one region: one another region holds is Conflict ``KEY_IN_USE``
        (field ``spki``), whoever asks, and nothing is published (the store decides, atomically)."""
        region = check_region_code(region)
        require_region(p, region)
        if await self.store.get_region(region) is None:
            raise NotFound(f"no region {region}")
        alg_id = keys.alg_id(alg)
        if len(spki) > MAX_SPKI:
            raise InvalidRequest("spki is too long for a P-256 or Ed25519 key", field="spki")
        public = keys.PublicKey(alg_id, spki)  # rejects a malformed or mismatched key
        nbf = nbf or self.now()
        exp = exp or nbf + DEFAULT_KEY_YEARS * 365 * 86400
        if exp <= nbf:
            raise InvalidRequest("exp must be after nbf", field="exp")
        doc, created = await self.store.add_key(region, public.kid.hex(), alg_id,
                                                base64.b64encode(public.spki).decode(), nbf, exp)
        if created:
            await self.publish()
        return doc, created

    async def revoke_key(self, p: Principal, region: str, kid: str) -> dict:
        return await self._set_key_status(p, region, kid, KeyStatus.REVOKED, REVOKE_ROLES)

    async def retire_key(self, p: Principal, region: str, kid: str) -> dict:
        """Retire a region's key: its window ends (``exp`` at most RETIRE_GRACE seconds from now), so
        it still verifies what it signed before, never what would be signed with it later."""
        return await self._set_key_status(p, region, kid, KeyStatus.RETIRED, RETIRE_ROLES, grace=RETIRE_GRACE)

    async def _set_key_status(self, p: Principal, region: str, kid: str, status: KeyStatus,
                              roles: tuple[Role, ...], grace: int | None = None) -> dict:
        require_role(p, *roles)
        require_region(p, check_region_code(region))
        at = self.now()
        doc = await self.store.set_key_status(region, kid.lower(), status, at,
                                              window_end=None if grace is None else at + grace)
        await self.publish()
        return doc

    # -- certificate types -------------------------------------------------------------------
    async def types(self) -> list[dict]:
        return await self.store.list_types()

    async def publish_type(self, p: Principal, type_id: str, version: int, name: str, schema_json: str,
                           disclosure_json: str) -> dict:
        """Publish a certificate type version (admin); the same content again is no change."""
        require_role(p, Role.ADMIN)
        try:
            schema = json.loads(schema_json)
            disclosure = json.loads(disclosure_json or "{}")
        except (ValueError, RecursionError) as err:
            raise InvalidRequest("schema and disclosure must be JSON", code="SCHEMA_MALFORMED") from err
        doc = load_type_document({"id": type_id, "version": version, "name": name, "schema": schema,
                                  "disclosure": disclosure})
        if await self.store.put_type(doc["id"], doc["version"], doc["name"], doc["schema"], doc["disclosure"]):
            await self.publish()
        return doc

    # -- recognition rules -------------------------------------------------------------------
    async def rules(self) -> PublishedRules:
        """The recognition rules of the current trust list, and its version."""
        cur = await self.current()
        return PublishedRules(cur.rules, cur.version)

    async def set_purpose_types(self, p: Principal, purpose: str, type_ids: list[str]) -> PublishedRules:
        """Which certificate types ``purpose`` accepts, from now on exactly ``type_ids`` (admin).
        An unknown purpose is 400 ``PURPOSE_UNKNOWN``; a type no version of which is published,
        422 ``TYPE_UNKNOWN`` naming it. The same list again publishes nothing new."""
        require_role(p, Role.ADMIN)
        purpose = parse_purpose(purpose)
        wanted = check_rule_items(type_ids, "types")
        for type_id in wanted:
            check_type_id(type_id, "types")
        known = {t["id"] for t in await self.store.list_types()}
        unknown = sorted(wanted - known)
        if unknown:
            raise RuleViolation(f"no certificate type {unknown[0]} is published", code="TYPE_UNKNOWN",
                                field="types")
        return await self._set_rule("purpose", purpose, wanted)

    async def set_recognition(self, p: Principal, region: str, regions: list[str]) -> PublishedRules:
        """Whose credentials callers of ``region`` (``"*"``: callers bound to no region) recognise,
        from now on exactly ``regions`` (admin). A region that does not exist is 404 (the one
        named by ``region``) or 422 (one in ``regions``), ``REGION_UNKNOWN`` naming it. The same
        list again publishes nothing new."""
        require_role(p, Role.ADMIN)
        if region != STAR:
            check_region_code(region, "region")
        wanted = check_rule_items(regions, "recognises")
        for code in wanted:
            check_region_code(code, "recognises")
        existing = {r["code"] for r in await self.store.list_regions()}
        if region != STAR and region not in existing:
            raise NotFound(f"no region {region}", code="REGION_UNKNOWN", field="region")
        unknown = sorted(wanted - existing)
        if unknown:
            raise RuleViolation(f"no region {unknown[0]}", code="REGION_UNKNOWN", field="recognises")
        return await self._set_rule("recognition", region, wanted)

    async def _set_rule(self, kind: str, key: str, items: frozenset[str]) -> PublishedRules:
        if not await self.store.list_rules():  # a store never seeded: start from the shipped agreement
            await self.seed_rules()
        if await self.store.put_rule(kind, key, items):
            await self.publish()
        return await self.rules()
