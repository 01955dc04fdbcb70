"""``python -m services.registry``: the registry process (configuration from the environment)."""

import asyncio

from ecert import grpcutil, logs, runtime
from ecert.config import RegistryConfig
from ecert.store import open_store

from .service import build


async def main() -> None:
    cfg = RegistryConfig.from_env()
    logs.setup(cfg.log_level, "registry")
    store = await open_store(cfg.store_uri)
    registry, server, port = await build(cfg, store)
    await grpcutil.start(server)
    print(f"registry listening on {cfg.listen.rsplit(':', 1)[0]}:{port}", flush=True)

    async def refresh() -> None:  # re-sign before half the validity has passed
        while True:
            await asyncio.sleep(min(60, cfg.trust_list_ttl / 4))
            await registry.current()

    task = asyncio.create_task(refresh())
    await grpcutil.serve_forever(server, on_stop=store.close)
    task.cancel()


if __name__ == "__main__":
    runtime.run(main())
