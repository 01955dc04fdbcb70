"""The store: collection declarations, the Backend contract and the domain Store.

A :class:`Backend` is a small async document store (implemented over SQLite and
over MongoDB). :class:`Store` holds every domain operation, written once over
any backend; services only ever call :class:`Store`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Protocol

from ecert.errors import Conflict, DuplicateKey, NotFound
from ecert.vocab import CredentialStatus, KeyStatus

from .spans import traced

Index = tuple[tuple[str, ...], bool]
"""An index: the fields it covers (top-level names or dotted paths, see :func:`check_field`), and whether
it is unique."""

COLLECTIONS: dict[str, list[Index]] = {
    "regions": [],
    "keys": [(("region",), False), (("kid",), False)],
    # {"_id": SHA-256 of the key's base64 spki, "region"}: a public key belongs to one region only.
    "key_owners": [],
    "types": [],
    # the recognition rules, one document per entry: {"_id": "<kind>:<key>", "kind", "key", "items"}
    "rules": [],
    "trust_lists": [],
    # the root rotations, oldest first: {"_id": version (12 digits), "version" (the announcing list's),
    # "signed" (base64 of that list, signed by the old root and naming the new one), "old_kid",
    # "new_kid" (hex), "at"}
    "root_chain": [],
    # A unique index only covers documents whose indexed fields are all strings,
    # so credentials without a request_id never collide.
    # "fields.photo": the digest of the portrait a credential shows (Store.credentials_naming_photo);
    # (region, status_uri, status): the entries of one status list that are not valid (Store.status_entries)
    # (region, issued_at, _id): a region's credentials newest first, in the index's order (Store.find_credentials);
    # (region, holder_hash, ...): those of one holder, by the keyed hash of the ID number (ecert.rules.search;
    # never the number)
    "credentials": [(("region", "request_id"), True), (("region", "status_uri", "status"), False),
                    (("region", "fields.photo"), False), (("region", "issued_at", "_id"), False),
                    (("region", "holder_hash", "issued_at", "_id"), False)],
    # API keys, one document per secret, under the secret's SHA-256: {"_id", "key_id", "role", "region",
    # "org", "label", "created_at", "expires_at", "purposes", "quota", "disabled", "last_used_at", and
    # "retires_at" once rotated away (ecert.rules.apikeys); key_id: every secret of one key
    "apikeys": [(("key_id",), False)],
    # requests counted per API key and window, shared by the gateways: {"_id": "<key id>:<m|d>:<window>",
    # "n", "expires_at"} (Backend.increment; pruned once expired)
    "quota_counters": [(("expires_at",), False)],
    "tokens": [],
    # show codes kept for their lifetime: {"_id": token cti hex, "region", "credential_id", "text", "iat",
    # "exp", "purpose", "state": "live" | "expired"} (the text is dropped once it has expired; "tokens"
    # says whether it was used)
    "presentations": [(("region", "state"), False)],
    # a region's photo library: {"_id": "<region>:<digest>", "region", "digest" (SHA-256 hex of the stored
    # bytes), "media_type", "bytes" (base64), "width", "height", "at"}
    "photos": [],
    # the portraits on file for a citizen, one per credential issued with one: {"_id": "<region>:<SHA-256 hex of
    # the ID number>:<at, 12 digits>:<status index, 12 digits>", "region", "digest", "credential_id", "at"}
    # (never the number itself); the newest is the one reused
    "photo_owners": [],
    # each region's trail, a hash chain: {"_id": "<region>:<seq, 12 digits>", and the entry's members
    # (ecert.rules.trail)}; "id" is the entry's own id, once per region (a redelivery is no second entry)
    "trail": [(("region", "id"), True), (("region", "credential_id", "seq"), False)],
    # the last entry of each region's trail, written with it: {"_id": region, "seq", "hash"}
    "trail_heads": [],
    "counters": [],  # internal: {"_id": name, "n": last value} for Backend.next_seq
}

KEY_STATUSES = tuple(KeyStatus)
"""Signing key statuses; "revoked" is final."""

RULE_KINDS = ("purpose", "recognition")
"""The recognition rules' entries: a purpose's accepted type ids, a caller region's recognised regions."""

LISTED_CREDENTIAL_STATUSES = (CredentialStatus.REVOKED, CredentialStatus.SUSPENDED)
"""Credential statuses that appear in a region's status list."""

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_FIELD = re.compile(_NAME + r"\Z")
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME})*\Z")
_SCALARS = (str, int, float, bool, type(None))


