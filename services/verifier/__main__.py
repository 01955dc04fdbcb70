"""``python -m services.verifier``: the verifier process."""

from ecert.rpc.lifecycle import Process
from ecert.runtime import logs, tracing
from ecert.runtime import loop as runtime
from ecert.runtime.config import VerifierConfig

from .servicer import build


async def main() -> None:
    cfg = VerifierConfig.from_env()
    logs.setup(cfg.log_level, "verifier", cfg.log_format)
    tracing.setup(cfg.otlp_endpoint, "verifier")  # OTLP when an endpoint is set, else nothing
    async with Process("verifier") as proc:
        verifier, server, port = await build(cfg)
        proc.closing(verifier.cache, "trust cache")
        if verifier.trail is not None:
            proc.closing(verifier.trail, "trail outbox")  # what is not delivered yet stays for the next start
        await proc.start(server)
        await verifier.cache.refresh_all()
        print(f"verifier listening on {cfg.listen.rsplit(':', 1)[0]}:{port}", flush=True)
        proc.spawn(verifier.cache.run(), "trust and status refresh")
        if verifier.trail is not None:
            proc.spawn(verifier.trail.run(), "trail delivery")
        await proc.wait()


if __name__ == "__main__":
    runtime.run(main())
