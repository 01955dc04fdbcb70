"""Principals and the authorisation rules, written once.

Every check of who may do what is a function here; the gateway checks early (a clear 403
before any backend call) and the services check again with the same functions, so a call
that reaches a service some other way meets the same rules. Roles: see
:class:`ecert.vocab.Role`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..errors import InvalidRequest, NotFound, PermissionDenied
from ..vocab import ISSUE_ROLES, KEY_ROLES, ROLE_PURPOSES, Purpose, Role

SERVICE_KEY_ID = "internal"
OTHER_REGION_AGENCY = "other_region_agency"
"""The type document's disclosure entry naming the role whose fields an agency sees in another
region's credentials, e.g. ``"other_region_agency": ["traffic_police"]``; see :func:`disclosure_role`."""
_AGENCY = str(Role.AGENCY)  # plain text: the role read from protobuf compares without the enum


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    region: str = ""
    key_id: str = ""
    org: str = ""  # the API key's organisation, as the holder's access log names the checker
    purposes: tuple[str, ...] = ()
    """The purposes the key may verify for, when it is narrower than its role (empty: the role's)."""

    def may_manage(self, region: str) -> bool:
        """Admin, or the agency (or the suite's own service) of ``region``."""
        return self.role == Role.ADMIN or (self.role in (Role.AGENCY, Role.SERVICE) and self.region == region)


def service_principal(region: str = "") -> Principal:
    """The principal the suite's own processes use between themselves (one region's, or none)."""
    return Principal(Role.SERVICE, region, SERVICE_KEY_ID)


def require_role(p: Principal, *roles: str) -> None:
    if p.role not in roles:
        raise PermissionDenied(f"role {p.role or '(none)'} may not do this")


def require_region(p: Principal, region: str) -> None:
    if not p.may_manage(region):
        raise PermissionDenied(f"role {p.role or '(none)'} may not act for region {region}")


def require_issuer(p: Principal, region: str) -> None:
    """May issue, present and change the status of ``region``'s credentials."""
    require_role(p, *ISSUE_ROLES)
    require_region(p, region)


def record_regions(p: Principal, issuing_regions: list[str]) -> list[str]:
    """The regions whose credential records ``p`` may read, among ``issuing_regions``: an
    agency its own, an admin every one; no other role reads records (403)."""
    if p.role == Role.AGENCY:
        return [p.region]
    if p.role == Role.ADMIN:
        return list(issuing_regions)
    raise PermissionDenied(f"role {p.role} may not read credential records")


def require_record(p: Principal, region: str, record_region: str | None, what: str) -> None:
    """``p`` reads a record that ``region``'s issuer holds for ``record_region`` (None: no
    such record). An unknown record and one of another region answer the same 404."""
    require_region(p, region)
    if record_region != region:
        raise NotFound(f"no credential {what[:40]} in {region}")


def disclosure_role(p: Principal, region: str) -> str:
    """The disclosure entry that applies to ``p`` for a credential issued by ``region``: an agency
    of another region reads as :data:`OTHER_REGION_AGENCY` (the type names the role whose fields
    that is, never the full record); everyone else as their own role. On the verification hot
    path: two string compares, no allocation."""
    role = p.role
    if role == _AGENCY and p.region != region:
        return OTHER_REGION_AGENCY
    return role


_PURPOSES = {p.value: p for p in Purpose}
_ROLE_PURPOSES = {str(role): purposes for role, purposes in ROLE_PURPOSES.items()}


def parse_purpose(text: str) -> Purpose:
    """The purpose named by ``text``; any other text is 400 ``PURPOSE_UNKNOWN`` (field ``purpose``),
    its message listing the purposes, not echoing the text."""
    found = _PURPOSES.get(text)
    if found is None:
        raise InvalidRequest(f"purpose must be one of {', '.join(_PURPOSES)}", code="PURPOSE_UNKNOWN",
                             field="purpose")
    return found


def purpose_for(p: Principal, purpose: str) -> Purpose:
    """The purpose a verification by ``p`` is judged for: the one named, or the role's default
    when none is (``""``). An unknown purpose is 400 ``PURPOSE_UNKNOWN``; one the role may not
    name (a hotel asking for a roadside check), or that the key is not allowed (its ``purposes``),
    is 403 ``PURPOSE_NOT_ALLOWED``; such a key's default is the first of its role's it keeps."""
    allowed = _ROLE_PURPOSES.get(p.role, ())
    if p.purposes:  # a key narrowed to some of its role's purposes (ecert.rules.apikeys)
        allowed = tuple(a for a in allowed if a in p.purposes)
    if not purpose:
        if not allowed:
            raise PermissionDenied(f"role {p.role or '(none)'} may not verify", code="PURPOSE_NOT_ALLOWED",
                                   field="purpose")
        return allowed[0]
    found = parse_purpose(purpose)
    if found not in allowed:
        who = "this API key" if p.purposes else f"role {p.role}"
        raise PermissionDenied(f"{who} may not verify for {found}", code="PURPOSE_NOT_ALLOWED", field="purpose")
    return found


def check_key_role(role: str, region: str | None) -> None:
    """The role and region an API key may be created with."""
    if role not in KEY_ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(KEY_ROLES)}")
    if role == Role.AGENCY and not region:
        raise InvalidRequest("an agency key is bound to one region: give --region")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
