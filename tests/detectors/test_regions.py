"""Regions: records, correlation across the country and its regions, incidents, summaries."""

from __future__ import annotations

from typing import Any

import orjson

from restrictwatch.detectors.config import Thresholds, load_config
from restrictwatch.detectors.correlate import Observation, classify_bin
from restrictwatch.detectors.evaluation import evaluate
from restrictwatch.detectors.events import summarize
from restrictwatch.detectors.incidents import IncidentBook
from restrictwatch.detectors.records import Rejection, SeriesKey, decode_sample
from restrictwatch.detectors.schemas import validator
from restrictwatch.detectors.series import Verdict
from restrictwatch.detectors.vocabulary import OUTAGE

T = Thresholds()
CFG = load_config()
T0 = 1_702_825_200.0


def total(
    observed: float, expected: float, region: str | None = None, asn: int | None = None
) -> Verdict:
    key = SeriesKey("traffic", "cdn", "PK", asn, None, region)
    z = -20.0 if observed < expected * 0.9 else 0.0
    return Verdict(key, observed, expected, z, True)


def classify(*verdicts: Verdict) -> dict[Any, Observation]:
    return classify_bin(list(verdicts), {v.key: T for v in verdicts})


def test_a_record_carries_its_region_into_the_series_key() -> None:
    raw = b'{"signal":"traffic","ts":1702825200,"country":"PK","region":"PK-BA","value":5,"source":"s"}'
    sample = decode_sample(raw)
    assert not isinstance(sample, Rejection)
    assert sample.key.region == "PK-BA"


def test_a_region_of_another_country_is_rejected_with_its_reason() -> None:
    raw = b'{"signal":"traffic","ts":1702825200,"country":"PK","region":"IN-JK","value":5,"source":"s"}'
    rejection = decode_sample(raw)
    assert isinstance(rejection, Rejection)
    assert rejection.error_type == "unknown_region" and "IN-JK" in rejection.reason


def test_a_regional_outage_is_the_regions_not_the_countrys() -> None:
    # Balochistan dark; the country total falls too (a large region would move it past the
    # outage threshold); Punjab is up: the outage is Balochistan's alone.
    out = classify(total(300, 1000), total(2, 100, "PK-BA"), total(500, 500, "PK-PB"))
    assert out[("outage", None, None, "PK-BA")].kind == OUTAGE
    assert not out[("outage", None, None, "PK-PB")].anomalous
    assert ("outage", None, None, None) not in out


def test_networks_falling_while_the_regions_split_are_left_to_the_regions() -> None:
    out = classify(
        total(300, 1000),
        total(30, 100, asn=1),
        total(2, 100, "PK-BA"),
        total(500, 500, "PK-PB"),
    )
    assert ("outage", 1, None, None) not in out
    assert out[("outage", None, None, "PK-BA")].kind == OUTAGE


def test_an_outage_in_every_region_keeps_the_country_verdict() -> None:
    out = classify(total(30, 1000), total(2, 100, "PK-BA"), total(10, 500, "PK-PB"))
    assert out[("outage", None, None, None)].kind == OUTAGE


def test_open_units_are_judged_inside_their_own_region() -> None:
    # Held open in Balochistan down to recovered_drop; the same level elsewhere would be normal.
    unit = ("outage", None, None, "PK-BA")
    partial = total(65, 100, "PK-BA")
    partial.z = -5.0
    held = classify_bin([partial], {partial.key: T}, active={unit}, hold=0.75)
    assert held[unit].anomalous
    fresh = classify_bin([partial], {partial.key: T})
    assert not fresh[unit].anomalous


def _bad(region: str | None) -> Observation:
    return Observation(True, OUTAGE, [total(2, 100, region)])


def test_region_and_country_units_anomalous_together_are_one_country_event() -> None:
    book = IncidentBook("PK")
    country = ("outage", None, None, None)
    regions = [("outage", None, None, r) for r in ("PK-BA", "PK-PB")]
    messages: list[dict[str, Any]] = []
    for i in range(3):
        obs = {u: _bad(u[3]) for u in (country, *regions)}
        messages += book.step(T0 + i * CFG.bin_seconds, obs, CFG)  # type: ignore[arg-type]
    assert [m["status"] for m in messages] == ["open"]
    assert messages[0]["regions"] == [] and messages[0]["summary"].startswith(
        "Network outage in Pakistan"
    )
    validator("event.v1")(messages[0])


def test_a_regional_event_names_its_region_and_its_evidence_says_where() -> None:
    book = IncidentBook("PK")
    unit = ("outage", None, None, "PK-BA")
    messages: list[dict[str, Any]] = []
    for i in range(3):
        messages += book.step(T0 + i * CFG.bin_seconds, {unit: _bad("PK-BA")}, CFG)  # type: ignore[dict-item]
    (opened,) = messages
    assert opened["regions"] == ["PK-BA"]
    assert opened["summary"].startswith("Network outage in Balochistan, Pakistan (PK)")
    assert {e["region"] for e in opened["evidence"]} == {"PK-BA"}
    validator("event.v1")(opened)


def test_summaries_name_up_to_three_regions_and_count_more() -> None:
    assert summarize("network_outage", "US", [], [], T0, T0 + 3600, ["US-LA", "US-TX"]).startswith(
        "Network outage in Louisiana and Texas, United States (US)"
    )
    many = summarize("network_outage", "PK", [], [], T0, None, ["PK-BA", "PK-KP", "PK-PB", "PK-SD"])
    assert many.startswith("Network outage in 4 regions of Pakistan (PK)")


def test_a_country_wide_event_does_not_match_a_regional_label_of_another_region() -> None:
    event = {
        "event_id": "e",
        "seq": 0,
        "kind": "network_outage",
        "country": "PK",
        "regions": ["PK-SD"],
        "asns": [],
        "platforms": [],
        "started_at": "2024-02-07T18:00:00Z",
        "detected_at": "2024-02-07T18:10:00Z",
        "ended_at": "2024-02-08T18:00:00Z",
    }
    truth = {
        "kind": "network_outage",
        "country": "PK",
        "regions": ["PK-BA"],
        "asns": [],
        "platforms": [],
        "start": "2024-02-07T18:00:00Z",
        "end": "2024-02-08T18:00:00Z",
    }
    wrong = evaluate([event], [truth]).summary()["all"]
    assert wrong["recall"] == 0.0 and wrong["false_events"] == 1
    right = evaluate([{**event, "regions": ["PK-BA"]}], [truth]).summary()["all"]
    assert right["recall"] == 1.0 and right["region_jaccard"] == 1.0
    assert orjson.dumps(right)
