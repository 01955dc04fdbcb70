"""``python -m services.issuer``: one region's issuer (``ECERT_REGION`` names it)."""

from ecert import grpcutil, logs, runtime
from ecert.config import IssuerConfig
from ecert.store import open_store

from .service import build


async def main() -> None:
    cfg = IssuerConfig.from_env()
    logs.setup(cfg.log_level, f"issuer-{cfg.region}")
    store = await open_store(cfg.store_uri)
    issuer, server, port, registry_channel = await build(cfg, store)
    await grpcutil.start(server)
    advertise = cfg.advertise if not cfg.advertise.endswith(":0") else f"{cfg.advertise.rsplit(':', 1)[0]}:{port}"
    kid = await issuer.register(advertise)
    print(f"issuer {cfg.region} listening on {advertise}, signing with key {kid}", flush=True)

    async def close() -> None:
        await registry_channel.close()
        await store.close()

    await grpcutil.serve_forever(server, on_stop=close)


if __name__ == "__main__":
    runtime.run(main())
