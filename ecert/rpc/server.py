"""The server end of the suite's gRPC plumbing, shared by the three services.

- :func:`create_server` builds a ``grpc.aio`` server with the standard health service and
  the guard (:mod:`ecert.rpc.peers`: the internal token, the caller's certificate, the caller
  table) as an interceptor, binds it to a TLS port that requires a client certificate of the
  suite CA and returns ``(server, port)`` (port 0 in tests). A plaintext connection is refused.
  Before the guard, :class:`ecert.rpc.tracing.Traced` takes the caller's request id and trace.
  With ``health_listen`` (``ECERT_HEALTH_LISTEN``) a second, plaintext server answers the health
  service alone on that address, for an orchestrator's own gRPC probe (Kubernetes' ``grpc``
  probe speaks no TLS): it tells SERVING or NOT_SERVING and nothing else.
- :func:`rpc` wraps a servicer method: domain errors become gRPC statuses with the error
  code in trailing metadata (:mod:`ecert.rpc.status`); anything unexpected is logged (no
  request data) and answered ``INTERNAL``.
- :func:`start` and :func:`stop` set the health status around the server's own start and
  graceful stop; :mod:`ecert.rpc.lifecycle` runs a whole process around them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ..errors import EcertError, Unavailable
from . import status
from .links import Links
from .peers import TOKEN_HEADER, Guard
from .tracing import Traced

__all__ = ["MAX_MESSAGE", "OPTIONS", "TOKEN_HEADER", "create_server", "rpc", "start", "stop"]

log = logging.getLogger("ecert.grpc")

MAX_MESSAGE = 16 * 1024 * 1024
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]


def create_server(addr: str, register: Iterable[Callable[[grpc.aio.Server], Any]], *,
                  links: Links, service_names: Iterable[str],
                  health_listen: str = "") -> tuple[grpc.aio.Server, int]:
    """A server with health checking and the guard, bound to ``addr`` with TLS (client
    certificates required); with ``health_listen``, its health service on that plaintext address too."""
    # Traced first: the caller's request id and trace are set before the guard may refuse (its log line names it)
    server = grpc.aio.server(interceptors=[Traced(), Guard(links.token)], options=OPTIONS)
    for add in register:
        add(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_secure_port(addr, links.server_credentials)
    if port == 0:
        raise Unavailable(f"cannot bind {addr}")
    server.health = health_servicer  # type: ignore[attr-defined]
    # the plaintext health-only server and its port (None, 0: none)
    server.health_server, server.health_port = (  # type: ignore[attr-defined]
        _health_server(health_listen, health_servicer) if health_listen else (None, 0))
    server.service_names = list(service_names)  # type: ignore[attr-defined]
    return server, port


def _health_server(addr: str, servicer: health.aio.HealthServicer) -> tuple[grpc.aio.Server, int]:
    """The health service alone, plaintext on ``addr``: no other method, no guard (health is open anyway)."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port(addr)
    if port == 0:
        raise Unavailable(f"cannot bind {addr} (ECERT_HEALTH_LISTEN)")
    return server, port


async def _set_health(server: grpc.aio.Server, serving: bool) -> None:
    value = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *server.service_names):  # type: ignore[attr-defined]
        await server.health.set(name, value)  # type: ignore[attr-defined]


async def start(server: grpc.aio.Server) -> None:
    await server.start()
    if getattr(server, "health_server", None) is not None:
        await server.health_server.start()  # type: ignore[attr-defined]
    await _set_health(server, True)


async def stop(server: grpc.aio.Server, grace: float = 5.0) -> None:
    """Report NOT_SERVING, then stop: calls in progress get ``grace`` seconds to finish."""
    await _set_health(server, False)
    await server.stop(grace)
    if getattr(server, "health_server", None) is not None:
        await server.health_server.stop(None)  # type: ignore[attr-defined]


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def rpc(method: F) -> F:
    """Servicer method wrapper: domain errors to gRPC statuses, never a stack trace to the caller."""

    @functools.wraps(method)
    async def wrapper(self, request, context: grpc.aio.ServicerContext):
        try:
            return await method(self, request, context)
        except EcertError as err:
            context.set_trailing_metadata(status.trailers(err))
            await context.abort(status.to_grpc(err), err.message)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception:
            log.exception("unexpected error in %s", method.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return wrapper  # type: ignore[return-value]
