"""Operations routes (open): liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ecert.errors import EcertError

from ..answers import json_response
from ..errors import error_body
from ..keys import BACKENDS, METRICS, REQUEST_ID, STORE
from ..openapi import OPENAPI

routes = web.RouteTableDef()
PROBE_TIMEOUT = 2.0


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """200 ``{"status": "ready", "checks"}``; else 503 with the contract's error body beside them."""
    be = request.app[BACKENDS]
    checks: dict[str, str] = {}

    async def probe(name: str, coro) -> None:
        try:
            await asyncio.wait_for(coro, PROBE_TIMEOUT)
            checks[name] = "ok"
        except Exception as err:  # any failure means "not ready", with its name
            checks[name] = f"unavailable: {type(err).__name__}"

    await asyncio.gather(
        probe("store", request.app[STORE].ping()),
        probe("registry", be.serving("registry")),
        probe("verifier", be.serving("verifier")))
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if not failed:
        return json_response({"status": "ready", "checks": checks})
    body = error_body("UNAVAILABLE", f"not ready: {', '.join(failed)}", request[REQUEST_ID])
    return json_response({**body, "status": "not ready", "checks": checks}, 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """The gateway's counts, and the verifier's cache state asked for now (within a second, one
    call shared by the scrapes that come together: :meth:`~gateway.clients.Backends.cache_state`):
    a verifier that does not answer in time leaves the last state it gave and counts a failed
    scrape, never fails the scrape."""
    m = request.app[METRICS]
    try:
        state = await request.app[BACKENDS].cache_state()
    except EcertError:
        m.verifier_state_failed()
    else:
        m.verifier_state(state)
    body, content_type = m.render()
    return web.Response(body=body, headers={"Content-Type": content_type})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(OPENAPI)
