"""Operations routes (open): liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ecert.errors import EcertError
from ecert.rpc.convert import service_principal_pb
from ecertpb.v1 import verifier_pb2

from ..answers import json_response
from ..clients import VERIFIER
from ..errors import error_body
from ..keys import BACKENDS, METRICS, REQUEST_ID, STORE
from ..openapi import OPENAPI

routes = web.RouteTableDef()
PROBE_TIMEOUT = 2.0
STATE_TIMEOUT = 1.0
"""Seconds a scrape of ``/metrics`` waits for the verifier's cache state (at most the backend deadline)."""


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
    """The gateway's counts, and the verifier's cache state asked for now: a verifier that does not
    answer in time leaves the last state it gave and counts a failed scrape, never fails the scrape."""
    m = request.app[METRICS]
    be = request.app[BACKENDS]
    try:
        state = await be.ask(VERIFIER, be.verifier.GetCacheState(
            verifier_pb2.CacheStateRequest(principal=service_principal_pb()),
            timeout=min(STATE_TIMEOUT, be.timeout)))
    except EcertError:
        m.verifier_state_failed()
    else:
        m.verifier_state(state)
    body, content_type = m.render()
    return web.Response(body=body, headers={"Content-Type": content_type})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(OPENAPI)
