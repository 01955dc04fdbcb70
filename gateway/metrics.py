"""Prometheus metrics of one gateway app (own registry, so tests can run several apps)."""

from __future__ import annotations

import collections
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ecert_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("ecert_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        self.verifications = Counter("ecert_verifications_total", "Verification outcomes", ["result"],
                                     registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def verification(self, result: str) -> None:
        self.verifications.labels(result).inc()

    def verifications_by(self, results: Iterable[str]) -> None:
        """Count many outcomes (a batch): one increment per distinct outcome, not per result."""
        for result, n in collections.Counter(results).items():
            self.verifications.labels(result).inc(n)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
