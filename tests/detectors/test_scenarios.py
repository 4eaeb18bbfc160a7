from __future__ import annotations

from detectors.schemas import validator
from detectors.simulation.model import ts_of
from detectors.simulation.patterns import IN_WARMUP
from detectors.simulation.render import truth_rows
from detectors.simulation.scenarios import SCENARIOS, country_days, scenario


def test_library_is_large_and_its_labels_follow_the_schema() -> None:
    specs = [scenario(name) for name in SCENARIOS]
    assert len(specs) >= 10
    assert sum(country_days(s) for s in specs) >= 90
    assert len({c.code for s in specs for c in s.countries}) >= 5
    for spec in specs:
        for row in truth_rows(spec):
            validator("truth.v1")(row)


def test_every_incident_has_a_week_of_history_before_it_unless_it_tests_the_warm_up() -> None:
    assert set(SCENARIOS) >= IN_WARMUP
    for name in set(SCENARIOS) - IN_WARMUP:
        spec = scenario(name)
        for row in truth_rows(spec):
            if row["kind"] != "benign":
                assert ts_of(row["start"]) - spec.start >= 7 * 86400, (name, row["label"])


def test_warm_up_scenarios_put_their_incident_in_the_first_week() -> None:
    for name in IN_WARMUP:
        spec = scenario(name)
        starts = [ts_of(r["start"]) for r in truth_rows(spec) if r["kind"] != "benign"]
        assert starts and min(starts) - spec.start < 7 * 86400, name
