"""HTTP/JSON front door: translates between HTTP and the suite's gRPC services.

App factory :func:`create_app`; ``cleanup_ctx`` owns the store (API keys) and the gRPC
channels. The routes are by area in :mod:`gateway.routes`; who may call each is
:data:`gateway.access.TABLE`. Every error answer has the spec's body
``{"error": {"code", "message", "request_id"}}`` (:mod:`gateway.errors`); a client's mistake
is never a 500; a client that left before its request was read is counted under status 499
and not answered. Past ``ECERT_AUTH_FAILURES_PER_MINUTE`` failed keys an address gets 429
(:mod:`gateway.throttle`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable

from aiohttp import web

from ecert.errors import EcertError, Unauthenticated, Unavailable
from ecert.limits import MAX_MULTIPART, MAX_REQUEST_ID
from ecert.rules import access as rules
from ecert.rules import apikeys
from ecert.rpc.links import Links
from ecert.rules.access import Principal
from ecert.runtime.cache import BoundedCache
from ecert.runtime.config import GatewayConfig
from ecert.store import Store, open_store

from . import access, metrics
from .answers import json_response
from .clients import Backends
from .errors import error_body, http_status, status_code
from .http import ClientGone
from .keys import (
    ACCESS,
    AUTH_THROTTLE,
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
from .throttle import AuthThrottle

__all__ = ["BACKENDS", "create_app"]

log = logging.getLogger("ecert.gateway")

KEY_CACHE_TTL = 30.0
KEY_CACHE_SIZE = 10_000
QR_CACHE_SIZE = 1024
_REQUEST_ID_RE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID}}}")
CLIENT_GONE = 499
"""The status counted for a request whose client closed the connection before it was read (nginx's
"client closed request"): no answer can be sent."""


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
        resp = json_response(error_body(err.code, err.message, rid, err.blamed), http_status(err))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = status_code(exc.status)
        resp = json_response(error_body(code, exc.reason or code, rid), exc.status)
        if exc.status == 405:
            resp.headers["Allow"] = exc.headers.get("Allow", "")
        if exc.status == 429:
            resp.headers["Retry-After"] = exc.headers.get("Retry-After", "60")
    except ClientGone:
        log.debug("request %s: the client left before its request was read", rid)
        resp = web.Response(status=CLIENT_GONE)  # never delivered: counted under its own status
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
        throttle, address = request.app[AUTH_THROTTLE], request.remote or ""
        wait = throttle.retry_after(address)
        if wait is not None:  # before the key is looked at, whichever it is (gateway.throttle)
            raise web.HTTPTooManyRequests(reason="too many failed authentications from this address; "
                                                 f"try again in {wait} s", headers={"Retry-After": str(wait)})
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            request[PRINCIPAL] = await _authenticate(request.app, key)
        except Unauthenticated:
            if key:  # a key presented and refused (a missing key costs nothing to refuse)
                throttle.failed(address)
            raise
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

def create_app(cfg: GatewayConfig, *, store: Store | None = None, backends: Backends | None = None,
               clock: Callable[[], float] = time.monotonic) -> web.Application:
    """The gateway application. ``store`` and ``backends`` may be passed in (tests); otherwise
    they are opened from ``cfg`` and closed with the app. ``clock``: the failed-authentication
    windows' (monotonic seconds)."""
    # client_max_size is app-wide: it admits a multipart picture, and read_json bounds JSON to cfg.max_body.
    app = web.Application(middlewares=[errors_middleware, auth_middleware],
                          client_max_size=max(cfg.max_body, MAX_MULTIPART))
    app[CONFIG] = cfg
    app[METRICS] = metrics.Metrics()
    app[KEY_CACHE] = BoundedCache(KEY_CACHE_SIZE, KEY_CACHE_TTL)
    app[QR_CACHE] = BoundedCache(QR_CACHE_SIZE)
    app[AUTH_THROTTLE] = AuthThrottle(cfg.auth_failures_per_minute, clock=clock)

    async def resources(app: web.Application):
        app[STORE] = store or await open_store(cfg.store_uri)
        app[BACKENDS] = backends or Backends(cfg.registry_target, cfg.verifier_target, Links.from_config(cfg),
                                             timeout=cfg.backend_timeout, bulk_timeout=cfg.bulk_timeout)
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
