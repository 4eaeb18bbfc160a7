from __future__ import annotations

import copy
import math
import pickle

from restrictwatch.detectors.seasonal import SeasonalBaseline
from tests.conftest import START, diurnal

DAY = 86400


def weekly_curve(ts: float) -> float:
    weekend = 1.1 if int(ts // DAY + 3) % 7 >= 5 else 1.0
    return diurnal(ts) * weekend


def trained(days: float = 14, fn=weekly_curve) -> SeasonalBaseline:  # type: ignore[no-untyped-def]
    m = SeasonalBaseline()
    t = START
    while t < START + days * DAY:
        m.observe(t, fn(t))
        t += 300
    return m


def test_learns_daily_and_weekly_rhythm() -> None:
    m = trained()
    errors = []
    t = START + 14 * DAY
    while t < START + 21 * DAY:
        f, _ = m.observe(t, weekly_curve(t))
        errors.append(abs(f.expected / weekly_curve(t) - 1))
        t += 300
    errors.sort()
    assert errors[len(errors) // 2] < 0.02  # median error under 2 %
    assert errors[int(len(errors) * 0.99)] < 0.08


def test_collapse_scores_many_sigmas_and_is_not_learned() -> None:
    m = trained()
    t = START + 14 * DAY
    level_before = m.level
    _, z = m.observe(t, weekly_curve(t) * 0.1)
    assert z < -10
    assert m.level == level_before  # protected: the drop did not move the model
    assert m.score_one({"ts": t + 300, "value": weekly_curve(t + 300) * 0.1}) > 10


def test_no_verdicts_during_warmup() -> None:
    m = SeasonalBaseline(warmup_seconds=3 * DAY)
    f, _ = m.observe(START, 100.0)
    assert not f.ready
    assert m.score_one({"ts": START + DAY, "value": 1.0}) == 0.0


def test_a_block_of_weeks_is_not_absorbed() -> None:
    m = trained()
    t = START + 14 * DAY
    zs = []
    while t < START + 35 * DAY:  # three weeks at 20 %
        _, z = m.observe(t, weekly_curve(t) * 0.2)
        zs.append(z)
        t += 300
    assert max(zs[-288:]) < -10  # still far below expectation in the last day
    f = m.forecast(t)
    assert abs(f.expected / weekly_curve(t) - 1) < 0.05


def test_upward_surge_moves_the_model_little() -> None:
    m = trained()
    t = START + 14 * DAY
    for i in range(36):  # 3 h at twice the volume
        m.observe(t + i * 300, weekly_curve(t + i * 300) * 2)
    after = t + 36 * 300
    f = m.forecast(after)
    assert f.expected / weekly_curve(after) < 1.15


def test_score_does_not_mutate_state() -> None:
    m = trained(5)
    before = pickle.dumps(m)
    m.score_one({"ts": START + 5 * DAY, "value": 3.0})
    assert pickle.dumps(m) == before


def test_pickle_round_trip_and_clone_independence() -> None:
    m = trained(5)
    restored = pickle.loads(pickle.dumps(m))
    t = START + 5 * DAY
    assert restored.forecast(t) == m.forecast(t)
    fresh = m.clone()
    assert fresh.level is None and m.level is not None
    twin = copy.deepcopy(m)
    twin.observe(t, 1e9)
    assert twin.forecast(t) != m.forecast(t)


def test_state_is_small() -> None:
    assert len(pickle.dumps(trained(8))) < 4096


def test_learn_one_follows_the_contract() -> None:
    m = SeasonalBaseline(warmup_seconds=0)
    for i in range(400):
        m.learn_one({"ts": START + i * 300, "value": 500.0})
    assert math.isclose(m.forecast(START + 400 * 300).expected, 500.0, rel_tol=0.01)


def _level_memory(record_every: float) -> float:
    """How far the forecast follows a lasting 20 % step after one configured level half-life."""
    m = SeasonalBaseline(warmup_seconds=0, level_halflife_seconds=DAY, daily_slots=1)
    t = START
    while t < START + 10 * DAY:
        m.observe(t, 1000.0)
        t += record_every
    step_end = t + DAY
    while t < step_end:
        m.observe(t, 800.0)
        t += record_every
    return m.forecast(t).expected


def test_time_constants_are_event_time_not_bins() -> None:
    """Hourly data keeps the memory 5-minute data has: the half-life is seconds, not bins."""
    five_minutes, hourly = _level_memory(300), _level_memory(3600)
    assert abs(five_minutes - hourly) < 5
    assert 860 < hourly < 940  # half way (in log space) to the new level after one half-life


def test_a_time_of_day_never_seen_gives_no_verdict() -> None:
    """A feed that moves its reporting hours: the new slots are not judged until they learned."""
    m = SeasonalBaseline(warmup_seconds=DAY)
    t = START
    while t < START + 10 * DAY:  # hourly, on the hour
        m.observe(t, diurnal(t))
        t += 3600
    assert m.forecast(t).ready
    moved = t + 1800  # now at half past: a slot with no data
    assert not m.forecast(moved).ready
    assert m.score_one({"ts": moved, "value": 1.0}) == 0.0
    for day in range(2):
        for h in range(24):
            m.observe(moved + day * DAY + h * 3600, diurnal(moved + day * DAY + h * 3600))
    assert m.forecast(moved + 2 * DAY).ready


def test_an_outage_in_the_warm_up_is_not_learned_and_is_judged() -> None:
    """Robust start-up: a collapse on day two neither becomes the normal nor goes unjudged."""
    m = SeasonalBaseline(warmup_seconds=3 * DAY)
    t = START
    while t < START + 1.5 * DAY:
        m.observe(t, diurnal(t))
        t += 300
    level = m.level
    zs = []
    while t < START + 2.5 * DAY:  # a day at 4 %
        f, z = m.observe(t, diurnal(t) * 0.04)
        assert f.provisional and not f.ready
        zs.append(z)
        t += 300
    assert m.level == level
    assert max(zs) < -5
    f, _ = m.observe(t, diurnal(t))
    assert abs(f.expected / diurnal(t) - 1) < 0.1  # the day after: normal expected again


def test_a_collapse_on_the_first_day_is_kept_out_of_learning() -> None:
    m = SeasonalBaseline(warmup_seconds=3 * DAY)
    t = START
    while t < START + 0.5 * DAY:
        m.observe(t, 1000.0)
        t += 300
    level = m.level
    for _ in range(24):  # two hours at 3 %
        m.observe(t, 30.0)
        t += 300
    assert level is not None and m.level is not None and abs(m.level - level) < 0.05


def test_a_shutdown_of_days_from_the_second_daily_record_is_not_learned() -> None:
    """At daily records in 5-minute bins a day is one bin: a guard that let go after a day learned
    the shutdown's second day as the level, and the model then expected a twentieth of normal for
    weeks. Three days dark from the second record: the day after, normal is expected again."""
    m = SeasonalBaseline(warmup_seconds=3 * DAY)
    m.observe(START, 45_000.0)
    for day in range(1, 4):
        m.observe(START + day * DAY, 1_800.0)
    assert m.level is not None and math.isclose(math.expm1(m.level), 45_000.0, rel_tol=1e-9)
    f, z = m.observe(START + 4 * DAY, 44_000.0)
    assert abs(f.expected / 44_000.0 - 1) < 0.05 and z > -3
    f, _ = m.observe(START + 5 * DAY, 1_800.0)  # dark again once warm: judged far below
    assert f.ready and 1 - 1_800.0 / f.expected > 0.9


def test_a_surge_s_end_back_at_the_long_term_level_is_no_drop() -> None:
    """Five days at three times the volume lift the recent level; the day traffic is back where
    it stood for weeks is judged against that long-term normal, not against the surge."""
    m = SeasonalBaseline(bin_seconds=3600)
    t = START
    while t < START + 35 * DAY:
        m.observe(t, diurnal(t))
        t += 3600
    surge_end = t + 5 * DAY
    while t < surge_end:
        m.observe(t, 3 * diurnal(t))
        t += 3600
    zs, drops = [], []
    for _ in range(72):
        f, z = m.observe(t, diurnal(t))
        zs.append(z)
        drops.append(1 - diurnal(t) / f.expected)
        t += 3600
    assert min(zs) > -3
    assert max(drops) < 0.1


def test_daily_bins_follow_a_step_at_the_level_half_life() -> None:
    """A bin of a whole day has no time of day: a one-slot daily curve would be a second level
    and follow a step at its own pace too. After one level half-life, half way in log space."""
    m = SeasonalBaseline(
        bin_seconds=DAY,
        warmup_seconds=DAY,
        level_halflife_seconds=7 * DAY,
        weekly_halflife_seconds=1000 * 7 * DAY,
        noise_floor=0.1,
    )
    t = START
    while t < START + 30 * DAY:
        m.observe(t, 1000.0)
        t += DAY
    step_end = t + 7 * DAY
    while t < step_end:
        m.observe(t, 850.0)
        t += DAY
    assert not m.has_daily_curve
    assert math.isclose(m.forecast(t).expected, math.sqrt(1000 * 850), rel_tol=0.01)


def test_a_moderate_drop_s_shallower_tail_is_not_learned() -> None:
    """Hurricane Laura's Louisiana index: 30 % down, then hours at 12-18 % while it recovered.
    Learning the tail pulled the level and widened the band until the outage looked over."""
    m = trained()
    t = START + 14 * DAY
    for _ in range(12):  # an hour at 30 % below: a moderate drop, kept out of learning
        m.observe(t, weekly_curve(t) * 0.7)
        t += 300
    level, sigma = m.level, m.forecast(t).sigma_log
    for _ in range(72):  # six hours at 15 % below: shallower than protect_drop, still the drop
        _, z = m.observe(t, weekly_curve(t) * 0.85)
        t += 300
    assert m.level == level
    assert m.forecast(t).sigma_log == sigma
    assert z < -3
    for _ in range(12):  # back in the band: learned again
        m.observe(t, weekly_curve(t))
        t += 300
    assert m.level != level
