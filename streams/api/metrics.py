"""Prometheus metrics of the events API, on an injected registry.

Bounded labels only (outcome, reason, route, code, partition, country, kind): never an event id.
What is open is read from the store when Prometheus scrapes, so it cannot drift from the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from restrictwatch.streams.api.store import OUTCOMES, REJECT_REASONS, EventStore, IngestResult

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "rw_api_messages",
            "Event messages read from the events topic, by what became of them",
            ["outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "rw_api_rejected_messages",
            "Messages of the events topic skipped as not JSON or not event.v1, by reason",
            ["reason"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.messages.labels(outcome)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason)
        self.requests = Counter(
            "rw_api_requests",
            "HTTP requests answered, by route template and status code",
            ["route", "code"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "rw_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "rw_api_consumer_lag_messages",
            "Messages of the events topic not yet stored, by partition",
            ["partition"],
            registry=registry,
        )

    def ingested(self, result: IngestResult) -> None:
        for outcome, n in result.outcomes.items():
            self.messages.labels(outcome).inc(n)
        for _, rejection in result.rejections:
            self.rejected.labels(rejection.error_type).inc()

    def watch_store(self, store: Callable[[], EventStore]) -> None:
        """Export what the store holds (open incidents, message count) at every scrape."""
        self.registry.register(_StoreCollector(store))


class _StoreCollector(Collector):
    def __init__(self, store: Callable[[], EventStore]) -> None:
        self.store = store

    def collect(self) -> Iterable[Metric]:
        store = self.store()
        open_now = GaugeMetricFamily(
            "rw_api_incidents_open",
            "Incidents whose latest message in the events API is not resolved",
            labels=["country", "kind"],
        )
        for country, kind, n in store.open_counts():
            open_now.add_metric([country, kind], n)
        held = GaugeMetricFamily(
            "rw_api_stored_messages", "Event messages held in the events API's database"
        )
        held.add_metric([], store.counts()["messages"])
        return [open_now, held]
