from __future__ import annotations

from detectors.timing import Cadence, decay_rate


def test_an_update_covering_a_halflife_weighs_half() -> None:
    assert decay_rate(3600, 3600) == 0.5
    assert abs((1 - decay_rate(300, 3600)) ** 12 - 0.5) < 1e-12


def test_a_gap_counts_as_one_cadence_of_data_not_as_the_gap() -> None:
    c = Cadence()
    assert c.covered(0, 300) == 300  # nothing known yet: the default
    assert c.covered(3600, 300) == 3600
    assert c.covered(7200, 300) == 3600
    assert c.covered(7200 + 26 * 3600, 300) == 3600  # a 26 h pause is not 26 h of data
    assert c.covered(7200 + 27 * 3600, 300) == 3600
