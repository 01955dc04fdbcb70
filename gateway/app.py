"""HTTP/JSON front door: translates between HTTP and the suite's gRPC services.

App factory :func:`create_app`; ``cleanup_ctx`` owns the store (API keys) and the gRPC
channels. The routes are by area in :mod:`gateway.routes`; who may call each is
:data:`gateway.access.TABLE`. Every error answer has the spec's body
``{"error": {"code", "message", "request_id"}}`` (:mod:`gateway.errors`); a client's mistake
is never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from aiohttp import web

from ecert.errors import EcertError, Unauthenticated, Unavailable
from ecert.limits import MAX_MULTIPART, MAX_REQUEST_ID
from ecert.rules import access as rules
from ecert.rules import apikeys
from ecert.rules.access import Principal
from ecert.runtime.cache import BoundedCache
from ecert.runtime.config import GatewayConfig
from ecert.store import Store, open_store

from . import access, metrics
from .answers import json_response
from .clients import Backends
from .errors import error_body, http_status, status_code
from .keys import (
    ACCESS,
    BACKENDS,
    CONFIG,
    KEY_CACHE,
    METRICS,
    PRINCIPAL,
    QR_CACHE,
    REQUEST_ID,
    STORE,
)
from .routes import TABLES

__all__ = ["BACKENDS", "create_app"]

log = logging.getLogger("ecert.gateway")

KEY_CACHE_TTL = 30.0
KEY_CACHE_SIZE = 10_000
QR_CACHE_SIZE = 1024
_REQUEST_ID_RE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID}}}")


# -- middlewares ---------------------------------------------------------------------------------

@web.middleware
async def errors_middleware(request: web.Request, handler):
    rid = request.headers.get("X-Request-Id", "")
    if not _REQUEST_ID_RE.fullmatch(rid):
        rid = uuid.uuid4().hex
    request[REQUEST_ID] = rid
    started = time.perf_counter()
    m = request.app[METRICS]
    try:
        resp = await handler(request)
    except EcertError as err:
        if http_status(err) >= 500 and not isinstance(err, Unavailable):
            log.error("request %s failed: %s", rid, err.code)
        resp = json_response(error_body(err.code, err.message, rid), http_status(err))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = status_code(exc.status)
        resp = json_response(error_body(code, exc.reason or code, rid), exc.status)
        if exc.status == 405:
            resp.headers["Allow"] = exc.headers.get("Allow", "")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request %s: unexpected error", rid)
        resp = json_response(error_body("INTERNAL", "internal error", rid), 500)
    resp.headers["X-Request-Id"] = rid
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    m.observe(request.method, route, resp.status, time.perf_counter() - started)
    return resp


@web.middleware
async def auth_middleware(request: web.Request, handler):
    if access.needs_key(request):
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else None
        request[PRINCIPAL] = await _authenticate(request.app, key)
    return await handler(request)


async def _authenticate(app: web.Application, key: str | None) -> Principal:
    if not key:
        raise Unauthenticated("an API key is required: Authorization: Bearer KEY")
    cache = app[KEY_CACHE]
    digest = rules.hash_key(key)
    principal = cache.get(digest)
    if principal is None:
        principal = await apikeys.authenticate(app[STORE], key)
        cache.put(digest, principal)
    return principal


# -- the app -------------------------------------------------------------------------------------

def create_app(cfg: GatewayConfig, *, store: Store | None = None, backends: Backends | None = None) -> web.Application:
    """The gateway application. ``store`` and ``backends`` may be passed in (tests); otherwise
    they are opened from ``cfg`` and closed with the app."""
    # client_max_size is app-wide: it admits a multipart picture, and read_json bounds JSON to cfg.max_body.
    app = web.Application(middlewares=[errors_middleware, auth_middleware],
                          client_max_size=max(cfg.max_body, MAX_MULTIPART))
    app[CONFIG] = cfg
    app[METRICS] = metrics.Metrics()
    app[KEY_CACHE] = BoundedCache(KEY_CACHE_SIZE, KEY_CACHE_TTL)
    app[QR_CACHE] = BoundedCache(QR_CACHE_SIZE)

    async def resources(app: web.Application):
        app[STORE] = store or await open_store(cfg.store_uri)
        app[BACKENDS] = backends or Backends(cfg.registry_target, cfg.verifier_target, cfg.internal_token)
        yield
        if backends is None:
            await app[BACKENDS].close()
        if store is None:
            await app[STORE].close()

    app.cleanup_ctx.append(resources)
    for table in TABLES:
        app.router.add_routes(table)
    app[ACCESS] = access.bind(app.router)
    return app
