"""API keys: 256-bit random secrets shown once; the store keeps only their SHA-256 (a slow
hash adds nothing for secrets of that strength). The store is passed in (any object with
the :class:`ecert.store.Store` methods used here)."""

from __future__ import annotations

import re
import secrets
import time

from ..errors import InvalidRequest, Unauthenticated
from ..limits import MAX_API_KEY, MAX_ORG
from .access import Principal, check_key_role, hash_key

KEY_PREFIX = "ek_"

_NOT_IN_ORG = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]")
ORG_RULE = f"at most {MAX_ORG} characters, without control characters, line separators or lone surrogates"
"""What :func:`is_org_name` asks, for the error messages."""


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


async def create_api_key(store, role: str, region: str | None = None, label: str = "", *, org: str = "",
                         now: int | None = None) -> tuple[str, dict]:
    """Create a key; returns the secret (shown once) and the stored record (hash only). ``org``: the
    organisation that holds it (a hotel, a police unit, an agency), shown in the trail of every check it makes."""
    check_key_role(role, region)
    org = check_org(org)
    if region and await store.get_region(region) is None:
        raise InvalidRequest(f"unknown region {region}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(secret)
    doc = {"key_id": digest[:12], "role": str(role), "region": region or "", "label": label, "org": org,
           "created_at": int(time.time()) if now is None else now, "disabled": False}
    await store.put_apikey(digest, doc)
    return secret, doc


async def authenticate(store, key: str | None) -> Principal:
    if not key or len(key) > MAX_API_KEY:
        raise Unauthenticated("an API key is required: Authorization: Bearer KEY")
    doc = await store.get_apikey(hash_key(key))
    if doc is None or doc.get("disabled"):
        raise Unauthenticated("unknown or disabled API key")
    return Principal(doc["role"], doc.get("region") or "", doc["key_id"], doc.get("org") or "")
