"""Principals, API keys and the authorisation rules, written once.

API keys are 256-bit random secrets shown once; the store keeps only their
SHA-256 (a slow hash adds nothing for secrets of that strength). Roles:
``admin``; ``agency`` (bound to one region); ``hotel``; ``traffic_police``;
``integrator``; and ``service``, used only between the suite's own processes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from .errors import InvalidRequest, PermissionDenied, Unauthenticated

ROLES = ("admin", "agency", "hotel", "traffic_police", "integrator")
VERIFY_ROLES = ("admin", "agency", "hotel", "traffic_police", "integrator")
KEY_PREFIX = "ek_"
MAX_KEY_LEN = 128


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    region: str = ""
    key_id: str = ""

    def may_manage(self, region: str) -> bool:
        """Admin, or the agency (or the suite's own service) of ``region``."""
        return self.role == "admin" or (self.role in ("agency", "service") and self.region == region)


def require_role(p: Principal, *roles: str) -> None:
    if p.role not in roles:
        raise PermissionDenied(f"role {p.role or '(none)'} may not do this")


def require_region(p: Principal, region: str) -> None:
    if not p.may_manage(region):
        raise PermissionDenied(f"role {p.role or '(none)'} may not act for region {region}")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_role(role: str, region: str | None) -> None:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if role == "agency" and not region:
        raise InvalidRequest("an agency key is bound to one region: give --region")


async def create_api_key(store, role: str, region: str | None = None, label: str = "") -> tuple[str, dict]:
    """Create a key; returns the secret (shown once) and the stored record (hash only)."""
    check_role(role, region)
    if region and await store.get_region(region) is None:
        raise InvalidRequest(f"unknown region {region}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(secret)
    doc = {"key_id": digest[:12], "role": role, "region": region or "", "label": label,
           "created_at": int(time.time()), "disabled": False}
    await store.put_apikey(digest, doc)
    return secret, doc


async def authenticate(store, key: str | None) -> Principal:
    if not key or len(key) > MAX_KEY_LEN:
        raise Unauthenticated("an API key is required: Authorization: Bearer KEY")
    doc = await store.get_apikey(hash_key(key))
    if doc is None or doc.get("disabled"):
        raise Unauthenticated("unknown or disabled API key")
    return Principal(doc["role"], doc.get("region") or "", doc["key_id"])
