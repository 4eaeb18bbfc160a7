from __future__ import annotations

from typing import Any

from restrictwatch.detectors.config import Config, default_document, overlay, parse_config
from restrictwatch.detectors.monitor import CountryMonitor
from restrictwatch.detectors.pipeline import Pipeline
from tests.conftest import START, diurnal, reach, traffic

DAY = 86400


def with_sources(sources: dict[str, Any]) -> Config:
    return parse_config(overlay(default_document(), {"sources": sources}))


def run(config: Config, days: float, daily_until: float = 99, step: int = 300) -> CountryMonitor:
    """5-min traffic (edge-cdn) beside one daily probe record a day (ooni) up to `daily_until`."""
    p = Pipeline(config)
    t = START
    while t < START + days * DAY:
        for raw in (traffic(t, diurnal(t, 100_000)), traffic(t, diurnal(t, 5_000), platform="x")):
            assert p.process(raw).rejection is None
        if (t - START) % DAY == 0 and t < START + daily_until * DAY:
            assert p.process(reach(t, 100, 95, source="ooni")).rejection is None
        t += step
    return p._monitors["PK"]


def all_evaluated(monitor: CountryMonitor) -> bool:
    assert monitor.evaluated_until is not None
    return not [b for b in monitor.pending if b < monitor.evaluated_until]


def test_a_daily_source_with_its_cadence_configured_loses_no_verdict(config: Config) -> None:
    monitor = run(with_sources({"ooni": {"cadence_seconds": DAY}}), 6)
    assert monitor.stats.verdicts_too_late == 0
    # Every closed day of the daily source was evaluated with the traffic beside it.
    daily = [k for k in monitor.last_bin if k.source == "ooni"]
    assert [monitor.last_bin[k] for k in daily] == [START + 5 * DAY - DAY]
    assert monitor.evaluated_until is not None and monitor.evaluated_until >= START + 5 * DAY - 600
    assert all_evaluated(monitor)


def test_a_daily_source_s_cadence_is_inferred_from_its_second_record(config: Config) -> None:
    monitor = run(config, 6)
    assert monitor.sources["ooni"].step == DAY
    assert monitor.silence_limit("ooni") == 2 * DAY
    # Only the first record, before any cadence is known, came after its bin was evaluated.
    assert monitor.stats.verdicts_too_late == 1
    assert all_evaluated(monitor)


def test_a_feed_slower_than_its_configured_cadence_loses_no_data(config: Config) -> None:
    # Configured hourly, it sends daily: the inferred step (the smallest seen, so no pause can
    # lengthen it) says the configuration is wrong, and the longer cadence is used. Under the
    # hourly one it was silent between its records, and every day's verdict came too late.
    monitor = run(with_sources({"ooni": {"cadence_seconds": 3600}}), 3)
    assert monitor.sources["ooni"].step == DAY
    assert monitor.silence_limit("ooni") == 2 * DAY
    assert monitor.silence_limit("edge-cdn") == config.lifecycle.source_silence_seconds
    # Only the first record, before the step was known, came after its bin was evaluated.
    assert monitor.stats.verdicts_too_late == 1


def test_a_source_gone_silent_stops_holding_back_the_others_after_its_limit() -> None:
    config = with_sources({"ooni": {"cadence_seconds": DAY}})
    held = run(config, 3.5, daily_until=2.5)  # 1.5 days since its last record: still live
    assert held.evaluated_until == held.sources["ooni"].closed_until
    assert held.evaluated_until is not None and held.evaluated_until < START + 2 * DAY
    gone = run(config, 4.5, daily_until=2.5)  # 2.5 days: silent
    traffic_clock = gone.sources["edge-cdn"].closed_until
    assert gone.evaluated_until == traffic_clock and traffic_clock is not None
    assert traffic_clock > START + 4.4 * DAY


def test_records_of_one_batch_seconds_apart_do_not_make_a_feed_look_fast(config: Config) -> None:
    p = Pipeline(config)
    for hour in range(4):
        for i, platform in enumerate(("x", "youtube", "signal")):
            t = START + hour * 3600 + 7 * i  # one hourly batch, measured a few seconds apart
            assert p.process(reach(t, 40, 39, platform=platform, source="hourly")).rejection is None
    monitor = p._monitors["PK"]
    assert monitor.sources["hourly"].step == 3600
    assert monitor.silence_limit("hourly") == 7200
