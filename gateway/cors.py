"""CORS: pages from the configured origins (``ECERT_CORS_ORIGINS``, none by default) may call the gateway.

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered here,
before any key is asked for (a browser sends none with it): 204, with what may be sent
(:data:`ALLOW_METHODS`, :data:`ALLOW_HEADERS`) and for how long (:data:`MAX_AGE`) when the origin
is configured, with no CORS header at all when it is not (the browser then stops). Every other
answer to a configured origin, errors included, carries ``Access-Control-Allow-Origin`` (that
origin, never ``*``) and the headers a page may read (:data:`EXPOSE_HEADERS`); once any origin is
configured, every answer says ``Vary: Origin``, as it depends on it. No credentials (cookies) are
involved: the API key travels in ``Authorization``, which a page sets itself.
"""

from __future__ import annotations

from aiohttp import web

ALLOW_METHODS = "GET, POST, PUT, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type, X-Request-Id, Accept-Language, If-None-Match"
EXPOSE_HEADERS = "X-Request-Id, Retry-After, Content-Language, ETag"
MAX_AGE = 600
"""Seconds a browser may keep a preflight's answer."""


def _vary(response: web.StreamResponse, *names: str) -> None:
    have = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    add = [n for n in names if n.lower() not in {h.lower() for h in have}]
    if add:
        response.headers["Vary"] = ", ".join(have + add)


def is_preflight(request: web.Request) -> bool:
    return (request.method == "OPTIONS" and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers)


ORIGINS = web.AppKey("cors_origins", frozenset)
"""The configured origins, lower case."""


@web.middleware
async def preflight_middleware(request: web.Request, handler):
    """Answers a preflight (before authentication: a browser sends no key with it)."""
    if not is_preflight(request):
        return await handler(request)
    answer = web.Response(status=204)
    if request.headers["Origin"].lower() in request.app[ORIGINS]:
        answer.headers.update({
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE)})
        _vary(answer, "Access-Control-Request-Method", "Access-Control-Request-Headers")
    return answer


async def _on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """The CORS headers of an answer (any, errors and preflights included) once an origin is configured."""
    origin = request.headers.get("Origin", "")
    if origin.lower() in request.app[ORIGINS]:
        response.headers["Access-Control-Allow-Origin"] = origin
        if not is_preflight(request):
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    _vary(response, "Origin")


def setup(app: web.Application, origins: tuple[str, ...]) -> None:
    """CORS for ``origins`` on ``app`` (whose middlewares hold :func:`preflight_middleware` before
    authentication); with none, preflights are still answered (without any CORS header)."""
    app[ORIGINS] = frozenset(o.lower() for o in origins)
    if origins:
        app.on_response_prepare.append(_on_response_prepare)
