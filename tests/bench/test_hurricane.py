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


@pytest.mark.parametrize("overlaid", [False, True])
def test_louisiana_is_one_regional_outage_and_nothing_else(overlaid: bool) -> None:
    """The default finds it as a region falling alone (30 %, below outage_drop), opened late as
    one uncorroborated signal is; the index overlay from its first hours."""
    configs = hurricane.configs()
    events = hurricane.run(configs[1 if overlaid else 0][1])["events"]
    assert [(e.kind, sorted(e.regions)) for e in events] == [("network_outage", ["US-LA"])]
    (louisiana,) = events
    landfall = hurricane.parse_time(hurricane.LANDFALL)
    assert louisiana.started_at < landfall + (6 if overlaid else 18) * 3600
