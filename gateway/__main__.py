"""``python -m gateway``: the HTTP gateway."""

from aiohttp import web

from ecert.runtime import logs
from ecert.runtime import loop as runtime
from ecert.runtime.config import GatewayConfig

from .app import create_app


def main() -> None:
    cfg = GatewayConfig.from_env()
    logs.setup(cfg.log_level, "gateway")
    web.run_app(create_app(cfg), host=cfg.host, port=cfg.port, access_log=None, shutdown_timeout=5,
                loop=runtime.new_loop(),
                print=lambda *_: print(f"gateway listening on http://{cfg.host}:{cfg.port}", flush=True))


if __name__ == "__main__":
    main()
