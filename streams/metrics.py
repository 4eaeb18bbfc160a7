"""Prometheus metrics of a worker: counters bumped per record, gauges read from the live pipeline.

Per-record work is a few pre-bound counter increments and one histogram observation. Everything
that describes detection state (series, anomalies, open restrictions, clocks, state size, the
watch-list's observed and expected values, consumer lag) is computed when Prometheus scrapes,
from the pipeline itself, so it can never drift from what the detector believes.

Naming follows Prometheus conventions: the `rw_` prefix, base units (`_seconds`, `_bytes`),
`_total` on counters, and bounded labels only (topic, partition, reason, country, kind, status,
signal, source; for the watch-list, ASN and platform of a bounded, configured set of series).
Never a per-series or per-event id. Faust's own Prometheus sensor names are not reused.

The registry is a parameter, so tests use a fresh one. The worker serves it from its own event
loop (see `attach`): scrapes then read the pipeline between two records, never in the middle of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.records import ERROR_TYPES
from restrictwatch.detectors.view import CountryView, Reading
from restrictwatch.detectors.vocabulary import KINDS, OUTAGE, SIGNALS, STATUSES
from restrictwatch.streams.watchlist import WatchSelector, parse_watchlist

if TYPE_CHECKING:
    from restrictwatch.streams.settings import WorkerSettings

log = logging.getLogger("restrictwatch.metrics")

# Rejections that happen after a record decoded into a sample: those records count as decoded.
AFTER_DECODE: frozenset[str] = frozenset({"wrong_key", "future", "late", "duplicate"})
# Per-record handling takes tens of microseconds; a slow one waits on the producer.
DURATION_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
    2.5,
)
DEFAULT_WATCHLIST = "traffic:*:-:-"
DEFAULT_WATCH_LIMIT = 200
MAX_ASN_LABELS = 8


Family = GaugeMetricFamily | CounterMetricFamily
LagSource = Callable[[], Iterable[tuple[str, int, int]]]


class PipelineCollector(Collector):
    """Gauges computed at scrape time from the live pipeline."""

    def __init__(
        self,
        watchlist: Sequence[WatchSelector],
        watch_limit: int = DEFAULT_WATCH_LIMIT,
        clock: Callable[[], float] = time.time,
        state_size_interval: float = 60.0,
    ) -> None:
        self.watchlist = tuple(watchlist)
        self.watch_limit = watch_limit
        self.clock = clock
        self.state_size_interval = state_size_interval
        self.pipeline: Callable[[], Pipeline | None] = lambda: None
        self.lag: LagSource | None = None
        self.on_country: Callable[[str], None] = lambda country: None
        self._state_bytes: dict[str, tuple[int, float]] = {}
        self._source_seen: dict[str, tuple[float, float]] = {}  # source -> (newest ts, wall)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Family]:
        watch = ["country", "region", "signal", "source", "asn", "platform"]
        restriction = ["country", "kind", "platforms", "asns", "regions"]
        yield GaugeMetricFamily(
            "rw_series_tracked",
            "Series the detector keeps a model for.",
            labels=["country", "signal"],
        )
        yield GaugeMetricFamily(
            "rw_series_warming",
            "Series whose latest bin gave no full verdict yet: warming up, or a time of day not "
            "learned. They cannot raise an incident (a warming traffic total can raise an outage).",
            labels=["country", "signal"],
        )
        yield GaugeMetricFamily(
            "rw_detector_state_bytes",
            "Size of a country's checkpointed detector state (recomputed at most once a minute).",
            labels=["country"],
        )
        yield GaugeMetricFamily(
            "rw_anomalous_series",
            "Series whose latest fresh bin is at least min_sigmas below expected.",
            labels=["country", "signal"],
        )
        yield CounterMetricFamily(
            "rw_bins_closed", "Series bins closed by the watermark.", labels=["country"]
        )
        yield CounterMetricFamily(
            "rw_bins_evaluated", "Country bins evaluated for incidents.", labels=["country"]
        )
        yield GaugeMetricFamily(
            "rw_active_restrictions",
            "Open incidents (restrictions) by country and kind.",
            labels=["country", "kind"],
        )
        yield GaugeMetricFamily(
            "rw_active_restriction_info",
            "One per open incident scope: platforms, ASNs and regions comma-separated (empty: "
            "all).",
            labels=restriction,
        )
        yield GaugeMetricFamily(
            "rw_active_restriction_started_timestamp_seconds",
            "Event time at which the open incident began.",
            labels=restriction,
        )
        yield GaugeMetricFamily(
            "rw_active_restriction_severity_ratio",
            "Share of expected traffic or reachability lost, averaged over the open incident.",
            labels=restriction,
        )
        yield GaugeMetricFamily(
            "rw_series_observed", "Observed value of a watched series' latest bin.", labels=watch
        )
        yield GaugeMetricFamily(
            "rw_series_expected", "Expected value of a watched series' latest bin.", labels=watch
        )
        yield GaugeMetricFamily(
            "rw_series_score",
            "Standardized deviation of a watched series' latest bin (negative: below expected).",
            labels=watch,
        )
        yield GaugeMetricFamily("rw_watchlist_series", "Series exported through the watch-list.")
        yield GaugeMetricFamily(
            "rw_watchlist_overflow_series",
            "Series the watch-list matched beyond its limit, not exported.",
        )
        yield GaugeMetricFamily(
            "rw_event_time_lag_seconds",
            "Wall clock minus the newest event time seen from a source.",
            labels=["source"],
        )
        yield GaugeMetricFamily(
            "rw_source_last_record_timestamp_seconds",
            "Wall-clock time at which a source's newest event time last advanced (as seen at scrape).",
            labels=["source"],
        )
        yield GaugeMetricFamily(
            "rw_watermark_delay_seconds",
            "Newest event time of a country minus the event time up to which its bins were evaluated.",
            labels=["country"],
        )
        yield GaugeMetricFamily(
            "rw_kafka_consumer_lag_records",
            "Records in an input partition beyond the committed offset.",
            labels=["topic", "partition"],
        )

    def collect(self) -> Iterable[Metric]:
        families = {m.name: m for m in self._families()}
        pipeline = self.pipeline()
        now = self.clock()
        if pipeline is not None:
            self._collect_pipeline(pipeline, now, families)
        if self.lag is not None:
            try:
                lags = list(self.lag())
            except Exception as exc:  # the consumer may be rebalancing: report what is known
                log.debug("consumer lag unavailable: %s", exc)
                lags = []
            for topic, partition, lag in lags:
                families["rw_kafka_consumer_lag_records"].add_metric(
                    [topic, str(partition)], max(0, lag)
                )
        return list(families.values())

    def _collect_pipeline(self, pipeline: Pipeline, now: float, f: dict[str, Family]) -> None:
        newest: dict[str, float] = {}
        watched: list[Reading] = []
        overflow = 0
        views = pipeline.views()
        for view in views:
            self.on_country(view.country)
            self._collect_country(view, pipeline, now, f)
            for source, ts in view.newest_by_source.items():
                newest[source] = max(newest.get(source, float("-inf")), ts)
            if not self.watchlist:
                continue
            for r in sorted(view.fresh_readings(), key=_key_order):
                if any(s.matches(r.key) for s in self.watchlist):
                    if len(watched) < self.watch_limit:
                        watched.append(r)
                    else:
                        overflow += 1
        for r in watched:
            key = r.key
            labels = [
                key.country,
                key.region or "",
                key.signal,
                key.source,
                "" if key.asn is None else str(key.asn),
                key.platform or "",
            ]
            f["rw_series_observed"].add_metric(labels, r.observed)
            f["rw_series_expected"].add_metric(labels, r.expected)
            f["rw_series_score"].add_metric(labels, r.z)
        f["rw_watchlist_series"].add_metric([], len(watched))
        f["rw_watchlist_overflow_series"].add_metric([], overflow)
        for source, ts in sorted(newest.items()):
            seen = self._source_seen.get(source)
            if seen is None or ts > seen[0]:
                seen = self._source_seen[source] = (ts, now)
            f["rw_event_time_lag_seconds"].add_metric([source], now - ts)
            f["rw_source_last_record_timestamp_seconds"].add_metric([source], seen[1])
        for country in set(self._state_bytes) - {v.country for v in views}:
            del self._state_bytes[country]  # revoked: another worker reports it now

    def _collect_country(
        self, view: CountryView, pipeline: Pipeline, now: float, f: dict[str, Family]
    ) -> None:
        country = view.country
        tracked = dict.fromkeys(SIGNALS, 0)
        for key in view.series:
            tracked[key.signal] = tracked.get(key.signal, 0) + 1
        anomalous = dict.fromkeys(tracked, 0)
        for r in view.fresh_readings():
            if r.anomalous:
                anomalous[r.key.signal] = anomalous.get(r.key.signal, 0) + 1
        for signal in sorted(tracked):
            f["rw_series_tracked"].add_metric([country, signal], tracked[signal])
            f["rw_series_warming"].add_metric([country, signal], view.warming.get(signal, 0))
            f["rw_anomalous_series"].add_metric([country, signal], anomalous[signal])
        f["rw_detector_state_bytes"].add_metric([country], self._state_size(pipeline, country, now))
        f["rw_bins_closed"].add_metric([country], view.bins_closed)
        f["rw_bins_evaluated"].add_metric([country], view.bins_evaluated)
        if view.evaluated_until is not None:
            f["rw_watermark_delay_seconds"].add_metric(
                [country], max(0.0, view.max_ts - view.evaluated_until)
            )
        active = dict.fromkeys(KINDS, 0)
        scopes: dict[tuple[str, str, str, str], tuple[int, float, float]] = {}
        for incident in view.incidents:
            active[incident.kind] = active.get(incident.kind, 0) + 1
            platforms = ",".join(incident.platforms) if incident.kind != OUTAGE else ""
            scope = (
                incident.kind,
                platforms,
                _scope_label(incident.asns),
                _scope_label(incident.regions),
            )
            count, started, worst = scopes.get(scope, (0, incident.started_at, 0.0))
            scopes[scope] = (
                count + 1,
                min(started, incident.started_at),
                max(worst, incident.severity),
            )
        for kind in sorted(active):
            f["rw_active_restrictions"].add_metric([country, kind], active[kind])
        for (kind, platforms, asns, regions), (count, started, severity) in sorted(scopes.items()):
            labels = [country, kind, platforms, asns, regions]
            f["rw_active_restriction_info"].add_metric(labels, count)
            f["rw_active_restriction_started_timestamp_seconds"].add_metric(labels, started)
            f["rw_active_restriction_severity_ratio"].add_metric(labels, severity)

    def _state_size(self, pipeline: Pipeline, country: str, now: float) -> int:
        cached = self._state_bytes.get(country)
        if cached is not None and now - cached[1] < self.state_size_interval:
            return cached[0]
        size = len(pipeline.snapshot(country) or b"")
        self._state_bytes[country] = (size, now)
        return size


def _key_order(reading: Reading) -> tuple[str, str, int, str, str]:
    key = reading.key
    return (key.signal, key.source, key.asn or 0, key.platform or "", key.region or "")


def _scope_label(items: Sequence[object]) -> str:
    """Comma-separated ASNs or regions, empty for all; capped so the label set stays bounded."""
    names = [str(i) for i in items]
    if len(names) <= MAX_ASN_LABELS:
        return ",".join(names)
    return ",".join(names[:MAX_ASN_LABELS]) + f",+{len(names) - MAX_ASN_LABELS}"


def _version() -> str:
    try:
        return package_version("restrictwatch")
    except PackageNotFoundError:
        return "unknown"


class WorkerMetrics:
    """The worker's `WorkerObserver` that records Prometheus metrics into `registry`."""

    def __init__(
        self,
        registry: CollectorRegistry,
        topics: Sequence[str] = (),
        watchlist: Sequence[WatchSelector] | str = DEFAULT_WATCHLIST,
        watch_limit: int = DEFAULT_WATCH_LIMIT,
        clock: Callable[[], float] = time.time,
        listen: tuple[str, int] | None = None,
    ) -> None:
        self.registry = registry
        self.listen = listen
        if isinstance(watchlist, str):
            watchlist = parse_watchlist(watchlist)
        self.consumed_total = Counter(
            "rw_records_consumed",
            "Records read from an input topic (each record of a batch message counts).",
            ["topic"],
            registry=registry,
        )
        self.decoded_total = Counter(
            "rw_records_decoded",
            "Records that decoded into a valid sample (accepted, or later rejected as "
            "wrongly keyed, future, late or duplicate).",
            ["topic"],
            registry=registry,
        )
        self.dead_lettered_total = Counter(
            "rw_records_dead_lettered",
            "Records sent to the dead-letter topic, by reason.",
            ["topic", "reason"],
            registry=registry,
        )
        self.processing = Histogram(
            "rw_record_processing_seconds",
            "Time to handle one consumed record, publishing included.",
            ["topic"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.events_total = Counter(
            "rw_events",
            "Event messages emitted, by country, kind and status.",
            ["country", "kind", "status"],
            registry=registry,
        )
        self.checkpoints_total = Counter(
            "rw_state_checkpoints",
            "Country states written to the state table.",
            registry=registry,
        )
        self.checkpoint_bytes_total = Counter(
            "rw_state_checkpoint_bytes",
            "Bytes of country state written to the state table.",
            registry=registry,
        )
        self.rewinds_total = Counter(
            "rw_commit_rewinds",
            "Input partitions read again from their commit because it had stopped in front of "
            "records the consumer never delivered (see streams/commitwatch.py).",
            ["topic"],
            registry=registry,
        )
        self.config_loads_total = Counter(
            "rw_config_loads",
            "Detector configs loaded (at start and on each reload).",
            registry=registry,
        )
        self.config_load_failures_total = Counter(
            "rw_config_load_failures",
            "Detector config reloads refused (the running config stays), by reason: unreadable, "
            "yaml, invalid, or error.",
            ["reason"],
            registry=registry,
        )
        for reason in (*ConfigError.REASONS, "error"):
            self.config_load_failures_total.labels(reason)  # 0 before the first failure
        self.ready_gauge = Gauge(
            "rw_worker_ready",
            "1 when the worker holds its partitions with their state restored; 0 while it "
            "starts or rebalances.",
            registry=registry,
        )
        self.build = Info(
            "rw_build", "Version of restrictwatch and of its detector config.", registry=registry
        )
        self.build.info({"version": _version(), "config_version": ""})
        self.collector = PipelineCollector(watchlist, watch_limit, clock)
        self.collector.on_country = self._bind_country
        self._countries: set[str] = set()
        registry.register(self.collector)
        self._consumed: dict[str, Counter] = {}
        self._decoded: dict[str, Counter] = {}
        self._durations: dict[str, Histogram] = {}
        self._dead: dict[tuple[str, str], Counter] = {}
        for topic in topics:
            self._bind(topic)

    def _bind(self, topic: str) -> None:
        """Create a topic's children up front: zero-valued series make rate() work from the start."""
        self._consumed[topic] = self.consumed_total.labels(topic)
        self._decoded[topic] = self.decoded_total.labels(topic)
        self._durations[topic] = self.processing.labels(topic)
        for reason in ERROR_TYPES:
            self._dead[(topic, reason)] = self.dead_lettered_total.labels(topic, reason)
        self.rewinds_total.labels(topic)

    # -- WorkerObserver ---------------------------------------------------------------------

    def consumed(self, topic: str, records: int = 1) -> None:
        child = self._consumed.get(topic)
        if child is None:
            self._bind(topic)
            child = self._consumed[topic]
        child.inc(records)

    def processed(self, topic: str, event_ts: float) -> None:
        child = self._decoded.get(topic)
        if child is None:
            self._bind(topic)
            child = self._decoded[topic]
        child.inc()

    def dead_lettered(self, topic: str, reason: str) -> None:
        child = self._dead.get((topic, reason))
        if child is None:
            child = self._dead[(topic, reason)] = self.dead_lettered_total.labels(topic, reason)
        child.inc()
        if reason in AFTER_DECODE:
            self.processed(topic, 0.0)

    def duration(self, topic: str, seconds: float) -> None:
        child = self._durations.get(topic)
        if child is None:
            self._bind(topic)
            child = self._durations[topic]
        child.observe(seconds)

    def _bind_country(self, country: str) -> None:
        """Event counters of a country start at zero before its first event, so increase() and
        rate() count that first event (a series born at 1 shows no increase)."""
        if country in self._countries:
            return
        self._countries.add(country)
        for kind in KINDS:
            for status in STATUSES:
                self.events_total.labels(country, kind, status)

    def event_emitted(self, event: Mapping[str, Any]) -> None:
        self.events_total.labels(event["country"], event["kind"], event["status"]).inc()

    def checkpointed(self, countries: int, size: int) -> None:
        if countries:
            self.checkpoints_total.inc(countries)
            self.checkpoint_bytes_total.inc(size)

    def rewound(self, topic: str) -> None:
        self.rewinds_total.labels(topic).inc()

    def config_loaded(self, fingerprint: str) -> None:
        self.config_loads_total.inc()
        self.build.info({"version": _version(), "config_version": fingerprint})

    def config_load_failed(self, reason: str) -> None:
        self.config_load_failures_total.labels(reason).inc()

    def ready(self, ready: bool) -> None:
        self.ready_gauge.set(1 if ready else 0)

    # -- wiring -----------------------------------------------------------------------------

    def watch(self, pipeline: Callable[[], Pipeline | None], lag: LagSource | None = None) -> None:
        """Read gauges from this pipeline (and consumer lag from `lag`) at each scrape."""
        self.collector.pipeline = pipeline
        self.collector.lag = lag

    def attach(self, app: Any) -> None:
        """Wire a Faust app built by `streams.app.create_app`; serve /metrics on its event loop.

        On the loop, a scrape reads the pipeline between two records, never in the middle of one.
        """
        topics = tuple(app.rw_handler.topics)
        for topic in topics:
            if topic not in self._consumed:
                self._bind(topic)
        self.watch(lambda: app.rw_handler.pipeline, lambda: faust_consumer_lag(app, topics))
        if self.listen is not None:
            registry, (host, port) = self.registry, self.listen

            async def serve_metrics_endpoint() -> None:
                await serve(registry, host, port)

            app.task(serve_metrics_endpoint)


def faust_consumer_lag(app: Any, topics: Sequence[str]) -> Iterator[tuple[str, int, int]]:
    """(topic, partition, end offset - committed offset) for the input partitions this worker owns."""
    consumer = app.consumer
    committed = app.monitor.tp_committed_offsets
    for tp in sorted(consumer.assignment()):
        if tp.topic not in topics:
            continue
        end = consumer.highwater(tp)
        if end is None:
            continue
        yield tp.topic, tp.partition, end - (committed.get(tp) or 0)


async def serve(registry: CollectorRegistry, host: str, port: int) -> None:
    """Serve `registry` at http://host:port/metrics until cancelled."""
    from aiohttp import web
    from prometheus_client.aiohttp import make_aiohttp_handler

    web_app = web.Application()
    web_app.router.add_get("/metrics", make_aiohttp_handler(registry))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("serving /metrics on %s:%d", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()


def serve_metrics(settings: WorkerSettings) -> WorkerMetrics:
    """The worker's metrics, process metrics included; served on `metrics_port` once attached."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series: unused noise
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return WorkerMetrics(
        registry,
        (settings.traffic_topic, settings.reachability_topic),
        settings.metrics_watch,
        settings.metrics_watch_limit,
        listen=(settings.metrics_host, settings.metrics_port),
    )
