"""``python -m gateway``: the HTTP gateway."""

from aiohttp import web

from ecert.runtime import logs, tracing
from ecert.runtime import loop as runtime
from ecert.runtime.config import GatewayConfig

from .app import create_app


def main() -> None:
    cfg = GatewayConfig.from_env()
    logs.setup(cfg.log_level, "gateway", cfg.log_format)
    tracing.setup(cfg.otlp_endpoint, "gateway")  # OTLP when an endpoint is set, else nothing
    web.run_app(create_app(cfg), host=cfg.host, port=cfg.port, access_log=None, shutdown_timeout=5,
                reuse_port=cfg.reuse_port or None,  # several gateway processes on one port
                loop=runtime.new_loop(),
                print=lambda *_: print(f"gateway listening on http://{cfg.host}:{cfg.port}", flush=True))


if __name__ == "__main__":
    main()
