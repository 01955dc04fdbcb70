"""gRPC plumbing shared by the three services and their clients.

- :func:`create_server` builds a ``grpc.aio`` server with the health service and
  the internal-token check, binds it and returns ``(server, port)`` (port 0 in tests).
- :func:`rpc` wraps a servicer method: domain errors become gRPC statuses with the
  error code in trailing metadata; anything unexpected is logged (no request data)
  and answered ``INTERNAL``.
- :func:`channel` opens a client channel that sends the internal token, and
  :func:`call` turns a client-side ``AioRpcError`` back into a domain error.
- :func:`serve_forever` stops the server gracefully on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .errors import EcertError, Unavailable, from_grpc

log = logging.getLogger("ecert.grpc")

TOKEN_HEADER = "x-ecert-internal-token"
CODE_TRAILER = "ecert-error-code"
FIELD_TRAILER = "ecert-error-field"
MAX_MESSAGE = 16 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
_OPEN_METHODS = ("/grpc.health.v1.Health/",)


class _TokenCheck(grpc.aio.ServerInterceptor):
    """Every call but health checks carries the suite's internal token (streams: once, at the start)."""

    def __init__(self, token: str):
        self._token = token.encode()

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "internal token missing or wrong")

        async def deny_stream(request_iterator, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "internal token missing or wrong")
            yield  # an async generator, as stream handlers are

        self._deny = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_stream_rpc_method_handler(deny_stream)

    def _allowed(self, details) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == TOKEN_HEADER:
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._token)
        return False

    async def intercept_service(self, continuation, details):
        if details.method.startswith(_OPEN_METHODS) or self._allowed(details):
            return await continuation(details)
        handler = await continuation(details)
        if handler is not None and (handler.request_streaming or handler.response_streaming):
            return self._deny_stream
        return self._deny


def create_server(addr: str, register: Iterable[Callable[[grpc.aio.Server], Any]], *,
                  internal_token: str, service_names: Iterable[str]) -> tuple[grpc.aio.Server, int]:
    """A server with health checking and the token check, bound to ``addr``."""
    server = grpc.aio.server(interceptors=[_TokenCheck(internal_token)], options=_OPTIONS)
    for add in register:
        add(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(addr)
    if port == 0:
        raise Unavailable(f"cannot bind {addr}")
    server.health = health_servicer  # type: ignore[attr-defined]
    server.service_names = list(service_names)  # type: ignore[attr-defined]
    return server, port


async def start(server: grpc.aio.Server) -> None:
    await server.start()
    for name in ("", *server.service_names):  # type: ignore[attr-defined]
        await server.health.set(name, health_pb2.HealthCheckResponse.SERVING)  # type: ignore[attr-defined]


async def stop(server: grpc.aio.Server, grace: float = 5.0) -> None:
    for name in ("", *server.service_names):  # type: ignore[attr-defined]
        await server.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)  # type: ignore[attr-defined]
    await server.stop(grace)


async def serve_forever(server: grpc.aio.Server, grace: float = 5.0,
                        on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then stop with a grace period."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await stop(server, grace)
    if on_stop is not None:
        await on_stop()


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def rpc(method: F) -> F:
    """Servicer method wrapper: domain errors to gRPC statuses, never a stack trace to the caller."""

    @functools.wraps(method)
    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        try:
            return await method(self, request, context)
        except EcertError as err:
            trailers = [(CODE_TRAILER, err.code)]
            if err.field:
                trailers.append((FIELD_TRAILER, err.field))
            context.set_trailing_metadata(tuple(trailers))
            await context.abort(err.grpc_status, err.message)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception:
            log.exception("unexpected error in %s", method.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return wrapper  # type: ignore[return-value]


class _AddToken(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str):
        self._md = (TOKEN_HEADER, token)

    async def intercept_unary_unary(self, continuation, d, request):
        md = list(d.metadata or ())
        md.append(self._md)
        return await continuation(grpc.aio.ClientCallDetails(d.method, d.timeout, md, d.credentials,
                                                             d.wait_for_ready), request)


def token_metadata(internal_token: str) -> tuple[tuple[str, str], ...]:
    """Metadata for a stream call: streams take it directly (an interceptor on a stream call
    routes every write through an extra queue)."""
    return ((TOKEN_HEADER, internal_token),)


def channel(target: str, internal_token: str) -> grpc.aio.Channel:
    """A client channel that sends the internal token on every unary call."""
    return grpc.aio.insecure_channel(target, options=_OPTIONS, interceptors=[_AddToken(internal_token)])


class ChannelPool:
    """One channel per target, opened on first use: the regional issuers, whose endpoints
    come from the registry's directory and may change while a process runs."""

    def __init__(self, internal_token: str):
        self._token = internal_token
        self._channels: dict[str, grpc.aio.Channel] = {}

    def get(self, target: str) -> grpc.aio.Channel:
        ch = self._channels.get(target)
        if ch is None:
            ch = self._channels[target] = channel(target, self._token)
        return ch

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for ch in channels.values():
            await ch.close()


T = TypeVar("T")


async def call(awaitable: Awaitable[T]) -> T:
    """Await a client call; a failed call raises the domain error it stands for."""
    try:
        return await awaitable
    except grpc.aio.AioRpcError as err:
        md = dict(err.trailing_metadata() or ())
        code = md.get(CODE_TRAILER)
        if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not code:
            raise Unavailable("a backend service is unavailable") from err
        exc = from_grpc(err.code(), code, err.details() or "")
        exc.field = md.get(FIELD_TRAILER)
        raise exc from err


_STATUS_BY_INT = {sc.value[0]: sc for sc in grpc.StatusCode}


def error_from_status(status: int, code: str, message: str) -> EcertError:
    """The domain error a stream message reports as (gRPC status number, error code, message)."""
    return from_grpc(_STATUS_BY_INT.get(status, grpc.StatusCode.UNKNOWN), code or None, message)
