"""The context one request carries through the suite's processes: its request id and its trace.

- :data:`REQUEST_ID`: the request id (the gateway's ``X-Request-Id``) of the request this task
  serves, "" outside one. The gateway sets it; a gRPC call sends it as ``x-request-id`` metadata
  (:func:`outgoing`) and the service it reaches sets it again (:func:`incoming`, in
  :mod:`ecert.rpc.tracing`), so every process's log lines name it (:mod:`ecert.runtime.logs`).
- Tracing is OpenTelemetry's, off until :func:`install` is given a tracer provider
  (:mod:`ecert.runtime.tracing` makes one when an OTLP endpoint is configured; tests install one
  with an in-memory exporter). Off, :func:`tracer` is the API's no-op tracer and :func:`active` is
  False: the interceptors, the gateway's middleware and the store's spans then cost one test of a
  flag. The trace context crosses gRPC as W3C ``traceparent`` metadata.
- A span's attributes never hold personal data: names of methods, routes, collections and
  statuses, the request id, error codes; never a field's value, an ID number or a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["REQUEST_ID", "REQUEST_ID_ATTR", "REQUEST_ID_HEADER", "active", "clean_request_id", "extract", "incoming",
           "install", "outgoing", "tracer", "uninstall"]

REQUEST_ID: ContextVar[str] = ContextVar("ecert_request_id", default="")
REQUEST_ID_HEADER = "x-request-id"
"""The metadata key that carries the request id between processes (lower case, as gRPC wants)."""
REQUEST_ID_ATTR = "ecert.request_id"
"""The span attribute that holds the request id."""
MAX_REQUEST_ID_CHARS = 128
"""A request id longer than this, from another process, is cut (it is only ever logged and traced)."""

_SAFE = re.compile(r"[A-Za-z0-9._:-]*")
"""What a request id is made of (the gateway's own rule for ``X-Request-Id``)."""


def clean_request_id(value: str) -> str:
    """``value`` cut to :data:`MAX_REQUEST_ID_CHARS`, or "" when it holds anything a request id
    cannot (a line break would forge a log line): another process's id is logged only when safe."""
    value = value[:MAX_REQUEST_ID_CHARS]
    return value if _SAFE.fullmatch(value) else ""


PROPAGATOR = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracer()
_tracer: trace.Tracer = _NOOP
_on = False


def install(provider: trace.TracerProvider) -> None:
    """Record spans with ``provider`` from now on (its processors export them)."""
    global _tracer, _on
    _tracer = provider.get_tracer("ecert")
    _on = True


def uninstall() -> None:
    """Back to the no-op tracer (tests)."""
    global _tracer, _on
    _tracer, _on = _NOOP, False


def active() -> bool:
    """Whether spans are recorded."""
    return _on


def tracer() -> trace.Tracer:
    return _tracer


def outgoing() -> list[tuple[str, str]]:
    """Metadata for a call to another process: the request id and, when tracing, ``traceparent``
    of the current span."""
    md = []
    rid = REQUEST_ID.get()
    if rid:
        md.append((REQUEST_ID_HEADER, rid))
    if _on:
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier)
        md.extend(carrier.items())
    return md


def extract(headers) -> otel_context.Context | None:
    """The remote parent a mapping of headers names (``traceparent``), when tracing; else None."""
    if not _on:
        return None
    return PROPAGATOR.extract(headers)


def incoming(metadata: Iterable[tuple[str, str | bytes]] | None) -> tuple[str, otel_context.Context | None]:
    """The request id and the remote trace context a call's metadata carries ("" and None when not
    sent, or when tracing is off for the context)."""
    rid = ""
    carrier: dict[str, str] = {}
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER:
            rid = clean_request_id(value.decode("ascii", "replace") if isinstance(value, bytes) else value)
        elif _on and key in ("traceparent", "tracestate") and isinstance(value, str):
            carrier[key] = value
    return rid, (PROPAGATOR.extract(carrier) if _on and carrier else None)
