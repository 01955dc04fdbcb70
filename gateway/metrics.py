"""Prometheus metrics of one gateway app (own registry, so tests can run several apps).

Besides the gateway's own counts, ``/metrics`` says how fresh the verifier's lists are: at each
scrape the route asks the verifier for its cache state (``GetCacheState``, a short deadline) and
hands it to :meth:`Metrics.verifier_state`; the ``ecert_verifier_*`` families give the last state
received (none before the first), and a scrape that could not get one is counted
(:meth:`Metrics.verifier_state_failed`) without changing them. ``ecert_stale_answers_total``
counts the answers the gateway relayed that said a list was stale (:meth:`Metrics.answered`).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from ecert.vocab import StatusAnswer


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
        self.stale_answers = Counter("ecert_stale_answers_total",
                                     "Verification answers relayed that said a list was stale: the trust list "
                                     "(trust_list_stale) or the credential's status list (status unknown)",
                                     ["list"], registry=self.registry)
        self.state_failures = Counter("ecert_verifier_cache_state_failures_total",
                                      "Scrapes at which the verifier's cache state could not be had (the "
                                      "ecert_verifier_* families kept the last state received)",
                                      registry=self.registry)
        self.throttled_requests = Counter(
            "ecert_gateway_throttled", "Requests answered 429, by the caller's role (unknown: refused before any "
            "key was read) and reason: per_minute, per_day (the key's quota), auth_failures (its address's)",
            ["role", "reason"], registry=self.registry)
        self.verifier = VerifierState()
        self.registry.register(self.verifier)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def throttled(self, role: str, reason: str) -> None:
        """A request answered 429: by role, never by key."""
        self.throttled_requests.labels(role or "unknown", reason).inc()

    def verification(self, result: str) -> None:
        self.verifications.labels(result).inc()

    def verifications_by(self, results: Iterable[str]) -> None:
        """Count many outcomes (a batch): one increment per distinct outcome, not per result."""
        for result, n in collections.Counter(results).items():
            self.verifications.labels(result).inc(n)

    def answered(self, answers: Sequence) -> None:
        """Count the verification answers relayed (``VerifyResponse`` messages): their outcomes, and
        those that said the trust list or the status list was stale."""
        if len(answers) == 1:
            self.verification(answers[0].result)
        else:
            self.verifications_by(a.result for a in answers)
        trust = sum(1 for a in answers if a.trust_list_stale)
        status = sum(1 for a in answers if a.status == StatusAnswer.UNKNOWN)
        if trust:
            self.stale_answers.labels("trust").inc(trust)
        if status:
            self.stale_answers.labels("status").inc(status)

    def verifier_state(self, state) -> None:
        """The verifier's cache state (a ``CacheState`` message) as of this scrape."""
        self.verifier.state = state

    def verifier_state_failed(self) -> None:
        self.state_failures.inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class VerifierState(Collector):
    """The ``ecert_verifier_*`` families, from the last cache state the verifier gave (nothing
    before the first). Its event counts are the verifier's own, since it started: they are exposed
    as counters as they are (a verifier that restarts starts them again from 0, as Prometheus
    expects of a counter's reset)."""

    def __init__(self) -> None:
        self.state = None

    def collect(self):
        s = self.state
        if s is None:
            return
        gauges = (
            ("trust_list_version", "Version of the trust list the verifier uses", s.trust_list_version),
            ("trust_list_iat_seconds", "Issue time (iat) of that trust list, epoch seconds", s.trust_list_iat),
            ("trust_list_exp_seconds", "Expiry (exp) of that trust list, epoch seconds", s.trust_list_exp),
            ("trust_list_refreshed_at_seconds", "Last successful trust-list refresh, epoch seconds (0: none known)",
             s.trust_list_refreshed_at),
            ("trust_list_stale", "1 when the trust list is stale (past exp, dated ahead, or not refreshed in time)",
             int(s.trust_list_stale)),
            ("trust_list_refresh_failures", "Trust-list refreshes failed in a row", s.trust_list_failures),
            ("status_lists", "Status lists held in memory", s.status_lists),
            ("status_bytes", "Memory the status lists held take, bytes", s.status_bytes),
            ("status_lists_on_disk", "Status lists kept on disk", s.status_lists_on_disk),
            ("status_oldest_as_of_seconds", "Oldest issue time (iat) among the status lists held (0: none)",
             s.oldest_status_as_of),
            ("outbox_pending_bytes", "Checks the verifier recorded and has not yet delivered to their regions' "
             "trails, bytes", s.outbox_pending_bytes),
        )
        for name, text, value in gauges:
            yield GaugeMetricFamily(f"ecert_verifier_{name}", text, value=value)
        if s.root_kid:
            root = GaugeMetricFamily("ecert_verifier_trust_root_info", "The root key the verifier checks lists "
                                     "against (its kid, hex)", labels=["kid"])
            root.add_metric([s.root_kid], 1)
            yield root
        events = CounterMetricFamily("ecert_verifier_list_events", "What the verifier refused or failed, by list "
                                     "(trust, status) and event, since it started", labels=["list", "event"])
        for e in s.events:
            events.add_metric([e.list, e.event], e.count)
        yield events
