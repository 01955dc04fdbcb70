"""``python -m services.verifier``: the verifier process."""

import asyncio

from ecert import grpcutil, logs, runtime
from ecert.config import VerifierConfig

from .service import build


async def main() -> None:
    cfg = VerifierConfig.from_env()
    logs.setup(cfg.log_level, "verifier")
    verifier, server, port = await build(cfg)
    await grpcutil.start(server)
    await verifier.cache.refresh_all()
    print(f"verifier listening on {cfg.listen.rsplit(':', 1)[0]}:{port}", flush=True)
    task = asyncio.create_task(verifier.cache.run(cfg.refresh_seconds))
    await grpcutil.serve_forever(server, on_stop=verifier.cache.close)
    task.cancel()


if __name__ == "__main__":
    runtime.run(main())
