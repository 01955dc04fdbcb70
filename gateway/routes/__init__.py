"""The gateway's routes, by area; each module's ``routes`` is an :class:`aiohttp.web.RouteTableDef`
(registered in this order), and :data:`gateway.access.TABLE` says who may call each."""

from __future__ import annotations

from . import (
    apikeys,
    credentials,
    offline,
    operations,
    photos,
    presentations,
    registry,
    rules,
    scanner,
    trail,
    verifications,
)

TABLES = (operations.routes, offline.routes, scanner.routes, registry.routes, rules.routes, credentials.routes,
          verifications.routes, photos.routes, presentations.routes, trail.routes, apikeys.routes)
"""The route tables in the order they are registered: ``offline`` before ``scanner``, so that
``/scan/root-key.pem`` is matched before the page's ``/scan/{name}``."""
