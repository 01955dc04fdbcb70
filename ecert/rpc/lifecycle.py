"""One lifecycle for every gRPC process of the suite.

    async with Process("registry", grace=5.0) as proc:
        store = proc.closing(await open_store(uri), "store")     # closed last
        server, port = build(...)
        await proc.start(server)                                  # SERVING
        proc.spawn(refresher.run(), "trust-list refresh")        # cancelled before the store closes
        await proc.wait()                                         # until SIGTERM or SIGINT

On leaving: the server reports NOT_SERVING and stops taking calls, calls in progress get the
grace period to finish, then the background tasks are cancelled (and awaited), then what was
opened is closed, in the reverse order of opening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import grpc

from . import server as rpc_server

log = logging.getLogger("ecert.lifecycle")

T = TypeVar("T")


class Process:
    def __init__(self, name: str, *, grace: float = 5.0):
        self.name = name
        self.grace = grace
        self._stack = contextlib.AsyncExitStack()
        self._servers: list[grpc.aio.Server] = []
        self._tasks: list[asyncio.Task] = []
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> "Process":
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc) -> bool:
        try:
            await self._shutdown()
        finally:
            suppressed = await self._stack.__aexit__(*exc)
        return suppressed

    def closing(self, obj: T, what: str, close: Callable[[], Awaitable[Any]] | None = None) -> T:
        """Close ``obj`` (``await obj.close()``, or ``close()``) when the process ends, after
        everything opened later."""
        closer = close or obj.close  # type: ignore[attr-defined]

        async def _close() -> None:
            try:
                await closer()
            except Exception:  # one failing close never keeps the others open
                log.exception("%s: closing %s failed", self.name, what)

        self._stack.push_async_callback(_close)
        return obj

    async def start(self, server: grpc.aio.Server) -> None:
        """Start serving (health SERVING); stopped first when the process ends."""
        await rpc_server.start(server)
        self._servers.append(server)

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task:
        """A background task (a refresh loop), cancelled once the servers have stopped."""
        task = asyncio.create_task(coro, name=f"{self.name}: {what}")
        self._tasks.append(task)
        return task

    def stop(self) -> None:
        """End :meth:`wait` (what SIGTERM and SIGINT do)."""
        self._stopping.set()

    async def wait(self) -> None:
        """Until SIGTERM or SIGINT (or :meth:`stop`)."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._stopping.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                pass
        try:
            await self._stopping.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def _shutdown(self) -> None:
        servers, self._servers = self._servers, []
        for server in reversed(servers):
            await rpc_server.stop(server, self.grace)  # NOT_SERVING, then drain
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
