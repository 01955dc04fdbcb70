"""The suite's one vocabulary: roles, credential and key statuses, status changes.

``StrEnum`` members are their own wire text (``Role.HOTEL == "hotel"``), so they go into
protobuf fields, JSON and the store unchanged, and text read from any of them compares equal.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """Who a principal is. ``SERVICE`` is used only between the suite's own processes."""

    ADMIN = "admin"
    AGENCY = "agency"
    HOTEL = "hotel"
    TRAFFIC_POLICE = "traffic_police"
    INTEGRATOR = "integrator"
    SERVICE = "service"


KEY_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.AGENCY, Role.HOTEL, Role.TRAFFIC_POLICE, Role.INTEGRATOR)
"""The roles an API key may have (``service`` is never given to a key)."""
VERIFY_ROLES: tuple[Role, ...] = KEY_ROLES
"""The roles that may verify credentials."""
ISSUE_ROLES: tuple[Role, ...] = (Role.AGENCY, Role.ADMIN)
"""The roles that may issue, change the status of and present credentials (agency: its region)."""


class CredentialStatus(enum.StrEnum):
    """A credential's status as its issuer stores it and its status list carries it."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class StatusAnswer(enum.StrEnum):
    """What a verification answer says of a credential's status (its ``status`` member): what its
    status list said, ``not_tracked`` for a credential with no status entry (nothing can revoke
    it), ``unknown`` when no status list within its validity could be consulted."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    NOT_TRACKED = "not_tracked"
    UNKNOWN = "unknown"


class StatusAction(enum.StrEnum):
    """A change of a credential's status (the ``:revoke`` … routes)."""

    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


class KeyStatus(enum.StrEnum):
    """A signing key's status in the trust list."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class Purpose(enum.StrEnum):
    """What a verification is for: the recognition rules say which certificate types each
    purpose accepts (minimum necessary: a hotel checks identity, not a vehicle)."""

    HOTEL_CHECK_IN = "hotel_check_in"
    ROADSIDE_DRIVER_CHECK = "roadside_driver_check"
    ROADSIDE_VEHICLE_CHECK = "roadside_vehicle_check"
    TRANSPORT_INSPECTION = "transport_inspection"
    BUSINESS_CHECK = "business_check"
    GENERAL = "general"


_P = Purpose
ROLE_PURPOSES: dict[Role, tuple[Purpose, ...]] = {
    Role.HOTEL: (_P.HOTEL_CHECK_IN,),
    Role.TRAFFIC_POLICE: (_P.ROADSIDE_DRIVER_CHECK, _P.ROADSIDE_VEHICLE_CHECK, _P.TRANSPORT_INSPECTION),
    Role.INTEGRATOR: (_P.GENERAL, _P.HOTEL_CHECK_IN, _P.BUSINESS_CHECK),
    Role.AGENCY: (_P.GENERAL, *(p for p in Purpose if p is not _P.GENERAL)),
    Role.ADMIN: (_P.GENERAL, *(p for p in Purpose if p is not _P.GENERAL)),
    Role.SERVICE: (_P.GENERAL, *(p for p in Purpose if p is not _P.GENERAL)),
}
"""The purposes each role may name; the first is the role's default (a request naming none)."""


class TrailAction(enum.StrEnum):
    """What a holder's access log records of a use of their credential."""

    ISSUE = "issue"
    STATUS_CHANGE = "status_change"
    PRESENT = "present"
    PHOTO_ACCESS = "photo_access"
    PHOTO_REUSE = "photo_reuse"
    VERIFY = "verify"
    RESOLVE = "resolve"
    SEARCH = "search"
    """An agency's search returned the credential (``GET /v1/credentials``): by the holder's ID number
    (result ``by_holder``) or in a listing by type, status or time (``listed``)."""
