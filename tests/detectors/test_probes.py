"""The probe success model (detectors/probes.py)."""

from __future__ import annotations

import copy
import random

from restrictwatch.detectors.probes import ProbeBaseline

DAY = 86400


def wobbling_fleet() -> tuple[ProbeBaseline, float]:
    """Sixty days of 1,000 probes a day whose ok share wobbles 0.82-0.88 beyond binomial noise."""
    rng = random.Random(7)
    m = ProbeBaseline(rate_halflife_seconds=7 * DAY, warmup_seconds=14 * DAY, bin_seconds=DAY)
    t = 0.0
    for _ in range(60):
        m.assess(t, 1000, round(1000 * (0.85 + rng.uniform(-0.03, 0.03))), None)
        t += DAY
    return m, t


def test_a_bin_with_a_tenth_of_the_usual_probes_is_judged_with_a_wider_band() -> None:
    """The same ok share from a tenth of the probes samples fewer networks: a day when few
    volunteers ran tests is not a block (real OONI counts fall to a third on a holiday)."""
    m, t = wobbling_fleet()
    usual = copy.deepcopy(m).assess(t, 1000, 700, None)[2]
    few = copy.deepcopy(m).assess(t, 100, 70, None)[2]
    assert usual < -4  # 1,000 probes at 0.70: far outside the wobble
    assert few > -3  # 100 probes at 0.70: inside it, once the wobble is widened for them


def test_more_probes_than_usual_do_not_narrow_the_band() -> None:
    m, t = wobbling_fleet()
    usual = copy.deepcopy(m).assess(t, 1000, 800, None)[2]
    many = copy.deepcopy(m).assess(t, 10_000, 8000, None)[2]
    assert many > usual * 1.5  # binomial noise shrinks; the learned wobble stays
