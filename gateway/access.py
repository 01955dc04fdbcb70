"""The one access table: for every route, who may call it and for which region.

:data:`TABLE` drives the checks (:func:`check`, :func:`readable_regions`, called by every
handler at the point where the request says enough to be judged) and the OpenAPI document's
``Roles:`` notes and ``security`` (:func:`roles_text`). The rules themselves are
:mod:`ecert.rules.access`'s, which the services apply again: the gateway checks first so a
caller who may not do something gets a clear 403 before any backend is asked.

A rule's region binding says where the region it is bound to comes from:

- ``PATH``: the path's ``{code}``; ``BODY``: the body's ``region``; ``QUERY``: the query's
  ``region`` (an agency's own when it names none) (all three :func:`check` with ``region=``,
  after the handler has read and checked it);
- ``RECORD``: the region whose issuer holds the credential (:func:`readable_regions`, the
  core's :func:`~ecert.rules.access.record_regions`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from ecert.rules.access import Principal, record_regions, require_region, require_role
from ecert.vocab import ISSUE_ROLES, VERIFY_ROLES, Role

from .keys import ACCESS, PRINCIPAL

NO_REGION, PATH, BODY, QUERY, RECORD = "", "path", "body", "query", "record"
KEYED_PREFIX = "/v1/"
"""Every route under this prefix needs an API key (and only those: :func:`bind` holds the
table to it); the key is read before the route is matched, so an unknown path says 401 first."""


@dataclass(frozen=True, slots=True)
class Rule:
    """``roles``, in the order the document lists them (empty: any key's role); ``key``: an
    API key is needed at all; ``region``: the binding (module docstring); ``note``: said after
    the roles in the document."""

    roles: tuple[str, ...] = ()
    region: str = NO_REGION
    key: bool = True
    note: str = ""


_LEAST_FIRST = (Role.HOTEL, Role.TRAFFIC_POLICE, Role.INTEGRATOR, Role.AGENCY, Role.ADMIN)


def _listed(roles: Iterable[str]) -> tuple[str, ...]:
    """``roles`` in the document's order: the least powerful first."""
    return tuple(sorted(roles, key=_LEAST_FIRST.index))


OPEN = Rule(key=False)
ANY = Rule()
ADMIN = Rule((Role.ADMIN,))
VERIFY = Rule(_listed(VERIFY_ROLES))
RECORDS = Rule(_listed(ISSUE_ROLES), region=RECORD)
KEYS = Rule(_listed((Role.ADMIN, Role.AGENCY)), note="an agency: the agency keys of its region")

TABLE: dict[tuple[str, str], Rule] = {
    # operations and the scanner page
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/scan"): Rule(key=False, note="the page's own calls carry the operator's key"),
    ("GET", "/scan/{name}"): OPEN,
    ("GET", "/scan/root-key.pem"): Rule(key=False, note="the root public key the verifier is pinned to"),
    # registry
    ("GET", "/v1/regions"): ANY,
    ("POST", "/v1/regions"): ADMIN,
    ("POST", "/v1/regions/{code}/keys"): Rule((Role.ADMIN, Role.AGENCY), region=PATH),
    ("POST", "/v1/regions/{code}/keys/{kid}:revoke"): ADMIN,
    ("POST", "/v1/regions/{code}/signing-key:rotate"): Rule((Role.ADMIN, Role.AGENCY), region=PATH),
    ("POST", "/v1/trust-list/root-key:rotate"): ADMIN,
    ("GET", "/v1/certificate-types"): ANY,
    ("POST", "/v1/certificate-types"): ADMIN,
    ("GET", "/v1/trust-list"): ANY,
    ("GET", "/v1/trust-list.cbor"): ANY,
    ("GET", "/v1/trust-list/root-chain.cbor"): ANY,
    # what a page that verifies on its own needs (the scanner page, offline), and its checks back
    ("GET", "/v1/status-lists"): VERIFY,
    # recognition rules
    ("GET", "/v1/recognition-rules"): ANY,
    ("PUT", "/v1/recognition-rules/purposes/{purpose}"): ADMIN,
    ("PUT", "/v1/recognition-rules/regions/{region}"): ADMIN,
    ("GET", "/v1/purposes"): Rule(note="those of the caller's role"),
    # credentials
    ("POST", "/v1/credentials"): Rule(_listed(ISSUE_ROLES), region=BODY),
    ("GET", "/v1/credentials"): Rule(_listed(ISSUE_ROLES), region=QUERY, note="an admin names the region"),
    ("GET", "/v1/credentials/{id}"): RECORDS,
    ("GET", "/v1/credentials/{id}/qr.{kind}"): RECORDS,
    ("POST", "/v1/credentials/{id}:{action}"): RECORDS,
    # show codes (EP1), made on the holder's behalf
    ("POST", "/v1/credentials/{id}/presentations"): RECORDS,
    ("GET", "/v1/credentials/{id}/presentations/{token_id}/qr.png"): RECORDS,
    # the trail: who used a credential (read on the holder's behalf)
    ("GET", "/v1/credentials/{id}/access-log"): RECORDS,
    # the photo library
    ("POST", "/v1/photos"): Rule(_listed(ISSUE_ROLES), region=QUERY, note="an admin names the region"),
    ("GET", "/v1/photos/{digest}"): Rule(_listed(VERIFY_ROLES), note="those shown the photo of a credential "
                                                                      "naming it (the one named, if any), for its type"),
    # API keys (who manages which: ecert.rules.apikeys)
    ("POST", "/v1/api-keys"): KEYS,
    ("GET", "/v1/api-keys"): KEYS,
    ("POST", "/v1/api-keys/{id}:{action}"): KEYS,
    ("DELETE", "/v1/api-keys/{id}"): KEYS,
    # verifications
    ("POST", "/v1/verifications"): VERIFY,
    ("POST", "/v1/verifications:batch"): VERIFY,
    ("POST", "/v1/verifications:offline"): VERIFY,
}
"""(method, path as aiohttp writes it canonically) -> :class:`Rule`. ``HEAD`` is ``GET``'s."""


# -- the checks ------------------------------------------------------------------------------------

def check(request: web.Request, region: str | None = None) -> Principal:
    """The caller may use this route: its role is among the rule's; with ``region`` (the one the
    rule binds, once the handler has read it), it may also act for that region. Else 403."""
    rule = request.app[ACCESS][request.match_info.route]
    p = request[PRINCIPAL]
    if region is not None:
        if rule.region not in (PATH, BODY, QUERY):
            raise LookupError(f"{route_key(request.match_info.route)} binds no region")
        require_region(p, region)
    if rule.roles:
        require_role(p, *rule.roles)
    return p


async def readable_regions(request: web.Request, issuing_regions: Callable[[], Awaitable[list[str]]]) -> list[str]:
    """The regions whose credential records the caller may read (a ``RECORD`` route), by the
    core's rule; 403 for a role that reads none. ``issuing_regions`` (the directory) is asked only
    for an admin, the one role whose answer it is: an agency's is its own region."""
    rule = request.app[ACCESS][request.match_info.route]
    if rule.region != RECORD:
        raise LookupError(f"{route_key(request.match_info.route)} reads no records")
    p = request[PRINCIPAL]
    regions = record_regions(p, await issuing_regions() if p.role == Role.ADMIN else [])
    if rule.roles:
        require_role(p, *rule.roles)
    return regions


def needs_key(request: web.Request) -> bool:
    return request.path.startswith(KEYED_PREFIX)


# -- the table and the app's routes -------------------------------------------------------------

def route_key(route: web.AbstractRoute) -> tuple[str, str]:
    """A registered route's key in :data:`TABLE`."""
    method = "GET" if route.method == "HEAD" else route.method
    return method, route.resource.canonical if route.resource else ""


def bind(router: web.UrlDispatcher) -> dict[web.AbstractRoute, Rule]:
    """Each of the router's routes -> its rule. Refuses (at start-up) a route the table lacks, a
    rule no route has, and a rule whose need of a key disagrees with :data:`KEYED_PREFIX`."""
    rules: dict[web.AbstractRoute, Rule] = {}
    for route in router.routes():
        key = route_key(route)
        if key not in TABLE:
            raise LookupError(f"route {key} is not in the access table")
        rules[route] = TABLE[key]
    registered = set(map(route_key, rules))
    for key, rule in TABLE.items():
        if key not in registered:
            raise LookupError(f"the access table names {key}, which no route has")
        if rule.key != key[1].startswith(KEYED_PREFIX):
            raise LookupError(f"{key}: a key is needed exactly under {KEYED_PREFIX}")
    return rules


# -- the document ----------------------------------------------------------------------------------

def roles_text(rule: Rule) -> str:
    """Who may call, as the OpenAPI document says it (``Roles: …``)."""
    if not rule.key:
        text = "none"
    elif not rule.roles:
        text = "any"
    else:
        text = ", ".join(_role_text(role, rule.region) for role in rule.roles)
    return f"{text} ({rule.note})" if rule.note else text


def _role_text(role: str, region: str) -> str:
    if role == Role.AGENCY and region in (PATH, BODY, QUERY):
        return "agency of the region"
    if role == Role.AGENCY and region == RECORD:
        return "issuing agency"
    return str(role)
