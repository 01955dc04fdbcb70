"""``python -m services.issuer``: one region's issuer (``ECERT_REGION`` names it)."""

from ecert.rpc.lifecycle import Process
from ecert.runtime import logs
from ecert.runtime import loop as runtime
from ecert.runtime.config import IssuerConfig
from ecert.store import open_store

from .servicer import build


async def main() -> None:
    cfg = IssuerConfig.from_env()
    logs.setup(cfg.log_level, f"issuer-{cfg.region}")
    async with Process(f"issuer-{cfg.region}") as proc:
        store = proc.closing(await open_store(cfg.store_uri), "store")
        issuer, server, port, registry_channel = await build(cfg, store)
        proc.closing(registry_channel, "registry channel")
        await proc.start(server)
        advertise = cfg.advertise if not cfg.advertise.endswith(":0") else f"{cfg.advertise.rsplit(':', 1)[0]}:{port}"
        kid = await issuer.register(advertise)
        print(f"issuer {cfg.region} listening on {advertise}, signing with key {kid}", flush=True)
        proc.spawn(issuer.show_codes.keep_swept(issuer.now), "show-code sweep")
        await proc.wait()


if __name__ == "__main__":
    runtime.run(main())
