"""The transport floor: a bare aiohttp handler that makes one trivial gRPC call per request
(a health check against the verifier process, over TLS with the gateway's certificate, as the
gateway calls). ``python -m bench.floor PORT TARGET``; the token and the TLS files from the
environment (``ECERT_INTERNAL_TOKEN``, ``ECERT_TLS_CA``, ``ECERT_TLS_CERT``, ``ECERT_TLS_KEY``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.rpc.client import channel
from ecert.rpc.links import Links
from ecert.runtime import loop as runtime
from ecert.runtime import pki

CHANNEL = web.AppKey("channel", object)


async def handler(request: web.Request) -> web.Response:
    await request.read()
    stub = health_pb2_grpc.HealthStub(request.app[CHANNEL])
    resp = await stub.Check(health_pb2.HealthCheckRequest(service=""))
    return web.json_response({"status": resp.status})


def main() -> None:
    port, target = int(sys.argv[1]), sys.argv[2]
    env = os.environ
    links = Links.from_files(env["ECERT_INTERNAL_TOKEN"], pki.TlsFiles(
        Path(env["ECERT_TLS_CA"]), Path(env["ECERT_TLS_CERT"]), Path(env["ECERT_TLS_KEY"])))
    app = web.Application()

    async def ctx(app):
        app[CHANNEL] = channel(target, links, peer=pki.VERIFIER)
        yield
        await app[CHANNEL].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_post("/floor", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=runtime.new_loop())


if __name__ == "__main__":
    main()
