"""The gateway's gRPC clients: registry, verifier and the regional issuers found
through the registry's directory."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import grpc

from ecert.errors import NotFound, Unavailable
from ecert.grpcutil import call, channel, error_from_status, token_metadata
from ecert.wire import SERVICE, principal_to_pb
from ecertpb.v1 import issuer_pb2_grpc, registry_pb2, registry_pb2_grpc, verifier_pb2, verifier_pb2_grpc

log = logging.getLogger("ecert.gateway")

DIRECTORY_TTL = 10.0
VERIFY_TIMEOUT = 10.0
MAX_STREAM_BATCH = 256


class VerifierStream:
    """Single verifications over one long-lived bidirectional stream to the verifier.

    Requests are tagged with an id and written by one writer task (a stream takes one write
    at a time); a reader task hands each answer to its waiting request. If the stream breaks,
    every waiting request fails with 503 and the next request opens a new stream.
    """

    def __init__(self, stub: verifier_pb2_grpc.VerifierServiceStub, internal_token: str,
                 timeout: float = VERIFY_TIMEOUT):
        self._stub = stub
        self._metadata = token_metadata(internal_token)
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._outbox: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []

    def _open(self) -> asyncio.Queue:
        call_ = self._stub.VerifyStream(metadata=self._metadata)
        outbox: asyncio.Queue = asyncio.Queue()

        async def write() -> None:  # what has queued up meanwhile leaves in one message
            while True:
                items = [await outbox.get()]
                while not outbox.empty() and len(items) < MAX_STREAM_BATCH:
                    items.append(outbox.get_nowait())
                await call_.write(verifier_pb2.VerifyStreamRequest(items=items))

        async def read() -> None:
            try:
                async for resp in call_:
                    for ans in resp.answers:
                        fut = self._pending.pop(ans.id, None)
                        if fut is not None and not fut.done():
                            fut.set_result(ans)
            except grpc.aio.AioRpcError as err:
                log.warning("verifier stream ended: %s", err.code().name)
            finally:
                self._broken(call_, outbox)

        self._tasks = [asyncio.create_task(write()), asyncio.create_task(read())]
        self._outbox = outbox
        return outbox

    def _broken(self, call_, outbox: asyncio.Queue) -> None:
        if self._outbox is outbox:
            self._outbox = None
            for task in self._tasks:
                task.cancel()
        call_.cancel()
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(Unavailable("the verifier connection was lost; try again"))

    async def verify(self, request: verifier_pb2.VerifyRequest) -> verifier_pb2.VerifyResponse:
        outbox = self._outbox or self._open()
        loop = asyncio.get_running_loop()
        rid = next(self._ids)
        fut = loop.create_future()
        self._pending[rid] = fut
        timer = loop.call_later(self._timeout, self._expire, rid)
        outbox.put_nowait(verifier_pb2.VerifyStreamItem(id=rid, request=request))
        try:
            resp = await fut
        finally:
            timer.cancel()
            self._pending.pop(rid, None)
        if resp.error_code:
            raise error_from_status(resp.status, resp.error_code, resp.error_message)
        return resp.response

    def _expire(self, rid: int) -> None:
        fut = self._pending.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_exception(Unavailable("the verifier did not answer in time"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._outbox = None


class Backends:
    def __init__(self, registry_target: str, verifier_target: str, internal_token: str):
        self.token = internal_token
        self._registry_channel = channel(registry_target, internal_token)
        self._verifier_channel = channel(verifier_target, internal_token)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self._registry_channel)
        self.verifier = verifier_pb2_grpc.VerifierServiceStub(self._verifier_channel)
        self.verifier_stream = VerifierStream(self.verifier, internal_token)
        self._issuers: dict[str, tuple[str, grpc.aio.Channel, issuer_pb2_grpc.IssuerServiceStub]] = {}
        self._endpoints: dict[str, str] = {}
        self._endpoints_at = 0.0
        self._lock = asyncio.Lock()

    async def _directory(self, force: bool = False) -> dict[str, str]:
        async with self._lock:
            if force or time.monotonic() - self._endpoints_at > DIRECTORY_TTL:
                resp = await call(self.registry.ListRegions(
                    registry_pb2.ListRegionsRequest(principal=principal_to_pb(SERVICE)), timeout=5))
                self._endpoints = {r.code: r.endpoint for r in resp.regions}
                self._endpoints_at = time.monotonic()
            return self._endpoints

    async def issuer(self, region: str) -> issuer_pb2_grpc.IssuerServiceStub:
        endpoints = await self._directory()
        if region not in endpoints:
            endpoints = await self._directory(force=True)
        if region not in endpoints:
            raise NotFound(f"unknown region {region}", code="REGION_UNKNOWN")
        endpoint = endpoints[region]
        if not endpoint:
            raise Unavailable(f"region {region} has no issuer online", code="REGION_UNAVAILABLE")
        cached = self._issuers.get(region)
        if cached is None or cached[0] != endpoint:
            ch = channel(endpoint, self.token)
            cached = self._issuers[region] = (endpoint, ch, issuer_pb2_grpc.IssuerServiceStub(ch))
        return cached[2]

    async def issuer_regions(self) -> list[str]:
        return [code for code, ep in (await self._directory()).items() if ep]

    async def close(self) -> None:
        await self.verifier_stream.close()
        await self._registry_channel.close()
        await self._verifier_channel.close()
        for _, ch, _ in self._issuers.values():
            await ch.close()
