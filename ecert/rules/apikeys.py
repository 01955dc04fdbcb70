"""API keys and their lifecycle: created, listed, disabled, enabled, rotated, deleted.

A key's secret is 256 random bits shown once; the store keeps only its SHA-256 (a slow hash adds
nothing for secrets of that strength), one document per secret, each carrying the key's whole
record and its ``key_id`` (12 hex digits, what lists, the trail and the routes name it by). A
rotation adds a secret and retires the old one at the end of an overlap; every other change is
made on each secret of the key. The store is passed in (any object with the
:class:`ecert.store.Store` methods used here); time is ``now`` (epoch seconds).

Who manages which keys (:func:`require_creator`, :func:`require_manager`): an admin every key; an
agency the ``agency`` keys of its own region (its colleagues', its own), and no other: it may not
create a key of another role (a hotel's key is the admin's to give: a hotel is not bound to a
region) nor one above its role's quota. Keys it may not manage are not found (404), as another
region's credentials are; creating one it may not is 403, and so is enabling one an admin disabled.
A key an agency creates has no more than the agency's own (expiry, purposes, quota: :func:`_within_own`).

A key may be narrowed to some of its role's purposes (``purposes``: the verification routes then
refuse the others with 403 ``PURPOSE_NOT_ALLOWED``), given an expiry (``expires_at``), and a quota
of its own (``quota``: ``per_minute``, ``per_day``; 0 is no limit) over its role's default.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..errors import InvalidRequest, NotFound, PermissionDenied, Unauthenticated
from ..limits import MAX_API_KEY, MAX_EPOCH, MAX_KEY_LABEL, MAX_ORG, MAX_QUOTA
from ..vocab import KEY_ROLES, ROLE_PURPOSES, Role
from .access import Principal, check_key_role, hash_key, parse_purpose
from .schema import check_region_code

KEY_PREFIX = "ek_"
KEY_ID_LENGTH = 12
"""Hex digits of a key's id (the first of its first secret's SHA-256)."""
_KEY_ID_RE = re.compile(rf"[0-9a-f]{{{KEY_ID_LENGTH}}}")

_NOT_IN_ORG = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]")
ORG_RULE = f"at most {MAX_ORG} characters, without control characters, line separators or lone surrogates"
"""What :func:`is_org_name` asks, for the error messages."""

QUOTA_MEMBERS = ("per_minute", "per_day")
_DISABLED_STATE = ("disabled", "disabled_by_admin")
"""A record's members :func:`set_disabled` changes (a rotation racing it copies them)."""


@dataclass(frozen=True, slots=True)
class Quota:
    """Requests a key may make in a minute and in a day (China time); 0: no limit."""

    per_minute: int = 0
    per_day: int = 0


DEFAULT_QUOTAS: dict[str, Quota] = {
    Role.ADMIN: Quota(0, 0),  # the operator is never locked out of disabling a leaked key
    Role.AGENCY: Quota(1200, 200_000),
    Role.HOTEL: Quota(600, 20_000),
    Role.TRAFFIC_POLICE: Quota(600, 20_000),
    Role.INTEGRATOR: Quota(1200, 200_000),
}
"""Each role's quota when the configuration names none (``ECERT_QUOTA_<ROLE>_PER_MINUTE`` /
``_PER_DAY``)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What an accepted secret gives: who calls (``principal``), until when (``until``: refused
    from that epoch second on, the key's expiry or the end of a rotated secret's overlap; None:
    no end), and the key's own quota members (None: its role's)."""

    principal: Principal
    until: int | None = None
    per_minute: int | None = None
    per_day: int | None = None

    def quota(self, defaults: Mapping[str, Quota]) -> Quota:
        """The quota that applies: the key's own members over its role's default."""
        base = defaults.get(self.principal.role) or Quota()
        if self.per_minute is None and self.per_day is None:
            return base
        return Quota(base.per_minute if self.per_minute is None else self.per_minute,
                     base.per_day if self.per_day is None else self.per_day)


# -- checks of what a request says -------------------------------------------------------------

def is_org_name(org: object) -> bool:
    """Whether ``org`` may name an organisation (a key's ``org``, a trail entry's ``actor_org``):
    text of at most MAX_ORG characters, none of them a control character, U+2028 / U+2029 (line
    breaks in a log or a page) or a lone surrogate (what invalid UTF-8 on a command line decodes
    to: no UTF-8 text, so neither a store nor a hash could take it)."""
    return isinstance(org, str) and len(org) <= MAX_ORG and _NOT_IN_ORG.search(org) is None


