"""The client end of the suite's gRPC plumbing.

- :func:`channel` opens a TLS channel (this process's certificate, the suite CA, the server's
  certificate must name ``peer``) that sends the internal token on every unary call;
  :class:`ChannelPool` keeps one per target for the regional issuers.
- :func:`call` awaits a client call and turns a failure back into the domain error it
  stands for (:mod:`ecert.rpc.status`). Every call the suite makes passes a deadline
  (``timeout=``); :data:`DEFAULT_TIMEOUT` is the one used where no other is named.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc

from . import status, tracing
from .links import Links
from .server import OPTIONS, TOKEN_HEADER

DEFAULT_TIMEOUT = 10.0
"""Seconds a call to another process of the suite may take unless the caller says otherwise."""


class _AddToken(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the internal token, and the default deadline to a call that has none; the request id and
    the trace context too (:mod:`ecert.rpc.tracing`)."""

    def __init__(self, token: str):
        self._md = (TOKEN_HEADER, token)

    async def intercept_unary_unary(self, continuation, d, request):
        md = list(d.metadata or ())
        md.append(self._md)
        timeout = d.timeout if d.timeout is not None else DEFAULT_TIMEOUT
        return await tracing.client_call(continuation, d, request, md, timeout)  # + request id, trace


def token_metadata(links: Links) -> tuple[tuple[str, str], ...]:
    """Metadata for a stream call: streams take it directly (an interceptor on a stream call
    routes every write through an extra queue). A stream carries many requests: no request id,
    no trace context (each item's is its own)."""
    return ((TOKEN_HEADER, links.token),)


def channel(target: str, links: Links, *, peer: str, options: tuple[tuple[str, int], ...] = ()) -> grpc.aio.Channel:
    """A TLS channel to ``target`` that sends the internal token on every unary call. The server
    must show a certificate of the suite CA that names ``peer`` (``registry``, ``verifier``,
    ``issuer`` or one identity), whatever address ``target`` is. ``options``: more channel
    arguments (a replica's shorter reconnection back-off, :mod:`ecert.rpc.balance`)."""
    options = [*OPTIONS, ("grpc.ssl_target_name_override", peer.lower()), *options]
    return grpc.aio.secure_channel(target, links.channel_credentials, options=options,
                                   interceptors=[_AddToken(links.token)])


class ChannelPool:
    """One channel per target, opened on first use: the regional issuers, whose endpoints
    come from the registry's directory and may change while a process runs. Each server
    must show a certificate naming ``peer``."""

    def __init__(self, links: Links, *, peer: str):
        self._links = links
        self._peer = peer
        self._channels: dict[str, grpc.aio.Channel] = {}

    def get(self, target: str) -> grpc.aio.Channel:
        ch = self._channels.get(target)
        if ch is None:
            ch = self._channels[target] = channel(target, self._links, peer=self._peer)
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
        raise status.from_rpc_error(err) from err
