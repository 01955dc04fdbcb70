"""API keys: 256-bit random secrets shown once; the store keeps only their SHA-256 (a slow
hash adds nothing for secrets of that strength). The store is passed in (any object with
the :class:`ecert.store.Store` methods used here)."""

from __future__ import annotations

import secrets
import time

from ..errors import InvalidRequest, Unauthenticated
from ..limits import MAX_API_KEY, MAX_ORG
from .access import Principal, check_key_role, hash_key

KEY_PREFIX = "ek_"


def check_org(org: str) -> str:
    """An organisation's name as a key carries it (``--org``): the checker the holder's access log
    names. At most MAX_ORG characters, without control characters; leading and trailing spaces go."""
    if not isinstance(org, str):
        raise InvalidRequest("the organisation must be text", field="org")
    org = org.strip()
    if len(org) > MAX_ORG or any(ch < " " or ch in "\x7f\u2028\u2029" for ch in org):
        raise InvalidRequest(f"the organisation is at most {MAX_ORG} characters, without control characters",
                             field="org")
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