def check_org(org: str) -> str:
    """An organisation's name as a key carries it (``--org``): the checker the holder's access log
    names. Leading and trailing spaces go; the rest must be :func:`is_org_name`."""
    if not isinstance(org, str):
        raise InvalidRequest("the organisation must be text", field="org")
    org = org.strip()
    if not is_org_name(org):
        raise InvalidRequest(f"the organisation is {ORG_RULE}", field="org")
    return org


def check_label(label: str) -> str:
    """A key's free label (what it is for): text of at most MAX_KEY_LABEL characters, as an org name."""
    if not isinstance(label, str) or len(label) > MAX_KEY_LABEL or _NOT_IN_ORG.search(label):
        raise InvalidRequest(f"the label is at most {MAX_KEY_LABEL} characters, without control characters",
                             field="label")
    return label.strip()


def check_key_id(key_id: object) -> str:
    """A key's id as a path names it: any text that is not one is 404, as an unknown id is."""
    if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
        raise NotFound("no such API key")
    return key_id


def parse_time(text: object, field: str) -> int:
    """An RFC 3339 date-time with its offset (``2026-01-31T00:00:00Z``, ``…+08:00``) as epoch seconds."""
    if not isinstance(text, str) or len(text) > 40:
        raise InvalidRequest(f"{field} must be an RFC 3339 date-time", field=field)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{field} must be an RFC 3339 date-time, such as 2026-01-31T00:00:00Z",
                             field=field) from None
    if at.tzinfo is None or "T" not in text.upper():
        raise InvalidRequest(f"{field} needs a date, a time and an offset (Z or +08:00)", field=field)
    seconds = int(at.timestamp())
    if not 0 < seconds < MAX_EPOCH:
        raise InvalidRequest(f"{field} is out of range", field=field)
    return seconds


def check_purposes(role: str, purposes: object) -> list[str]:
    """The purposes a key is narrowed to: a list of its role's purposes (without repeats), at least one."""
    if not isinstance(purposes, list) or not purposes:
        raise InvalidRequest("purposes must be a list of purposes, at least one", field="purposes")
    allowed = ROLE_PURPOSES.get(role, ())
    out: list[str] = []
    for text in purposes:
        if not isinstance(text, str):
            raise InvalidRequest("purposes must be a list of purposes", field="purposes")
        purpose = parse_purpose(text)
        if purpose not in allowed:
            raise InvalidRequest(f"role {role} may not verify for {purpose}: purposes are among "
                                 f"{', '.join(allowed)}", field="purposes")
        if purpose.value not in out:
            out.append(purpose.value)
    return out


def check_quota(quota: object, role: str, actor: Principal | None, defaults: Mapping[str, Quota]) -> dict:
    """A key's own quota: ``per_minute`` and/or ``per_day``, whole numbers from 0 (no limit) to
    MAX_QUOTA. An agency may not give more than the role's default (403)."""
    if not isinstance(quota, dict) or not quota.keys() <= set(QUOTA_MEMBERS):
        raise InvalidRequest(f"quota is an object with {' and/or '.join(QUOTA_MEMBERS)}", field="quota")
    base = defaults.get(role) or Quota()
    out = {}
    for name, value in quota.items():
        if type(value) is not int or not 0 <= value <= MAX_QUOTA:
            raise InvalidRequest(f"quota {name} must be a whole number from 0 (no limit) to {MAX_QUOTA}",
                                 field="quota")
        limit = getattr(base, name)
        if actor is not None and actor.role != Role.ADMIN and limit and not 0 < value <= limit:
            raise PermissionDenied(f"only an admin may give a key more than its role's quota ({name} {limit})",
                                   field="quota")
        out[name] = value
    return out


# -- who manages which keys ------------------------------------------------------------------------

def require_creator(actor: Principal, role: str, region: str) -> None:
    """``actor`` may create a key of ``role`` for ``region`` (module docstring), else 403."""
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.AGENCY:
        if role != Role.AGENCY:
            raise PermissionDenied(f"an agency creates keys for its region's agencies, not for role {role}",
                                   field="role")
        if region != actor.region:
            raise PermissionDenied(f"an agency of {actor.region} may not create keys for region {region}",
                                   field="region")
        return
    raise PermissionDenied(f"role {actor.role or '(none)'} may not manage API keys")


