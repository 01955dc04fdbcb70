"""``python -m services.registry``: the registry process (configuration from the environment)."""

from ecert.rpc.lifecycle import Process
from ecert.runtime import logs, tracing
from ecert.runtime import loop as runtime
from ecert.runtime.config import RegistryConfig
from ecert.store import open_store

from .servicer import build


async def main() -> None:
    cfg = RegistryConfig.from_env()
    logs.setup(cfg.log_level, "registry", cfg.log_format)
    tracing.setup(cfg.otlp_endpoint, "registry")  # OTLP when an endpoint is set, else nothing
    async with Process("registry") as proc:
        store = proc.closing(await open_store(cfg.store_uri), "store")
        registry, server, port = await build(cfg, store)
        await proc.start(server)
        print(f"registry listening on {cfg.listen.rsplit(':', 1)[0]}:{port}", flush=True)
        proc.spawn(registry.keep_current(), "trust-list re-signing")
        await proc.wait()


if __name__ == "__main__":
    runtime.run(main())
