"""Traces out of a process: OTLP when an endpoint is configured, nothing otherwise.

:func:`setup` (each process's ``main``): with ``ECERT_OTLP_ENDPOINT`` (or OpenTelemetry's own
``OTEL_EXPORTER_OTLP_ENDPOINT``), a tracer provider whose batch processor sends the spans over
OTLP/gRPC to that collector (``http://host:4317``: plaintext; ``https://``: TLS), the service named
after the process (``OTEL_SERVICE_NAME`` overrides it); then :func:`ecert.tracing.install`. Without
one, no provider is made: the API's no-op tracer stays, and nothing is recorded or sent. Spans
that cannot be sent (the collector is down) are dropped by the exporter, never block a request.
:func:`in_memory` is the tests' provider.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .. import tracing


def setup(endpoint: str, service: str) -> TracerProvider | None:
    """Export this process's spans to ``endpoint`` over OTLP/gRPC; None (and nothing) when ""."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # only when used

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME")
                                                        or service}))
    insecure = endpoint.startswith("http://")
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure)))
    tracing.install(provider)
    return provider


def in_memory(service: str = "ecert-tests") -> tuple[TracerProvider, InMemorySpanExporter]:
    """A provider that keeps every finished span in memory (tests), installed."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    return provider, exporter