def may_manage(actor: Principal, doc: Mapping) -> bool:
    """Whether ``actor`` manages the key ``doc`` (a stored record)."""
    if actor.role == Role.ADMIN:
        return True
    return actor.role == Role.AGENCY and doc.get("role") == Role.AGENCY and (doc.get("region") or "") == actor.region


def require_manager(actor: Principal, doc: Mapping | None) -> Mapping:
    """The key ``doc`` if ``actor`` manages it; else 404, as for a key that does not exist."""
    if doc is None or not may_manage(actor, doc):
        raise NotFound("no such API key")
    return doc


def listed_for(actor: Principal) -> dict:
    """The store's filter of the keys ``actor`` lists (``role`` / ``region``)."""
    if actor.role == Role.ADMIN:
        return {}
    if actor.role == Role.AGENCY:
        return {"role": str(Role.AGENCY), "region": actor.region}
    raise PermissionDenied(f"role {actor.role or '(none)'} may not manage API keys")


# -- the record ----------------------------------------------------------------------------------------

def status(doc: Mapping, now: int) -> str:
    """``active``, ``disabled`` or ``expired``."""
    if doc.get("disabled"):
        return "disabled"
    expires = doc.get("expires_at")
    return "expired" if expires is not None and now >= expires else "active"


def public_record(doc: Mapping, now: int) -> dict:
    """What may be shown of a key: never its secret, nor any hash of it. Times as epoch seconds."""
    return {"id": doc["key_id"], "role": doc["role"], "region": doc.get("region") or None,
            "org": doc.get("org") or "", "label": doc.get("label") or "", "status": status(doc, now),
            "created_at": doc.get("created_at"), "expires_at": doc.get("expires_at"),
            "purposes": list(doc.get("purposes") or []), "quota": dict(doc.get("quota") or {}),
            "last_used_at": doc.get("last_used_at"), "rotated_at": doc.get("rotated_at"),
            "created_by": doc.get("created_by") or None}


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


def _new_secret() -> tuple[str, str]:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_key(secret)


# -- the lifecycle -------------------------------------------------------------------------------------

async def create_api_key(store, role: str, region: str | None = None, label: str = "", *, org: str = "",
                         now: int | None = None, expires_at: int | str | None = None, purposes: list[str] | None = None,
                         quota: Mapping[str, int] | None = None, created_by: str = "") -> tuple[str, dict]:
    """Create a key; returns the secret (shown once) and the stored record (hash only). ``org``: the
    organisation that holds it (a hotel, a police unit, an agency), shown in the trail of every check
    it makes; ``expires_at`` (epoch seconds, or RFC 3339 text), ``purposes`` (some of the role's), ``quota`` (its own
    members; checked by the caller, :func:`check_quota`). No check of who asks: the CLI writes the
    first admin key with it; the routes call :func:`create_for`."""
    check_key_role(role, region)
    org = check_org(org)
    label = check_label(label)
    now = _now(now)
    if region and await store.get_region(region) is None:
        raise NotFound(f"unknown region {region}", code="REGION_UNKNOWN", field="region")
    if isinstance(expires_at, str):
        expires_at = parse_time(expires_at, "expires_at")
    if expires_at is not None and (type(expires_at) is not int or not now < expires_at < MAX_EPOCH):
        raise InvalidRequest("expires_at must be in the future", field="expires_at")
    purposes = check_purposes(role, purposes) if purposes is not None else []
    quota = check_quota(dict(quota), role, None, DEFAULT_QUOTAS) if quota else {}
    for _ in range(8):  # a key id taken already (48 bits: all but never) is drawn again
        secret, digest = _new_secret()
        if not await store.apikey_secrets(digest[:KEY_ID_LENGTH]):
            break
    doc = {"key_id": digest[:KEY_ID_LENGTH], "role": str(role), "region": region or "", "label": label, "org": org,
           "created_at": now, "disabled": False, "expires_at": expires_at, "purposes": purposes,
           "quota": dict(quota or {}), "created_by": created_by, "last_used_at": None}
    await store.put_apikey(digest, doc)
    return secret, doc