class Backend(Protocol):
    """The document store contract every backend fulfils (see the module docs).

    Documents hold JSON-compatible values and a string ``_id``. A filter maps
    fields (top-level names, or dotted paths into nested objects such as ``"fields.photo"``; never
    through arrays) to a scalar (equality; None also matches a missing field),
    to ``{"$in": [scalars]}``, or to a range: ``{"$gt" | "$gte" | "$lt" | "$lte": str or int, ...}``
    (compared as the field's stored type: text with text, numbers with numbers).
    """

    async def insert(self, coll: str, doc: dict) -> None:
        """Insert ``doc``; DuplicateKey if its ``_id`` or a unique index collides."""

    async def get(self, coll: str, _id: str) -> dict | None:
        """The document with this ``_id``, or None."""

    async def exists(self, coll: str, _id: str) -> bool:
        """Whether a document with this ``_id`` exists (without reading it)."""

    async def find(self, coll: str, filter: dict, *, sort: str | None = None,
                   descending: bool = False, limit: int | None = None,
                   fields: tuple[str, ...] | None = None) -> list[dict]:
        """Documents matching ``filter``, optionally sorted on one field (then ``_id``) and limited;
        with ``fields`` (top-level names), each as ``_id`` and those fields only (None where missing)."""

    async def update(self, coll: str, _id: str, set: dict, *, expect: dict | None = None) -> bool:
        """Set top-level fields, atomically only if ``expect`` (a filter) matches.

        Returns whether a document matched (and so was updated).
        """

    async def put(self, coll: str, doc: dict) -> None:
        """Insert or replace the whole document with ``doc["_id"]``."""

    async def insert_chain(self, coll: str, docs: list[dict], head: tuple[str, dict] | None = None, *,
                           texts: list[str] | None = None) -> int:
        """Insert ``docs`` in order, durably, stopping at the first whose ``_id`` or unique index
        collides (a hash chain stays a chain: what is stored is a prefix of ``docs``); when all were
        inserted, put ``head[1]`` (with an int ``seq``) into collection ``head[0]`` too, forward only:
        not over a stored head with as high a ``seq``. SQLite writes the head in the same transaction;
        MongoDB after the docs (a crash between the two leaves the head behind until the next append).
        Returns how many were inserted. ``texts``, when given, are the docs as compact JSON (a backend
        that stores text may store them rather than write each doc again)."""

    async def next_seq(self, name: str, step: int = 1) -> int:
        """Add ``step`` to an atomic counter and return its new value (1 first, with step 1)."""

    async def increment(self, coll: str, steps: Mapping[str, int],
                        init: Mapping[str, dict] | None = None) -> dict[str, int]:
        """Add each ``steps[_id]`` to the ``n`` of the document ``_id``, atomically (concurrent
        increments from any process all count), in one write; a missing document is made as
        ``{"_id", "n": step, **init[_id]}`` (``init``'s fields are set only then). Returns each
        document's ``n`` as read right after (its increment included, perhaps others' since)."""

    async def delete(self, coll: str, filter: dict) -> int:
        """Remove every document matching ``filter``; how many were removed."""

    async def ping(self) -> None:
        """Raise StoreError if the store cannot be reached."""

    async def close(self) -> None:
        """Release the connection; later calls raise StoreError."""


# names and paths found plain before (the code's own few): a set look-up, not a match
_CHECKED_NAMES: set[str] = set()
_CHECKED_PATHS: set[str] = set()


def _check(name: str, pattern: re.Pattern, checked: set[str]) -> str:
    if name.__class__ is str and name in checked:
        return name
    if not isinstance(name, str) or not pattern.match(name):
        raise ValueError(f"invalid field name {name!r}")
    if len(checked) < 4096:
        checked.add(name)
    return name


def check_name(name: str) -> str:
    """Return ``name`` if it is a plain top-level field name (a document's or an update's), else raise
    ValueError."""
    return _check(name, _FIELD, _CHECKED_NAMES)


def check_field(name: str) -> str:
    """Return ``name`` if it is a field a filter, a sort or an index may name: a plain top-level name or
    a dotted path of plain names (``"fields.photo"``); else raise ValueError."""
    return _check(name, _PATH, _CHECKED_PATHS)


def index_name(coll: str, fields: tuple[str, ...]) -> str:
    """The name an index of ``coll`` on ``fields`` has in every backend (a path's dots become ``_``)."""
    return f"{coll}_{'_'.join(fields)}".replace(".", "_")


def check_collection(coll: str) -> str:
    """Return ``coll`` if it is a declared collection, else raise ValueError."""
    if coll not in COLLECTIONS:
        raise ValueError(f"unknown collection {coll!r}")
    return coll


