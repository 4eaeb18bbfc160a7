"""Worker metrics, each test on a fresh registry: per-record counters and scrape-time gauges."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from types import SimpleNamespace
from typing import Any, NamedTuple

import orjson
import pytest
from prometheus_client import CollectorRegistry

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.records import ERROR_TYPES, SeriesKey
from restrictwatch.streams.metrics import WorkerMetrics, faust_consumer_lag, serve
from restrictwatch.streams.replay import replay
from restrictwatch.streams.watchlist import parse_watchlist
from tests.catalogue import good_stream
from tests.conftest import START

DAY = 86400.0
BLOCK_START = START + 8 * DAY  # good_stream blocks platform x for 6 h from here
NOW = 1_800_000_000.0
TOPICS = ("rw.traffic.v1", "rw.reachability.v1")


class TP(NamedTuple):  # the shape of faust's TP
    topic: str
    partition: int


def metrics(registry: CollectorRegistry, **kwargs: Any) -> WorkerMetrics:
    return WorkerMetrics(registry, TOPICS, clock=lambda: NOW, **kwargs)


def cut(lines: list[bytes], until: float) -> list[bytes]:
    return [raw for raw in lines if orjson.loads(raw)["ts"] < until]


@pytest.fixture(scope="module")
def mid_incident(config: Config) -> Pipeline:
    pipeline = replay(cut(good_stream(), BLOCK_START + 3 * 3600), config).pipeline
    assert pipeline is not None and pipeline.totals().open_incidents == 1
    return pipeline


@pytest.fixture(scope="module")
def after_incident(config: Config) -> Pipeline:
    pipeline = replay(good_stream(), config).pipeline
    assert pipeline is not None and pipeline.totals().open_incidents == 0
    return pipeline


def test_record_counters_are_labelled_by_topic_and_reason_and_start_at_zero() -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    topic = TOPICS[0]
    for reason in ERROR_TYPES:
        assert (
            reg.get_sample_value(
                "rw_records_dead_lettered_total", {"topic": topic, "reason": reason}
            )
            == 0.0
        )
    for _ in range(3):
        m.consumed(topic)
    m.processed(topic, START)
    m.dead_lettered(topic, "json")
    m.dead_lettered(topic, "late")  # decoded, then rejected by the pipeline
    m.duration(topic, 0.0003)
    m.duration(topic, 0.2)

    assert reg.get_sample_value("rw_records_consumed_total", {"topic": topic}) == 3
    assert reg.get_sample_value("rw_records_decoded_total", {"topic": topic}) == 2
    assert (
        reg.get_sample_value("rw_records_dead_lettered_total", {"topic": topic, "reason": "json"})
        == 1
    )
    assert reg.get_sample_value("rw_record_processing_seconds_count", {"topic": topic}) == 2
    assert (
        reg.get_sample_value(
            "rw_record_processing_seconds_bucket", {"topic": topic, "le": "0.0005"}
        )
        == 1
    )
    assert reg.get_sample_value("rw_records_consumed_total", {"topic": TOPICS[1]}) == 0
    m.consumed("other")  # a topic not known up front still counts
    assert reg.get_sample_value("rw_records_consumed_total", {"topic": "other"}) == 1


def test_events_checkpoints_and_build_info() -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    m.event_emitted({"country": "PK", "kind": "platform_restriction", "status": "open"})
    m.event_emitted({"country": "PK", "kind": "platform_restriction", "status": "resolved"})
    m.checkpointed(0, 0)
    m.checkpointed(2, 1000)
    m.config_loaded("default-1@abc")
    labels = {"country": "PK", "kind": "platform_restriction", "status": "open"}
    assert reg.get_sample_value("rw_events_total", labels) == 1
    assert reg.get_sample_value("rw_state_checkpoints_total") == 2
    assert reg.get_sample_value("rw_state_checkpoint_bytes_total") == 1000
    assert reg.get_sample_value("rw_config_loads_total") == 1
    info = [s for metric in reg.collect() if metric.name == "rw_build" for s in metric.samples]
    assert len(info) == 1 and info[0].labels["config_version"] == "default-1@abc"
    assert info[0].labels["version"]


def test_refused_reloads_are_counted_by_reason_from_zero() -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    for reason in ("unreadable", "yaml", "invalid", "error"):
        assert reg.get_sample_value("rw_config_load_failures_total", {"reason": reason}) == 0
    m.config_load_failed("invalid")
    assert reg.get_sample_value("rw_config_load_failures_total", {"reason": "invalid"}) == 1
    assert reg.get_sample_value("rw_config_loads_total") == 0


def test_readiness_is_zero_until_partitions_are_held_with_their_state() -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    assert reg.get_sample_value("rw_worker_ready") == 0
    m.ready(True)
    assert reg.get_sample_value("rw_worker_ready") == 1
    m.ready(False)  # a rebalance
    assert reg.get_sample_value("rw_worker_ready") == 0


def test_gauges_describe_an_open_restriction(mid_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    m.watch(lambda: mid_incident)
    pk = {"country": "PK"}
    assert (
        reg.get_sample_value("rw_active_restrictions", {**pk, "kind": "platform_restriction"}) == 1
    )
    assert reg.get_sample_value("rw_active_restrictions", {**pk, "kind": "network_outage"}) == 0
    scope = {**pk, "kind": "platform_restriction", "platforms": "x", "asns": "", "regions": ""}
    assert reg.get_sample_value("rw_active_restriction_info", scope) == 1
    assert (
        reg.get_sample_value("rw_active_restriction_started_timestamp_seconds", scope)
        == BLOCK_START
    )
    severity = reg.get_sample_value("rw_active_restriction_severity_ratio", scope)
    assert severity is not None and 0 < severity <= 1
    assert reg.get_sample_value("rw_series_tracked", {**pk, "signal": "traffic"}) == 2
    assert reg.get_sample_value("rw_anomalous_series", {**pk, "signal": "traffic"}) == 1
    monitor = mid_incident.view("PK")
    assert monitor is not None
    assert reg.get_sample_value("rw_bins_closed_total", pk) == monitor.bins_closed > 0
    state = reg.get_sample_value("rw_detector_state_bytes", pk)
    assert state == len(mid_incident.snapshot("PK") or b"")
    newest = monitor.max_ts
    assert reg.get_sample_value("rw_event_time_lag_seconds", {"source": "edge-cdn"}) == NOW - newest
    assert (
        reg.get_sample_value("rw_source_last_record_timestamp_seconds", {"source": "edge-cdn"})
        == NOW
    )
    assert monitor.evaluated_until is not None
    assert (
        reg.get_sample_value("rw_watermark_delay_seconds", pk) == newest - monitor.evaluated_until
    )


def test_default_watchlist_exports_only_country_totals(mid_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    m.watch(lambda: mid_incident)
    total = {
        "country": "PK",
        "region": "",
        "signal": "traffic",
        "source": "edge-cdn",
        "asn": "",
        "platform": "",
    }
    view = mid_incident.view("PK")
    assert view is not None
    (verdict,) = [
        r for r in view.readings if r.key == SeriesKey("traffic", "edge-cdn", "PK", None, None)
    ]
    assert reg.get_sample_value("rw_series_observed", total) == verdict.observed
    assert reg.get_sample_value("rw_series_expected", total) == verdict.expected
    assert reg.get_sample_value("rw_series_score", total) == verdict.z
    assert reg.get_sample_value("rw_series_observed", {**total, "platform": "x"}) is None
    assert reg.get_sample_value("rw_watchlist_series") == 1


def test_watchlist_selects_platforms_and_is_capped(mid_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    m = metrics(reg, watchlist="traffic:PK:-:*")
    m.watch(lambda: mid_incident)
    x = {
        "country": "PK",
        "region": "",
        "signal": "traffic",
        "source": "edge-cdn",
        "asn": "",
        "platform": "x",
    }
    score = reg.get_sample_value("rw_series_score", x)
    assert score is not None and score <= -3
    assert reg.get_sample_value("rw_watchlist_series") == 2

    capped = CollectorRegistry()
    metrics(capped, watchlist="*:*:*:*", watch_limit=1).watch(lambda: mid_incident)
    assert capped.get_sample_value("rw_watchlist_series") == 1
    assert capped.get_sample_value("rw_watchlist_overflow_series") == 1

    nothing = CollectorRegistry()
    metrics(nothing, watchlist="traffic:IR:-:-").watch(lambda: mid_incident)
    assert nothing.get_sample_value("rw_watchlist_series") == 0


def test_watchlist_names_a_region_or_every_region_of_a_country() -> None:
    def key(region: str | None, country: str = "PK") -> SeriesKey:
        return SeriesKey("traffic", "cdn", country, None, None, region)

    (one,) = parse_watchlist("traffic:PK-BA:-:-")
    assert one.matches(key("PK-BA")) and not one.matches(key("PK-SD"))
    assert not one.matches(key(None))
    (every,) = parse_watchlist("traffic:PK-*:-:-")
    assert every.matches(key("PK-BA")) and every.matches(key(None))
    assert not every.matches(key("IN-JK", "IN"))
    (countries,) = parse_watchlist("traffic:*:-:-")
    assert countries.matches(key(None)) and not countries.matches(key("PK-BA"))
    with pytest.raises(ConfigError, match="region"):
        parse_watchlist("traffic:*-BA:-:-")


def test_a_resolved_restriction_leaves_zero_active(after_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    metrics(reg).watch(lambda: after_incident)
    for kind in ("platform_restriction", "network_outage", "throttling"):
        assert reg.get_sample_value("rw_active_restrictions", {"country": "PK", "kind": kind}) == 0
    families = {m.name: m for m in reg.collect()}
    assert families["rw_active_restriction_info"].samples == []
    assert reg.get_sample_value("rw_anomalous_series", {"country": "PK", "signal": "traffic"}) == 0


def test_event_counters_of_a_watched_country_start_at_zero(mid_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    opened = {"country": "PK", "kind": "platform_restriction", "status": "open"}
    assert reg.get_sample_value("rw_events_total", opened) is None
    m.watch(lambda: mid_incident)
    list(reg.collect())  # a scrape sees PK before its first event...
    assert reg.get_sample_value("rw_events_total", opened) == 0
    m.event_emitted(opened)  # ...so increase() over the first event is 1, not nothing
    assert reg.get_sample_value("rw_events_total", opened) == 1


def test_no_pipeline_yet_exposes_families_without_samples() -> None:
    reg = CollectorRegistry()
    metrics(reg)
    families = {m.name: m for m in reg.collect()}
    assert families["rw_series_tracked"].samples == []
    assert families["rw_active_restrictions"].samples == []


def test_consumer_lag_from_a_lag_source_and_a_failing_one(mid_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    m.watch(lambda: mid_incident, lambda: [(TOPICS[0], 0, 42), (TOPICS[0], 1, -3)])
    lag = "rw_kafka_consumer_lag_records"
    assert reg.get_sample_value(lag, {"topic": TOPICS[0], "partition": "0"}) == 42
    assert reg.get_sample_value(lag, {"topic": TOPICS[0], "partition": "1"}) == 0

    def broken() -> list[tuple[str, int, int]]:
        raise RuntimeError("rebalancing")

    m.watch(lambda: mid_incident, broken)
    assert reg.get_sample_value(lag, {"topic": TOPICS[0], "partition": "0"}) is None
    assert reg.get_sample_value("rw_series_tracked", {"country": "PK", "signal": "traffic"}) == 2


def test_faust_consumer_lag_is_end_minus_committed_for_input_partitions() -> None:
    ends = {TP("in", 0): 100, TP("in", 1): None, TP("in", 2): 5, TP("state-changelog", 0): 7}
    app = SimpleNamespace(
        consumer=SimpleNamespace(assignment=lambda: set(ends), highwater=ends.__getitem__),
        monitor=SimpleNamespace(tp_committed_offsets={TP("in", 0): 60}),
    )
    # partition 1: end not known yet; partition 2: nothing committed yet, all of it is lag
    assert list(faust_consumer_lag(app, ["in"])) == [("in", 0, 40), ("in", 2, 5)]


def test_watchlist_syntax() -> None:
    (sel,) = parse_watchlist("traffic:pk:17557:-")
    assert sel.matches(SeriesKey("traffic", "edge-cdn", "PK", 17557, None))
    assert not sel.matches(SeriesKey("traffic", "edge-cdn", "PK", 17557, "x"))
    assert not sel.matches(SeriesKey("reachability", "probe-mesh", "PK", 17557, None))
    assert len(parse_watchlist("traffic:*:-:-, reachability:PK:*:*,")) == 2
    for bad in (
        "traffic:PK:-",
        "dns:PK:-:-",
        "traffic:PAK:-:-",
        "traffic:PK:AS1:-",
        "traffic:PK:-:",
    ):
        with pytest.raises(ConfigError):
            parse_watchlist(bad)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_exposes_the_registry_over_http(mid_incident: Pipeline) -> None:
    reg = CollectorRegistry()
    m = metrics(reg)
    m.watch(lambda: mid_incident)
    port = _free_port()

    async def scrape() -> str:
        server = asyncio.create_task(serve(reg, "127.0.0.1", port))
        try:
            for _ in range(50):
                await asyncio.sleep(0.05)
                try:
                    return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
                except OSError:
                    continue
            raise AssertionError("metrics endpoint never answered")
        finally:
            server.cancel()

    body = asyncio.run(scrape())
    assert 'rw_active_restrictions{country="PK",kind="platform_restriction"} 1.0' in body
    assert "# TYPE rw_records_consumed_total counter" in body


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
        return text


def test_no_name_is_one_of_faust_s_own_prometheus_sensor_names() -> None:
    """Even with the app id `rw`, Faust's sensor (`<app>_messages_received`, ...) cannot collide."""
    from faust.sensors.prometheus import FaustMetrics

    faust_registry = CollectorRegistry()
    FaustMetrics.create(faust_registry, "rw")
    ours = CollectorRegistry()
    WorkerMetrics(ours, TOPICS)
    faust_names = {m.name for m in faust_registry.collect()}
    our_names = {m.name for m in ours.collect()}
    assert len(faust_names) > 20 and our_names
    assert not faust_names & our_names


def test_warming_series_are_visible(config: Config) -> None:
    """A series whose latest bin gave no full verdict is counted as warming up, per signal."""
    young = replay(cut(good_stream(), START + DAY), config).pipeline
    assert young is not None and young.totals().warming_series > 0
    reg = CollectorRegistry()
    metrics(reg).watch(lambda: young)
    warming = reg.get_sample_value("rw_series_warming", {"country": "PK", "signal": "traffic"})
    assert warming == young.view("PK").warming["traffic"]  # type: ignore[union-attr] > 0
    grown = replay(good_stream(), config).pipeline
    assert grown is not None and grown.totals().warming_series == 0
