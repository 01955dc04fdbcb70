"""``python -m services.issuer``: one region's issuer (``ECERT_REGION`` names it)."""

import asyncio
import logging

from ecert.errors import EcertError, Unavailable
from ecert.rpc.lifecycle import Process
from ecert.runtime import logs, tracing
from ecert.runtime import loop as runtime
from ecert.runtime.config import IssuerConfig
from ecert.store import open_store

from .domain import Issuer
from .servicer import build

log = logging.getLogger("ecert.issuer")

FIRST_ATTEMPTS = 20
"""Attempts (half a second apart) at registering before the issuer serves without: it issues from its
cached types meanwhile, and keeps registering in the background."""
REGISTER_RETRY = 5.0
"""Seconds between the background attempts at registering."""


async def keep_registering(issuer: Issuer, advertise: str) -> None:
    """Register the key and endpoint once the registry answers (it was down at start)."""
    while True:
        await asyncio.sleep(REGISTER_RETRY)
        try:
            kid = await issuer.register(advertise, attempts=1)
        except EcertError as err:  # any refusal too: logged, tried again (the task never ends unseen)
            log.warning("still not registered with the registry: %s", err)
            continue
        log.info("registered with the registry, signing with key %s", kid)
        return


async def main() -> None:
    cfg = IssuerConfig.from_env()
    logs.setup(cfg.log_level, f"issuer-{cfg.region}", cfg.log_format)
    tracing.setup(cfg.otlp_endpoint, f"issuer-{cfg.region}")  # OTLP when an endpoint is set, else nothing
    async with Process(f"issuer-{cfg.region}") as proc:
        store = proc.closing(await open_store(cfg.store_uri), "store")
        issuer, server, port, registry_channel = await build(cfg, store)
        proc.closing(registry_channel, "registry channel")
        await proc.start(server)
        advertise = cfg.advertise if not cfg.advertise.endswith(":0") else f"{cfg.advertise.rsplit(':', 1)[0]}:{port}"
        try:
            kid = await issuer.register(advertise, attempts=FIRST_ATTEMPTS)
        except Unavailable as err:
            kid = issuer.key.kid.hex()
            log.warning("the registry cannot be reached (%s): serving from the cached types, registering later", err)
            proc.spawn(keep_registering(issuer, advertise), "registration")
        print(f"issuer {cfg.region} listening on {advertise}, signing with key {kid}", flush=True)
        proc.spawn(issuer.show_codes.keep_swept(issuer.now), "show-code sweep")
        proc.spawn(issuer.signer.run(), "signing keys")  # revocations learnt, keys rotated for their age
        await proc.wait()


if __name__ == "__main__":
    runtime.run(main())
