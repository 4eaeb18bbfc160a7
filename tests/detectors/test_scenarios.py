from __future__ import annotations

import pytest

from restrictwatch.detectors.schemas import validator
from restrictwatch.detectors.simulation.model import ts_of
from restrictwatch.detectors.simulation.patterns import IN_WARMUP
from restrictwatch.detectors.simulation.render import truth_rows
from restrictwatch.detectors.simulation.scenarios import SCENARIOS, country_days, scenario


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


def test_sets_select_different_scenarios_and_together_all() -> None:
    from restrictwatch.detectors.simulation.scenarios import select_scenarios

    tuning, validation = select_scenarios(["tuning"]), select_scenarios(["validation"])
    assert tuning and validation and not set(tuning) & set(validation)
    assert sorted(tuning + validation) == sorted(select_scenarios(["all"]))
    assert (
        select_scenarios(["validation", "ke-small-asn-outage", "validation"]).count(
            "ke-small-asn-outage"
        )
        == 1
    )
    with pytest.raises(KeyError, match="unknown scenario 'nope'"):
        select_scenarios(["nope"])
