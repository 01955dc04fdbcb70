"""The gateway's routes, by area; each module's ``routes`` is an :class:`aiohttp.web.RouteTableDef`
(registered in this order), and :data:`gateway.access.TABLE` says who may call each."""

from __future__ import annotations

from . import credentials, operations, registry, rules, scanner, verifications

TABLES = (operations.routes, scanner.routes, registry.routes, rules.routes, credentials.routes,
          verifications.routes)
