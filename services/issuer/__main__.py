"""``python -m services.issuer``: one region's issuer (``ECERT_REGION`` names it).

With ``ECERT_ISSUER_WORKERS=N`` (N > 1) the process starts N-1 more worker processes that
share its port (SO_REUSEPORT), its key file and its store; connections are spread over them.
The first process creates the key before any worker starts, and stops them when it stops.
"""

import asyncio
import os
import subprocess
import sys

from ecert import grpcutil, keys, logs, runtime
from ecert.config import IssuerConfig
from ecert.store import open_store

from .service import build, key_path

WORKER_VAR = "ECERT_ISSUER_WORKER_OF"


async def serve(cfg: IssuerConfig, parent: int | None) -> None:
    store = await open_store(cfg.store_uri)
    issuer, server, port, registry_channel = await build(cfg, store)
    await grpcutil.start(server)
    advertise = cfg.advertise if not cfg.advertise.endswith(":0") else f"{cfg.advertise.rsplit(':', 1)[0]}:{port}"
    kid = await issuer.register(advertise)
    print(f"issuer {cfg.region} listening on {advertise}, signing with key {kid}", flush=True)

    async def orphan_watch() -> None:  # a worker stops when the process that started it is gone
        while os.getppid() == parent:
            await asyncio.sleep(1)
        os.kill(os.getpid(), 15)

    watch = asyncio.create_task(orphan_watch()) if parent else None

    async def close() -> None:
        if watch:
            watch.cancel()
        await registry_channel.close()
        await store.close()

    await grpcutil.serve_forever(server, on_stop=close)


def main() -> None:
    cfg = IssuerConfig.from_env()
    logs.setup(cfg.log_level, f"issuer-{cfg.region}")
    parent = int(os.environ[WORKER_VAR]) if os.environ.get(WORKER_VAR) else None
    workers = []
    if parent is None and cfg.workers > 1:
        if cfg.listen.endswith(":0"):
            raise SystemExit("ECERT_ISSUER_WORKERS needs a fixed port in ECERT_ISSUER_LISTEN")
        keys.load_or_create(key_path(cfg), cfg.signing_key_passphrase, keys.alg_id(cfg.key_alg))
        env = dict(os.environ, **{WORKER_VAR: str(os.getpid())})
        workers = [subprocess.Popen([sys.executable, "-m", "services.issuer"], env=env)
                   for _ in range(cfg.workers - 1)]
    try:
        runtime.run(serve(cfg, parent))
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()


if __name__ == "__main__":
    main()
