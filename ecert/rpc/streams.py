"""Many small calls over one long-lived bidirectional gRPC stream (both ends).

A unary gRPC call costs far more in Python than the work behind a verification or an
issuance. A stream carries requests tagged with ids; what queues up meanwhile leaves in
one message (``items``), and the server answers what has completed in one message
(``answers``), each answer with its id. Stream messages follow one shape:

    message XStreamRequest  { repeated XStreamItem items = 1; }
    message XStreamItem     { uint64 id = 1; XRequest request = 2; }
    message XStreamResponse { repeated XStreamAnswer answers = 1; }
    message XStreamAnswer   { uint64 id = 1; XResponse response = 2; int32 status = 3;
                              string error_code = 4; string error_message = 5; string error_field = 6; }

An answer either holds ``response`` or the error the unary call would have raised. Each item
also carries its own request's ``request_id`` and ``traceparent`` (:mod:`ecert.rpc.tracing`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ..errors import EcertError, Unavailable
from ..limits import MAX_BATCH
from . import status, tracing
from .client import token_metadata
from .links import Links

log = logging.getLogger("ecert.streams")

MAX_ITEMS = MAX_BATCH
"""Items one stream message may carry (as many as a batch)."""
MAX_RUNNING = 4096
"""Requests of one stream in progress at once on the server."""


class StreamClient:
    """Calls over one stream: ``await client.call(request)`` answers like the unary call would.

    One writer task writes (a stream takes one write at a time); a reader task hands each
    answer to its waiting call. If the stream breaks, every waiting call fails with 503
    :class:`Unavailable` and the next call opens a new stream. A failure of the stream's own
    (:func:`stream_failure`) is told from the backend's answer by its cause: a
    :class:`ConnectionError` (the stream broke) or a :class:`TimeoutError` (no answer in time).
    """

    def __init__(self, method: Callable[..., Any], request_cls: type, item_cls: type, links: Links, *,
                 timeout: float = 10.0, max_items: int = 256):
        self._method = method  # the stub's stream-stream multicallable
        self._request_cls = request_cls
        self._item_cls = item_cls
        self._what = item_cls.__name__.removesuffix("Item")  # VerifyStream: the traces' name
        self._metadata = token_metadata(links)  # streams take metadata directly
        self._timeout = timeout
        self._max_items = max_items
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._outbox: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []

    def _open(self) -> asyncio.Queue:
        call = self._method(metadata=self._metadata)
        outbox: asyncio.Queue = asyncio.Queue()

        async def write() -> None:
            while True:
                items = [await outbox.get()]
                while not outbox.empty() and len(items) < self._max_items:
                    items.append(outbox.get_nowait())
                await call.write(self._request_cls(items=items))

        async def read() -> None:
            try:
                async for resp in call:
                    for ans in resp.answers:
                        fut = self._pending.pop(ans.id, None)
                        if fut is not None and not fut.done():
                            fut.set_result(ans)
            except grpc.aio.AioRpcError as err:
                log.warning("stream %s ended: %s", self._request_cls.__name__, err.code().name)
            finally:
                self._broken(call, outbox)

        self._tasks = [asyncio.create_task(write()), asyncio.create_task(read())]
        self._outbox = outbox
        return outbox

    def _broken(self, call, outbox: asyncio.Queue) -> None:
        if self._outbox is outbox:
            self._outbox = None
            for task in self._tasks:
                task.cancel()
        call.cancel()
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(stream_failure(late=False))

    async def call(self, request):
        outbox = self._outbox or self._open()
        loop = asyncio.get_running_loop()
        rid = next(self._ids)
        fut = loop.create_future()
        self._pending[rid] = fut
        timer = loop.call_later(self._timeout, self._expire, rid)
        item = self._item_cls(id=rid, request=request)
        span = tracing.item_client_span(self._what)
        tracing.stamp(item, span)  # the request id and trace of this request, not of the stream
        outbox.put_nowait(item)
        try:
            ans = await fut
        except BaseException:
            tracing.end_item_client_span(span, "UNAVAILABLE")
            raise
        finally:
            timer.cancel()
            self._pending.pop(rid, None)
        tracing.end_item_client_span(span, ans.error_code)
        if ans.error_code:
            raise status.from_number(ans.status, ans.error_code, ans.error_message, ans.error_field, ans.error_detail)
        return ans.response

    def _expire(self, rid: int) -> None:
        fut = self._pending.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_exception(stream_failure(late=True))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._outbox = None


def stream_failure(*, late: bool) -> Unavailable:
    """The 503 a call over a stream fails with when the stream itself failed, its cause saying how:
    a :class:`TimeoutError` when the answer did not come in time, else a :class:`ConnectionError`."""
    if late:
        err = Unavailable("the backend did not answer in time")
        err.__cause__ = TimeoutError()
    else:
        err = Unavailable("the backend connection was lost; try again")
        err.__cause__ = ConnectionError()
    return err


async def serve(request_iterator: AsyncIterator, handle: Callable[[Any], Awaitable[Any]], answer_cls: type,
                response_cls: type, what: str) -> AsyncIterator:
    """The server end: run ``handle(request)`` for every item as its own task and yield answers
    as they complete, those completed together in one message. One failing request never
    ends the stream; no request data is logged."""
    out: asyncio.Queue = asyncio.Queue()
    running: set[asyncio.Task] = set()

    async def answer(item) -> None:
        ans = answer_cls(id=item.id)
        with tracing.item_span(item, what) as traced:  # the item's request id (log lines) and span
            try:
                ans.response.CopyFrom(await handle(item.request))
            except EcertError as err:
                ans.status, ans.error_code, ans.error_message = status.to_grpc_number(err), err.code, err.message
                ans.error_field = ",".join(err.blamed)
                ans.error_detail = status.detail(err)
            except Exception:
                log.exception("unexpected error in %s", what)
                ans.status, ans.error_code = grpc.StatusCode.INTERNAL.value[0], "INTERNAL"
                ans.error_message = "internal error"
            if ans.error_code:
                traced.failed(ans.error_code)
        out.put_nowait(ans)

    async def read() -> None:
        try:
            async for msg in request_iterator:
                if len(msg.items) > MAX_ITEMS:
                    log.warning("%s: a message of %d items, over %d: stream closed", what, len(msg.items), MAX_ITEMS)
                    break
                for item in msg.items:
                    while len(running) >= MAX_RUNNING:  # back-pressure: stop reading until some finish
                        await asyncio.wait(set(running), return_when=asyncio.FIRST_COMPLETED)
                    task = asyncio.create_task(answer(item))
                    running.add(task)
                    task.add_done_callback(running.discard)
            if running:
                await asyncio.wait(set(running))
        except grpc.aio.AioRpcError:
            pass  # the client went away
        finally:
            out.put_nowait(None)  # the client closed its side, went away, or broke the rules

    reader = asyncio.create_task(read())
    try:
        done = False
        while not done:
            answers = [await out.get()]
            while not out.empty():
                answers.append(out.get_nowait())
            if answers[-1] is None:
                answers.pop()
                done = True
            if answers:
                yield response_cls(answers=answers)
    finally:
        reader.cancel()
        for task in running:
            task.cancel()