async def create_for(store, actor: Principal, body: Mapping, *, defaults: Mapping[str, Quota],
                     now: int) -> tuple[str, dict]:
    """``POST /v1/api-keys``: check ``body`` (``role``, ``region``?, ``org``?, ``label``?,
    ``expires_at``? RFC 3339, ``purposes``?, ``quota``?) and who asks, then create the key."""
    role = body.get("role")
    if not isinstance(role, str) or role not in KEY_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(KEY_ROLES)}", field="role")
    region = body.get("region") or ""
    if not isinstance(region, str):
        raise InvalidRequest("region must be a region code", field="region")
    if role == Role.AGENCY and not region:
        raise InvalidRequest("an agency key is bound to one region: give region", field="region")
    if region:
        region = check_region_code(region)
    require_creator(actor, role, region)
    org, label = body.get("org") or "", body.get("label") or ""
    expires = body.get("expires_at")
    expires_at = None if expires is None else parse_time(expires, "expires_at")
    purposes = body.get("purposes")
    quota = body.get("quota")
    quota = check_quota(quota, role, actor, defaults) if quota is not None else {}
    if actor.role != Role.ADMIN:
        expires_at, purposes, quota = await _within_own(store, actor, role, expires_at, purposes, quota, defaults)
    return await create_api_key(store, role, region or None, label, org=org, now=now, expires_at=expires_at,
                                purposes=purposes, quota=quota, created_by=actor.key_id)


async def _within_own(store, actor: Principal, role: str, expires_at: int | None, purposes: list | None,
                      quota: dict, defaults: Mapping[str, Quota]) -> tuple[int | None, list | None, dict]:
    """A key an agency creates has no more than the agency's own key: it expires no later, keeps
    to its purposes, and has no more of a quota (each inherited when not given; more is 403), so
    a key given for a while, for some purposes or with a small quota makes none that escapes it."""
    own = [d for d in await store.apikey_secrets(actor.key_id) if d.get("retires_at") is None]
    if not own:
        raise PermissionDenied("the API key that asks is no longer current")
    own_doc = max(own, key=lambda d: d.get("rotated_at") or 0)
    own_expiry = own_doc.get("expires_at")
    if own_expiry is not None:
        if expires_at is None:
            expires_at = own_expiry
        elif expires_at > own_expiry:
            raise PermissionDenied("an agency's key may not create one that expires after it does", field="expires_at")
    own_purposes = list(own_doc.get("purposes") or [])
    if own_purposes:
        if purposes is None:
            purposes = [p for p in own_purposes if p in ROLE_PURPOSES.get(role, ())]
        elif not set(check_purposes(role, purposes)) <= set(own_purposes):
            raise PermissionDenied("an agency's key may not create one for purposes it is not allowed",
                                   field="purposes")
    own_quota = Grant(actor, None, *((own_doc.get("quota") or {}).get(n) for n in QUOTA_MEMBERS)).quota(defaults)
    base = defaults.get(role) or Quota()
    quota = dict(quota)
    for name in QUOTA_MEMBERS:
        mine, given = getattr(own_quota, name), quota.get(name)
        if mine and given is None and (getattr(base, name) == 0 or getattr(base, name) > mine):
            quota[name] = mine  # inherited: the role's default would be more than its own
        elif mine and given is not None and not 0 < given <= mine:
            raise PermissionDenied(f"an agency's key may not give a key more than its own quota ({name} {mine})",
                                   field="quota")
    return expires_at, purposes, quota


async def _current(store, actor: Principal, key_id: str) -> tuple[dict, list[dict]]:
    """A key's current record (that of its newest secret) and every secret of it; 404 for a key
    that does not exist or that ``actor`` does not manage."""
    docs = await store.apikey_secrets(check_key_id(key_id))
    current = [d for d in docs if d.get("retires_at") is None]
    doc = require_manager(actor, max(current, key=lambda d: d.get("rotated_at") or 0) if current else None)
    return dict(doc), docs


