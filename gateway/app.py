"""HTTP/JSON front door: translates between HTTP and the suite's gRPC services.

App factory :func:`create_app`; ``cleanup_ctx`` owns the store (API keys) and the gRPC
channels. The routes are by area in :mod:`gateway.routes`; who may call each is
:data:`gateway.access.TABLE`. Every error answer has the spec's body
``{"error": {"code", "message", "request_id"}}`` (:mod:`gateway.errors`); a client's mistake
is never a 500; a client that left before its request was read is counted under status 499
and not answered. Keys, quotas and the failed-authentication limit: :mod:`gateway.auth`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable

from aiohttp import web

from ecert import tracing as request_context
from ecert.errors import EcertError, TooManyRequests, Unavailable
from ecert.messages import CONTENT_LANGUAGE, error_message
from ecert.limits import MAX_MULTIPART, MAX_REQUEST_ID
from ecert.rpc.links import Links
from ecert.runtime.cache import BoundedCache
from ecert.runtime.config import GatewayConfig
from ecert.store import Store, open_store

from . import access, auth, cors, metrics
from .answers import json_response
from .clients import Backends
from .errors import domain_error_body, error_body, http_status, request_language, status_error_body
from .http import ClientGone
from .keys import (
    ACCESS,
    AUTH_THROTTLE,
    BACKENDS,
    CONFIG,
    METRICS,
    QR_CACHE,
    REQUEST_ID,
    STORE,
)
from .replicas import ReplicaMetrics
from .routes import TABLES
from .tracing import tracing_middleware
from .throttle import AuthThrottle

__all__ = ["BACKENDS", "create_app"]

log = logging.getLogger("ecert.gateway")

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
    request_context.REQUEST_ID.set(rid)  # the request's task: its log lines and gRPC calls carry it
    started = time.perf_counter()
    m = request.app[METRICS]
    lang = None  # the language of an error answer, negotiated only for one
    try:
        resp = await handler(request)
    except EcertError as err:
        if http_status(err) >= 500 and not isinstance(err, Unavailable):
            log.error("request %s failed: %s", rid, err.code)
        lang = request_language(request.headers)
        resp = json_response(domain_error_body(err, rid, lang), http_status(err))
        if isinstance(err, TooManyRequests):
            resp.headers["Retry-After"] = str(err.retry_after)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        lang = request_language(request.headers)
        resp = json_response(status_error_body(exc.status, exc.reason, rid, lang), exc.status)
        if exc.status == 405:
            resp.headers["Allow"] = exc.headers.get("Allow", "")
    except ClientGone:
        log.debug("request %s: the client left before its request was read", rid)
        resp = web.Response(status=CLIENT_GONE)  # never delivered: counted under its own status
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("request %s: unexpected error", rid)
        lang = request_language(request.headers)
        resp = json_response(error_body("INTERNAL", error_message("INTERNAL", lang, english="internal error"), rid),
                             500)
    if lang is not None:
        resp.headers["Content-Language"] = CONTENT_LANGUAGE[lang]
        vary = resp.headers.get("Vary")
        resp.headers["Vary"] = f"{vary}, Accept-Language" if vary else "Accept-Language"
    resp.headers["X-Request-Id"] = rid
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    m.observe(request.method, route, resp.status, time.perf_counter() - started)
    return resp


# -- the app -------------------------------------------------------------------------------------

def create_app(cfg: GatewayConfig, *, store: Store | None = None, backends: Backends | None = None,
               clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> web.Application:
    """The gateway application. ``store`` and ``backends`` may be passed in (tests); otherwise
    they are opened from ``cfg`` and closed with the app. ``clock``: the failed-authentication
    windows' and the key checks' (monotonic seconds); ``wall``: keys' expiries, quota windows and
    the times keys record (epoch seconds)."""
    # client_max_size is app-wide: it admits a multipart picture, and read_json bounds JSON to cfg.max_body.
    app = web.Application(middlewares=[errors_middleware, tracing_middleware, cors.preflight_middleware,
                                       auth.auth_middleware],
                          client_max_size=max(cfg.max_body, MAX_MULTIPART))
    app[CONFIG] = cfg
    cors.setup(app, cfg.cors_origins)
    app[METRICS] = metrics.Metrics()
    app[QR_CACHE] = BoundedCache(QR_CACHE_SIZE)
    app[AUTH_THROTTLE] = AuthThrottle(cfg.auth_failures_per_minute, clock=clock)

    async def resources(app: web.Application):
        app[STORE] = store or await open_store(cfg.store_uri)
        app[BACKENDS] = backends or Backends(cfg.registry_target, cfg.verifier_target, Links.from_config(cfg),
                                             timeout=cfg.backend_timeout, bulk_timeout=cfg.bulk_timeout,
                                             probe_every=cfg.verifier_probe_every)
        if isinstance(app[BACKENDS], Backends):  # each verifier replica's health and calls in /metrics
            app[METRICS].registry.register(ReplicaMetrics(app[BACKENDS].verifiers))
        yield
        if backends is None:
            await app[BACKENDS].close()
        if store is None:
            await app[STORE].close()

    app.cleanup_ctx.append(resources)
    auth.install(app, clock=clock, wall=wall)  # its upkeep after the store is opened (gateway.auth)
    for table in TABLES:
        app.router.add_routes(table)
    app[ACCESS] = access.bind(app.router)
    return app
