"""The transport floor: a bare aiohttp handler that makes one trivial gRPC call per request
(a health check against the verifier process). ``python -m bench.floor PORT TARGET``."""

from __future__ import annotations

import sys

from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ecert.rpc.client import channel
from ecert.runtime import loop as runtime

CHANNEL = web.AppKey("channel", object)


async def handler(request: web.Request) -> web.Response:
    await request.read()
    stub = health_pb2_grpc.HealthStub(request.app[CHANNEL])
    resp = await stub.Check(health_pb2.HealthCheckRequest(service=""))
    return web.json_response({"status": resp.status})


def main() -> None:
    port, target, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = web.Application()

    async def ctx(app):
        app[CHANNEL] = channel(target, token)
        yield
        await app[CHANNEL].close()

    app.cleanup_ctx.append(ctx)
    app.router.add_post("/floor", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=runtime.new_loop())


if __name__ == "__main__":
    main()
