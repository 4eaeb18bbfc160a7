"""Hurricane Laura, real data: counties become regions, and Louisiana's outage is one regional event."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import hurricane
from restrictwatch.detectors.schemas import validator


def test_counties_sum_into_their_states_region_and_the_country_total() -> None:
    records = hurricane.records()
    per_hour = Counter(r["ts"] for r in records)
    assert set(per_hour.values()) == {5}  # four states and the country, every hour
    assert {r.get("region") for r in records} == {None, "US-AR", "US-LA", "US-MS", "US-TX"}
    first = [r for r in records if r["ts"] == records[0]["ts"]]
    country = next(r["value"] for r in first if "region" not in r)
    assert country == pytest.approx(sum(r["value"] for r in first if "region" in r))
    for r in records:
        validator("traffic.v1")(r)


def test_the_index_overlay_finds_louisiana_as_a_regional_outage_and_nothing_else() -> None:
    (_, default), (_, index) = hurricane.configs()
    assert hurricane.run(default)["events"] == []  # a 30 % fall is below the default outage_drop
    events = hurricane.run(index)["events"]
    assert [(e.kind, sorted(e.regions)) for e in events] == [("network_outage", ["US-LA"])]
    (louisiana,) = events
    assert louisiana.started_at < hurricane.parse_time(hurricane.LANDFALL) + 6 * 3600
