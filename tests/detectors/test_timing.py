from __future__ import annotations

from restrictwatch.detectors.timing import Cadence, decay_rate


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


def test_slow_reference_does_not_follow_a_deepening_drop_until_its_hold_ends() -> None:
    from restrictwatch.detectors.timing import SlowReference

    day = 86400.0
    ref = SlowReference(28 * day, 56 * day, 0.1, -1)
    for i in range(30):
        ref.update(i * day, 0.0, day)
    assert ref.value is not None and abs(ref.value) < 1e-9
    for i in range(30, 80):  # -0.2 for three weeks, then -0.5: held where it was
        ref.update(i * day, -0.2 if i < 51 else -0.5, day)
        assert ref.value == 0.0, i
    for i in range(80, 200):  # past the hold (8 weeks from day 30) it takes the new level
        ref.update(i * day, -0.5, day)
    assert ref.value < -0.4


def test_slow_reference_follows_small_moves_at_its_own_pace() -> None:
    from restrictwatch.detectors.timing import SlowReference

    day = 86400.0
    ref = SlowReference(28 * day, 56 * day, 0.1, -1)
    for i in range(200):
        ref.update(i * day, 0.0, day)
    for i in range(200, 228):  # +0.3 (growth) is followed, 28 days ~ one half-life
        ref.update(i * day, 0.3, day)
    assert ref.value is not None and 0.1 < ref.value < 0.2