def check_doc(doc: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``doc`` has a string ``_id`` and plain field names."""
    if not isinstance(doc.get("_id"), str):
        raise ValueError("a document needs a string _id")
    for name in doc:
        check_name(name)


def check_set(fields: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``fields`` is a non-empty update without ``_id``."""
    if not fields or "_id" in fields:
        raise ValueError("an update sets at least one field, and never _id")
    for name in fields:
        check_name(name)


RANGE_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def is_range(value: Any) -> bool:
    """Whether a filter's condition is a range (``{"$gt": 5}``, ``{"$gt": "a", "$lt": "b"}``)."""
    return isinstance(value, dict) and bool(value) and value.keys() <= RANGE_OPERATORS.keys()


def check_filter(filter: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``filter`` holds only scalar, ``$in`` or range conditions."""
    for name, value in filter.items():
        check_field(name)
        if is_range(value):
            if not all(type(v) in (str, int) for v in value.values()):
                raise ValueError(f"unsupported range on {name!r}: {value!r}")
            continue
        values = value["$in"] if isinstance(value, dict) and value.keys() == {"$in"} else [value]
        if not isinstance(values, list) or not all(isinstance(v, _SCALARS) for v in values):
            raise ValueError(f"unsupported condition on {name!r}: {value!r}")


STATUS_BLOCK = 64
"""Status-list indices reserved at a time by one process."""
TRAIL_SEQ_DIGITS = 12
"""Digits of the ``seq`` in a trail entry's ``_id`` (zero-padded, so text order is chain order)."""


def _entry(doc: dict) -> dict:
    """A trail entry as stored, without the store's ``_id``."""
    doc.pop("_id", None)
    return doc


@traced  # a span around each operation, when tracing is on (ecert.store.spans): no personal data
class Store:
    """Every domain operation on the shared state, over any :class:`Backend`."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self._status_blocks: dict[str, list[int]] = {}
        self._status_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the backend."""
        await self.backend.close()

    async def ping(self) -> None:
        """Raise StoreError if the backend is unreachable."""
        await self.backend.ping()

    async def _insert_new(self, coll: str, doc: dict) -> bool:
        """Insert ``doc``; False (and nothing written) if its key already exists."""
        try:
            await self.backend.insert(coll, doc)
        except DuplicateKey:
            return False
        return True

    # -- regions ---------------------------------------------------------

    async def create_region(self, code: str, name: str) -> bool:
        """Create a region; False if it already existed (its name is kept)."""
        doc = {"_id": code, "code": code, "name": name, "endpoint": None}
        return await self._insert_new("regions", doc)

    async def set_region_endpoint(self, code: str, endpoint: str) -> None:
        """Set where a region's issuer is reached; NotFound if no such region."""
        if not await self.backend.update("regions", code, {"endpoint": endpoint}):
            raise NotFound(f"region {code!r} not found", field="region")

    async def get_region(self, code: str) -> dict | None:
        """The region document, or None."""
        return await self.backend.get("regions", code)

    async def list_regions(self) -> list[dict]:
        """All regions, sorted by code."""
        return await self.backend.find("regions", {}, sort="_id")

    # -- signing keys ----------------------------------------------------

    async def add_key(self, region: str, kid: str, alg: int, spki: str,
                      nbf: int, exp: int) -> tuple[dict, bool]:
        """Register a region's public key (status "active").

        Idempotent: the same region and kid with the same ``spki`` returns
        ``(existing, False)``; with another ``spki`` it raises Conflict. A public key belongs
        to one region only: an ``spki`` another region holds raises Conflict ``KEY_IN_USE``
        (field ``spki``), and nothing is written.
        """
        doc = {"_id": f"{region}:{kid}", "region": region, "kid": kid, "alg": alg,
               "spki": spki, "nbf": nbf, "exp": exp, "status": KeyStatus.ACTIVE.value, "revoked_at": None}
        existing = await self.backend.get("keys", doc["_id"])
        if existing is None:
            await self._claim_key(region, kid, spki)
            if await self._insert_new("keys", doc):
                return doc, True
            existing = await self.backend.get("keys", doc["_id"])
        if existing is None or existing["spki"] != spki:
            raise Conflict(f"key {kid} of region {region} exists with another public key",
                           field="kid")
        return existing, False

    async def _claim_key(self, region: str, kid: str, spki: str) -> None:
        """Record ``region`` as the owner of ``spki`` (atomic: of two regions registering one key at
        once, one wins); Conflict ``KEY_IN_USE`` if another region holds it. Keys stored before
        owners were recorded are found through their kid (the kid derives from the spki)."""
        in_use = Conflict("this public key is registered to another region", code="KEY_IN_USE", field="spki")
        for other in await self.backend.find("keys", {"kid": kid}):
            if other["spki"] == spki and other["region"] != region:
                raise in_use
        claim = {"_id": hashlib.sha256(spki.encode()).hexdigest(), "region": region}
        if not await self._insert_new("key_owners", claim):
            held = await self.backend.get("key_owners", claim["_id"])
            if held is None or held["region"] != region:
                raise in_use

    async def list_keys(self, region: str | None = None) -> list[dict]:
        """All keys, or one region's, sorted by (region, nbf)."""
        docs = await self.backend.find("keys", {} if region is None else {"region": region})
        return sorted(docs, key=lambda d: (d["region"], d["nbf"], d["kid"]))

    async def get_key(self, region: str, kid: str) -> dict | None:
        """One key, or None."""
        return await self.backend.get("keys", f"{region}:{kid}")

    async def set_key_status(self, region: str, kid: str, status: str, at: int, *,
                             window_end: int | None = None) -> dict:
        """Set a key's status and return the key.

        Revoking records ``revoked_at=at``; revoking again is a no-op that keeps
        the first time. A revoked key never becomes active or retired (Conflict).
        ``window_end`` (retiring): the key's ``exp`` becomes ``min(exp, window_end)``, atomically,
        so retiring again never extends the window the first retirement ended.
        """
        if status not in KEY_STATUSES:
            raise ValueError(f"unknown key status {status!r}")
        _id = f"{region}:{kid}"
        changes: dict[str, Any] = {"status": str(status)}
        if status == KeyStatus.REVOKED:
            changes["revoked_at"] = at
        not_revoked = {"status": {"$in": [KeyStatus.ACTIVE.value, KeyStatus.RETIRED.value]}}
        if window_end is not None:  # first: a crash before the status leaves an active key whose window
            # ended (its issuer retires it again), never a retired one whose window goes on
            await self.backend.update("keys", _id, {"exp": window_end},
                                      expect={**not_revoked, "exp": {"$gt": window_end}})
        updated = await self.backend.update("keys", _id, changes, expect=not_revoked)
        key = await self.backend.get("keys", _id)
        if key is None:
            raise NotFound(f"key {kid} of region {region} not found", field="kid")
        if not updated and status != KeyStatus.REVOKED:
            raise Conflict(f"key {kid} of region {region} is revoked", field="status")
        return key

    # -- credential types -------------------------------------------------

    async def put_type(self, type_id: str, version: int, name: str, schema_text: str,
                       disclosure: dict) -> bool:
        """Publish a credential type version; True if new, False if identical.

        Type versions are immutable: other content under the same version
        raises Conflict.
        """
        doc = {"_id": f"{type_id}@{version}", "id": type_id, "version": version,
               "name": name, "schema": schema_text, "disclosure": disclosure}
        if await self._insert_new("types", doc):
            return True
        if await self.backend.get("types", doc["_id"]) != doc:
            raise Conflict(f"type {type_id} version {version} exists with other content",
                           field="version")
        return False

    async def replace_type(self, type_id: str, version: int, expect_schema: str, name: str, schema_text: str,
                           disclosure: dict) -> bool:
        """Replace a type version's content if its schema is still ``expect_schema`` (the built-in
        catalogue upgrading its own earlier text; see ``Registry.seed``); True if replaced."""
        return await self.backend.update("types", f"{type_id}@{version}",
                                         {"name": name, "schema": schema_text, "disclosure": disclosure},
                                         expect={"schema": expect_schema})

    async def list_types(self) -> list[dict]:
        """All type versions, sorted by (id, version)."""
        docs = await self.backend.find("types", {})
        return sorted(docs, key=lambda d: (d["id"], d["version"]))

    # -- recognition rules -------------------------------------------------

    @staticmethod
    def _rule_doc(kind: str, key: str, items) -> dict:
        if kind not in RULE_KINDS:
            raise ValueError(f"unknown rule kind {kind!r}")
        return {"_id": f"{kind}:{key}", "kind": kind, "key": key, "items": sorted(set(items))}

    async def add_rule(self, kind: str, key: str, items) -> bool:
        """Store a rule entry (``kind`` one of :data:`RULE_KINDS`) unless one is stored: True if
        it was written, False if the stored one is kept (seeding never overwrites a change)."""
        return await self._insert_new("rules", self._rule_doc(kind, key, items))

    async def put_rule(self, kind: str, key: str, items) -> bool:
        """Set a rule entry to ``items`` (kept sorted, without repeats): True if that changed
        what is stored, False if it held exactly these already."""
        doc = self._rule_doc(kind, key, items)
        if await self.backend.get("rules", doc["_id"]) == doc:
            return False
        await self.backend.put("rules", doc)
        return True

    async def list_rules(self) -> list[dict]:
        """Every rule entry, sorted by (kind, key)."""
        docs = await self.backend.find("rules", {})
        return sorted(docs, key=lambda d: (d["kind"], d["key"]))

    # -- trust list -------------------------------------------------------

    async def next_trust_version(self) -> int:
        """The next trust list version number (1, 2, ...)."""
        return await self.backend.next_seq("trust_list")

    async def save_trust_list(self, version: int, signed_b64: str, iat: int, exp: int) -> None:
        """Store a signed trust list; DuplicateKey if the version exists."""
        await self.backend.insert("trust_lists", {"_id": str(version), "version": version,
                                                  "signed": signed_b64, "iat": iat, "exp": exp})

    async def latest_trust_list(self) -> dict | None:
        """The trust list with the highest version, or None."""
        docs = await self.backend.find("trust_lists", {}, sort="version", descending=True, limit=1)
        return docs[0] if docs else None

    async def add_root_announcement(self, version: int, signed_b64: str, old_kid: str, new_kid: str,
                                    at: int) -> None:
        """Record a root rotation: the trust list ``version`` (``signed_b64``), signed by the root
        ``old_kid``, announces ``new_kid``; DuplicateKey if that version is recorded already."""
        await self.backend.insert("root_chain", {"_id": f"{version:012d}", "version": version,
                                                 "signed": signed_b64, "old_kid": old_kid,
                                                 "new_kid": new_kid, "at": at})

    async def root_chain(self) -> list[dict]:
        """Every root rotation recorded, oldest first."""
        return await self.backend.find("root_chain", {}, sort="version")

    # -- credentials -------------------------------------------------------

    async def insert_credential(self, doc: dict) -> None:
        """Store an issued credential; DuplicateKey if its id or (region, request_id) exists."""
        await self.backend.insert("credentials", doc)

    async def get_credential(self, cred_id: str) -> dict | None:
        """One credential, or None."""
        return await self.backend.get("credentials", cred_id)

    async def credentials_naming_photo(self, region: str, digest: str, limit: int = 20) -> list[dict]:
        """Up to ``limit`` of the region's credentials whose ``fields.photo`` is ``digest``, the newest
        issued first (``issued_at``, then id)."""
        return await self.backend.find("credentials", {"region": region, "fields.photo": digest},
                                       sort="issued_at", descending=True, limit=limit)

    async def find_credentials(self, region: str, *, type: str = "", status: str = "", issued_from: int = 0,
                               issued_before: int = 0, holder_hash: str = "", after: tuple[int, str] | None = None,
                               limit: int = 50, fields: tuple[str, ...] | None = None) -> list[dict]:
        """Up to ``limit`` of the region's credentials matching every filter given (``""`` / 0: any;
        ``issued_from`` inclusive, ``issued_before`` exclusive), newest first: by ``issued_at``, then
        ``_id``, both descending, a total order. ``after``: the ``(issued_at, _id)`` of the last one
        answered before; only those after it in that order. ``fields``: only those (top-level names)."""
        base: dict = {"region": region}
        for name, value in (("type", type), ("status", status), ("holder_hash", holder_hash)):
            if value:
                base[name] = value
        window: dict = {}
        if issued_from:
            window["$gte"] = issued_from
        if issued_before:
            window["$lt"] = issued_before
        docs: list[dict] = []
        if after is not None:
            at, last_id = after
            if (not issued_from or at >= issued_from) and (not issued_before or at < issued_before):
                # the rest of the second the last one was issued in, then the seconds before it
                docs = await self.backend.find("credentials", {**base, "issued_at": at, "_id": {"$lt": last_id}},
                                               sort="_id", descending=True, limit=limit, fields=fields)
            window["$lt"] = min(at, window.get("$lt", at))
        if len(docs) < limit:
            docs += await self.backend.find("credentials", {**base, **({"issued_at": window} if window else {})},
                                            sort="issued_at", descending=True, limit=limit - len(docs),
                                            fields=fields)
        return docs

    async def find_credential_by_request(self, region: str, request_id: str | None) -> dict | None:
        """The credential a region issued for this request id, or None."""
        if request_id is None:
            return None
        docs = await self.backend.find("credentials", {"region": region, "request_id": request_id},
                                       limit=1)
        return docs[0] if docs else None

    async def set_credential_status(self, cred_id: str, new_status: str, expect_status: str,
                                    at: int, changes: int | None = None) -> bool:
        """Move a credential from ``expect_status`` to ``new_status`` atomically; with ``changes``,
        also its count of status changes to that number, from the one before (none recorded: the
        first counted change).

        Returns False (nothing changed) if it is missing or not in ``expect_status`` (or its count moved).
        """
        values: dict = {"status": new_status, "status_changed_at": at}
        expect: dict = {"status": expect_status}
        if changes is not None:
            values["status_changes"] = changes
            expect["status_changes"] = changes - 1 if changes > 1 else None
        return await self.backend.update("credentials", cred_id, values, expect=expect)

    async def status_entries(self, region: str, uri: str) -> list[tuple[int, str]]:
        """``(status_idx, status)`` of the region's revoked or suspended credentials whose status list
        is ``uri``, by index (read from the (region, status_uri, status) index, only those two fields)."""
        docs = await self.backend.find(
            "credentials",
            {"region": region, "status_uri": uri, "status": {"$in": [s.value for s in LISTED_CREDENTIAL_STATUSES]}},
            fields=("status_idx", "status"))
        return sorted((d["status_idx"], d["status"]) for d in docs)

    async def status_index_end(self, region: str) -> int:
        """How many status indexes the region has reserved (:meth:`next_status_index`): every index
        given out is below it."""
        doc = await self.backend.get("counters", f"status:{region}")
        return 0 if doc is None else int(doc["n"])

    async def next_status_index(self, region: str) -> int:
        """The region's next status list index: 0, 1, ... Indices are reserved from the shared
        counter in blocks, so issuing needs no write of its own; a block left unused when the
        process stops leaves a gap (entries nobody holds), never a duplicate."""
        async with self._status_lock:
            block = self._status_blocks.get(region)
            if block is None or block[0] >= block[1]:
                end = await self.backend.next_seq(f"status:{region}", STATUS_BLOCK)
                block = self._status_blocks[region] = [end - STATUS_BLOCK, end]
            block[0] += 1
            return block[0] - 1

    # -- API keys ----------------------------------------------------------

    async def put_apikey(self, key_hash: str, doc: dict) -> None:
        """Store an API key record under its hash; DuplicateKey if it exists."""
        await self.backend.insert("apikeys", {**doc, "_id": key_hash})

    async def get_apikey(self, key_hash: str) -> dict | None:
        """The API key record for this hash, or None."""
        return await self.backend.get("apikeys", key_hash)

    async def apikey_secrets(self, key_id: str) -> list[dict]:
        """Every stored secret of one key (its current one, and those rotated away and not yet pruned)."""
        return await self.backend.find("apikeys", {"key_id": key_id})

    async def list_apikeys(self, *, role: str | None = None, region: str | None = None, after: str = "",
                           limit: int = 100) -> list[dict]:
        """Up to ``limit`` keys (the record of each one's current secret), by key id, those past
        ``after``; only ``role``'s and ``region``'s when given."""
        filter: dict = {"retires_at": None, "key_id": {"$gt": after}}
        if role is not None:
            filter["role"] = role
        if region is not None:
            filter["region"] = region
        return await self.backend.find("apikeys", filter, sort="key_id", limit=limit)

    async def update_apikey(self, key_id: str, values: dict, *, current_only: bool = False) -> int:
        """Set ``values`` on every secret of a key (with ``current_only``, on its current one only):
        how many were changed."""
        filter: dict = {"key_id": key_id, **({"retires_at": None} if current_only else {})}
        changed = 0
        for doc in await self.backend.find("apikeys", filter, fields=("key_id",)):
            changed += await self.backend.update("apikeys", doc["_id"], values)
        return changed

    async def retire_apikey_secret(self, key_hash: str, at: int) -> bool:
        """A key's secret stops working at ``at`` (it was rotated): False if it was retired already."""
        return await self.backend.update("apikeys", key_hash, {"retires_at": at}, expect={"retires_at": None})

    async def prune_apikey_secrets(self, key_id: str, before: int) -> int:
        """Remove a key's secrets retired before ``before``."""
        return await self.backend.delete("apikeys", {"key_id": key_id, "retires_at": {"$lt": before}})

    async def delete_apikey(self, key_id: str) -> int:
        """Remove a key, every secret of it: how many."""
        return await self.backend.delete("apikeys", {"key_id": key_id})

    async def apikeys_generation(self) -> int:
        """A number that changes whenever a key is disabled, enabled, rotated or deleted (gateways
        drop the keys they hold when it moves)."""
        doc = await self.backend.get("counters", "apikeys")
        return 0 if doc is None else int(doc["n"])

    async def apikeys_changed(self) -> int:
        """Move :meth:`apikeys_generation` on; the new value."""
        return await self.backend.next_seq("apikeys")

    # -- request counters (quotas) -------------------------------------------

    async def add_counts(self, steps: Mapping[str, int], expires_at: Mapping[str, int]) -> dict[str, int]:
        """Add to shared request counters (one write); each counter's total right after. A new
        counter is kept until ``expires_at[name]`` (then :meth:`prune_counts` removes it)."""
        if not steps:
            return {}
        return await self.backend.increment("quota_counters", steps,
                                            {name: {"expires_at": expires_at[name]} for name in steps})

    async def get_counts(self, names: list[str]) -> dict[str, int]:
        """The totals of these counters (a missing one: absent)."""
        found: dict[str, int] = {}
        for start in range(0, len(names), 500):
            for doc in await self.backend.find("quota_counters", {"_id": {"$in": names[start:start + 500]}},
                                               fields=("n",)):
                found[doc["_id"]] = int(doc["n"])
        return found

    async def prune_counts(self, now: int) -> int:
        """Remove the counters expired before ``now``: how many."""
        return await self.backend.delete("quota_counters", {"expires_at": {"$lt": now}})

    # -- presentation tokens ------------------------------------------------

    async def mark_token_used(self, token_id: str, at: int) -> bool:
        """Record a one-time token's use: True the first time, False afterwards."""
        return await self._insert_new("tokens", {"_id": token_id, "used_at": at})

    # -- the trail (ecert.rules.trail: one hash chain per region) ------------

    @staticmethod
    def trail_key(region: str, seq: int) -> str:
        """A trail entry's ``_id``: its place in its region's chain (sorted as text, sorted by ``seq``)."""
        return f"{region}:{seq:0{TRAIL_SEQ_DIGITS}d}"

    @staticmethod
    def _region_keys(region: str, after: int = 0) -> dict:
        """The ``_id`` range of ``region``'s entries past ``after``."""
        return {"$gt": Store.trail_key(region, after), "$lt": f"{region};"}  # ";" follows ":"

    async def append_trail(self, region: str, entries: list[dict], texts: list[str] | None = None) -> int:
        """Append chained entries (consecutive ``seq`` after the chain's last) in one durable write,
        with the region's head; stops at the first whose place or ``id`` is taken (returns how many
        were written: a prefix, so the chain stays whole). ``texts``: the entries' JSON texts as
        :func:`ecert.rules.trail.chained` wrote them (without their closing brace), to store as they are."""
        if not entries:
            return 0
        first = entries[0]["seq"]
        if any(e["seq"] != seq for seq, e in enumerate(entries, first)):
            raise ValueError("a chain's entries have consecutive seq")
        keys = [self.trail_key(region, seq) for seq in range(first, first + len(entries))]
        if texts is not None:
            texts = [f'{text},"_id":"{key}"}}' for text, key in zip(texts, keys)]
        last = entries[-1]
        head = {"_id": region, "seq": last["seq"], "hash": last["hash"]}
        try:
            for e, key in zip(entries, keys):
                e["_id"] = key  # for the write only
            return await self.backend.insert_chain("trail", entries, ("trail_heads", head), texts=texts)
        finally:
            for e in entries:
                e.pop("_id", None)

    async def trail_last(self, region: str) -> dict | None:
        """The region's last entry (the highest ``seq``), or None."""
        docs = await self.backend.find("trail", {"_id": self._region_keys(region)}, sort="_id", descending=True,
                                       limit=1)
        return _entry(docs[0]) if docs else None

    async def trail_head(self, region: str) -> dict | None:
        """What the region recorded as its chain's last entry, ``{"seq", "hash"}``, or None."""
        return await self.backend.get("trail_heads", region)

    async def trail_entries(self, region: str, after: int = 0, limit: int = 1000) -> list[dict]:
        """Up to ``limit`` of the region's entries past ``seq`` ``after``, in ``seq`` order."""
        docs = await self.backend.find("trail", {"_id": self._region_keys(region, after)}, sort="_id", limit=limit)
        return [_entry(d) for d in docs]

    async def trail_places(self, region: str, after: int = 0, limit: int = 1000) -> list[tuple[int, dict]]:
        """Up to ``limit`` of the region's entries past place ``after``, each with its place in the chain
        as its key says (what ``ecert audit verify`` walks: an entry renumbered shows there)."""
        docs = await self.backend.find("trail", {"_id": self._region_keys(region, after)}, sort="_id", limit=limit)
        return [(int(d["_id"].rpartition(":")[2]), _entry(d)) for d in docs]

    async def trail_by_ids(self, region: str, ids: list[str]) -> dict[str, dict]:
        """The region's entries with these ``id``s, by id."""
        found: dict[str, dict] = {}
        for start in range(0, len(ids), 500):
            for doc in await self.backend.find("trail", {"region": region, "id": {"$in": ids[start:start + 500]}}):
                found[doc["id"]] = _entry(doc)
        return found

    async def credential_trail(self, region: str, credential_id: str, after: int = 0, limit: int = 100) -> list[dict]:
        """Up to ``limit`` of one credential's entries in its region's chain past ``seq`` ``after``, in order."""
        docs = await self.backend.find("trail", {"region": region, "credential_id": credential_id,
                                                 "seq": {"$gt": after}}, sort="seq", limit=limit)
        return [_entry(d) for d in docs]

    async def token_used(self, token_id: str) -> bool:
        """Whether a one-time token was used (:meth:`mark_token_used`)."""
        return await self.backend.exists("tokens", token_id)

    async def add_presentation(self, doc: dict) -> None:
        """Keep a show code (its document, ``state`` "live"); DuplicateKey if its token id exists."""
        await self.backend.insert("presentations", doc)

    async def get_presentation(self, token_id: str) -> dict | None:
        """One show code, or None."""
        return await self.backend.get("presentations", token_id)

    async def end_presentation(self, token_id: str, state: str, at: int) -> bool:
        """A live show code is no longer (``state``, e.g. "expired"): its text is dropped. False if
        it was not live (or is unknown)."""
        return await self.backend.update("presentations", token_id, {"state": state, "text": "", "ended_at": at},
                                         expect={"state": "live"})

    async def live_presentations(self, region: str, limit: int) -> list[dict]:
        """Up to ``limit`` of a region's live show codes, those that expire first first."""
        return await self.backend.find("presentations", {"region": region, "state": "live"}, sort="exp",
                                       limit=limit)

    # -- the photo library --------------------------------------------------

    async def add_photo(self, region: str, digest: str, media_type: str, data: bytes, width: int, height: int,
                        at: int) -> bool:
        """Keep a photo in a region's library, once: True if it is new, False if the region held it."""
        return await self._insert_new("photos", {
            "_id": f"{region}:{digest}", "region": region, "digest": digest, "media_type": media_type,
            "bytes": base64.b64encode(data).decode("ascii"), "width": width, "height": height, "at": at})

    async def get_photo(self, region: str, digest: str) -> dict | None:
        """A region's photo (``bytes`` as bytes), or None."""
        doc = await self.backend.get("photos", f"{region}:{digest}")
        if doc is not None:
            doc["bytes"] = base64.b64decode(doc["bytes"])
        return doc

    async def has_photo(self, region: str, digest: str) -> bool:
        """Whether a region's library holds this photo (without reading it)."""
        return await self.backend.exists("photos", f"{region}:{digest}")

    async def set_photo_owner(self, region: str, id_hash: str, digest: str, credential_id: str, at: int,
                              order: int = 0) -> None:
        """Record that ``credential_id``, issued at ``at`` in ``region`` to the citizen whose ID number hashes
        to ``id_hash``, shows the portrait ``digest``: one row of its own, inserted once (in the same
        group commit as concurrent writes; the same credential again writes nothing). No read, no
        compare-and-set: :meth:`get_photo_owner` picks the newest; ``order`` (the credential's status
        index: the region's count of issuances) tells apart issuances in the same second."""
        await self._insert_new("photo_owners", {"_id": f"{region}:{id_hash}:{at:012d}:{order:012d}", "region": region,
                                                "digest": digest, "credential_id": credential_id, "at": at})

    async def get_photo_owner(self, region: str, id_hash: str) -> dict | None:
        """The portrait on file in ``region`` for the ID number hashing to ``id_hash``: that of the
        newest issuance (the latest ``at``, then ``order``), or None."""
        prefix = f"{region}:{id_hash}:"
        docs = await self.backend.find("photo_owners", {"_id": {"$gt": prefix, "$lt": prefix[:-1] + ";"}},
                                       sort="_id", descending=True, limit=1)  # ";" follows ":"
        return docs[0] if docs else None