async def list_for(store, actor: Principal, *, after: str = "", limit: int = 100,
                   now: int) -> tuple[list[dict], str | None]:
    """``GET /v1/api-keys``: the keys ``actor`` manages, by id, past the cursor ``after`` (a key
    id); and the cursor of the next page (None: no more)."""
    if after and not (isinstance(after, str) and _KEY_ID_RE.fullmatch(after)):
        raise InvalidRequest("cursor must be the next_cursor of the page before", field="cursor")
    docs = await store.list_apikeys(**listed_for(actor), after=after, limit=limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    records = {d["key_id"]: d for d in docs}  # one per key, even were two of its secrets current
    return [public_record(d, now) for d in records.values()], (docs[-1]["key_id"] if more and docs else None)


async def set_disabled(store, actor: Principal, key_id: str, disabled: bool, *, now: int) -> dict:
    """``:disable`` / ``:enable`` (each again changes nothing): the key's record. A key an admin
    disabled (a leaked one) is enabled again by an admin only: not by the agencies that manage it
    (403), nor so by itself through a colleague's key."""
    doc, _ = await _current(store, actor, key_id)
    by_admin = bool(doc.get("disabled_by_admin"))
    if not disabled and by_admin and actor.role != Role.ADMIN:
        raise PermissionDenied("an admin disabled this API key: only an admin may enable it again", field="id")
    values = {"disabled": disabled, "disabled_by_admin": disabled and (by_admin or actor.role == Role.ADMIN)}
    if any(bool(doc.get(name)) != value for name, value in values.items()):
        for _ in range(2):  # again: a secret a rotation put meanwhile, copied from the record before
            await store.update_apikey(doc["key_id"], values)
        await store.apikeys_changed()
        doc.update(values)
    return public_record(doc, now)


async def rotate(store, actor: Principal, key_id: str, *, overlap: int, now: int) -> tuple[str, dict]:
    """``:rotate``: a new secret (shown once) for the same key; the one it replaces keeps working
    ``overlap`` seconds more (0: it stops now), older ones no longer than they did. Secrets retired
    before now are pruned."""
    doc, _ = await _current(store, actor, key_id)
    secret, digest = _new_secret()
    fresh = {k: v for k, v in doc.items() if k not in ("_id", "retires_at")}
    fresh["rotated_at"] = now
    await store.put_apikey(digest, fresh)
    # every other current secret retires (of two rotations at once, the same one stays current for both)
    current = [d for d in await store.apikey_secrets(doc["key_id"]) if d.get("retires_at") is None]
    kept = max(current, key=lambda d: (d.get("rotated_at") or 0, d["_id"]))
    for old in current:
        if old is not kept:
            await store.retire_apikey_secret(old["_id"], now + max(0, overlap))
    # a disable or enable made between the copy and the retirement: the new secret follows it. Read
    # before this rotation prunes (with no overlap the old secret is pruned at once: gone by then,
    # it would look deleted)
    state = await store.get_apikey(doc["_id"])
    ids = [d["_id"] for d in await store.apikey_secrets(doc["key_id"])]
    if not ids or (state is None and ids == [digest]):
        # deleted meanwhile (every secret gone, or all but the one just put): the key stays deleted
        if ids:
            await store.delete_apikey(doc["key_id"])
        await store.apikeys_changed()
        raise NotFound("no such API key")
    await store.prune_apikey_secrets(doc["key_id"], now + 1)  # those refused already
    changed = {name: bool(state.get(name)) for name in _DISABLED_STATE
               if state is not None and bool(state.get(name)) != bool(fresh.get(name))}
    if changed:
        await store.update_apikey(doc["key_id"], changed)
        fresh.update(changed)
    await store.apikeys_changed()
    return secret, public_record(fresh, now)


async def delete(store, actor: Principal, key_id: str) -> None:
    """``DELETE``: the key and all its secrets are gone."""
    doc, _ = await _current(store, actor, key_id)
    await store.delete_apikey(doc["key_id"])
    await store.apikeys_changed()


async def record_use(store, uses: Mapping[str, int]) -> None:
    """Record each key's last use (key id -> epoch seconds) on its current secret's record."""
    for key_id, at in uses.items():
        await store.update_apikey(key_id, {"last_used_at": at}, current_only=True)


async def authenticate(store, key: str | None, *, now: int | None = None) -> Principal:
    """Who presents this secret (:func:`grant`'s principal)."""
    return (await grant(store, key, now=now)).principal


async def grant(store, key: str | None, *, now: int | None = None) -> Grant:
    """The grant of a presented secret: 401 for no key, an unknown or disabled one, and one past its
    key's expiry or its rotation overlap."""
    if not key or len(key) > MAX_API_KEY:
        raise Unauthenticated("an API key is required: Authorization: Bearer KEY")
    doc = await store.get_apikey(hash_key(key))
    if doc is None or doc.get("disabled"):
        raise Unauthenticated("unknown or disabled API key")
    ends = [t for t in (doc.get("expires_at"), doc.get("retires_at")) if t is not None]
    until = min(ends) if ends else None
    if until is not None and _now(now) >= until:
        raise Unauthenticated("this API key has expired" if until == doc.get("expires_at")
                              else "this API key was rotated and its overlap has ended")
    quota = doc.get("quota") or {}
    principal = Principal(doc["role"], doc.get("region") or "", doc["key_id"], doc.get("org") or "",
                          tuple(doc.get("purposes") or ()))
    return Grant(principal, until, quota.get("per_minute"), quota.get("per_day"))
