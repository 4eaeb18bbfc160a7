"""The default config meets the published quality targets on a fixed subset of scenarios.

Fixed seeds, so this is deterministic; it guards detection quality, not speed.
"""

from __future__ import annotations

import pytest

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.evaluation import Quality, evaluate
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import country_days, scenario
from restrictwatch.streams.replay import replay

SUBSET = (
    "ke-small-asn-outage",
    "iq-exam-shutdowns",
    "et-partial-blocking",
    "ru-x-throttling",
    "br-benign-lookalikes",
)


@pytest.fixture(scope="module")
def quality(config: Config) -> Quality:
    total = Quality(config.bin_seconds, 0.0)
    for name in SUBSET:
        spec = scenario(name)
        rendered = render(spec, 1)
        events = replay(rendered.lines, config).events
        total = total.merge(
            evaluate(
                events,
                rendered.truth,
                bin_seconds=config.bin_seconds,
                country_days=country_days(spec),
            )
        )
    return total


def test_recall_and_precision(quality: Quality) -> None:
    s = quality.summary()
    assert s["network_outage"]["recall"] == 1.0
    assert s["platform_restriction"]["recall"] >= 0.9
    assert s["throttling"]["recall"] >= 0.9
    assert s["all"]["precision"] == 1.0


def test_false_events_at_most_one_per_30_country_days(quality: Quality) -> None:
    s = quality.summary()["all"]
    assert quality.country_days and quality.country_days >= 60
    assert s["false_events"] <= quality.country_days / 30


def test_delay_and_boundaries(quality: Quality) -> None:
    s = quality.summary()["all"]
    assert s["delay_median_bins"] is not None and s["delay_median_bins"] <= 2
    assert s["delay_p95_bins"] is not None and s["delay_p95_bins"] <= 4
    assert s["start_error_median_s"] is not None and s["start_error_median_s"] <= 2 * 300
    assert s["end_error_median_s"] is not None and s["end_error_median_s"] <= 2 * 300


def test_one_event_per_incident_and_the_right_kind(quality: Quality) -> None:
    s = quality.summary()["all"]
    assert s["events_per_incident"] == 1.0
    assert s["kind_accuracy"] is not None and s["kind_accuracy"] >= 0.95
