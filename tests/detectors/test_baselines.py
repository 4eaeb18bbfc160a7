"""The baselines: each finds a collapse on a seasonal series, stays quiet on a clean one, and keeps
river's detector contract (pickle, clone, score before learn)."""

from __future__ import annotations

import doctest
import pickle
import random
from collections.abc import Callable
from functools import cache

import pytest
from river import base

import restrictwatch.detectors.baselines
from restrictwatch.detectors.baselines import (
    ALARM_Z,
    WARNING_Z,
    Baseline,
    Cusum,
    HalfSpaceTreesDetector,
    MovingMedian,
    make_baseline_model,
)
from restrictwatch.detectors.config import Thresholds, parse_config
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.series import Series, make_traffic_model
from tests.conftest import START, diurnal

DAY = 86400
HOUR = 3600
COLLAPSE = (START + 8 * DAY + 10 * HOUR, START + 8 * DAY + 13 * HOUR)  # 36 bins at 5 % of normal
T = Thresholds()

FACTORIES: dict[str, Callable[[], Baseline]] = {
    "moving_median": MovingMedian,
    "cusum": Cusum,
    "halfspacetrees": HalfSpaceTreesDetector,
}


@cache
def seasonal_series(collapse: bool) -> tuple[tuple[float, float], ...]:
    """Ten days of a daily curve (±40 %) with 2 % noise; optionally a 3 h collapse on day 8."""
    rng = random.Random(7)
    out = []
    t = START
    while t < START + 10 * DAY:
        v = diurnal(t) * (1 + rng.gauss(0, 0.02))
        if collapse and COLLAPSE[0] <= t < COLLAPSE[1]:
            v *= 0.05
        out.append((t, v))
        t += 300
    return tuple(out)


def outage_rule(value: float, expected: float, z: float) -> bool:
    """The correlation's per-series outage rule (detectors.correlate.Judge.collapsed)."""
    drop = max(0.0, 1 - value / expected) if expected > 0 else 0.0
    return drop >= T.outage_drop and z <= -T.min_sigmas


def run(model: Baseline, data: tuple[tuple[float, float], ...]) -> tuple[int, int, int]:
    """(collapse bins flagged, other ready bins flagged, ready bins)."""
    inside = outside = ready_bins = 0
    for t, v in data:
        expected, z, ready = model.assess(t, v)
        if not ready:
            continue
        ready_bins += 1
        if outage_rule(v, expected, z):
            if COLLAPSE[0] <= t < COLLAPSE[1]:
                inside += 1
            else:
                outside += 1
    return inside, outside, ready_bins


@pytest.mark.parametrize("kind", FACTORIES)
def test_finds_a_collapse_on_a_seasonal_series(kind: str) -> None:
    inside, outside, ready_bins = run(FACTORIES[kind](), seasonal_series(True))
    assert inside == 36
    assert outside == 0
    assert ready_bins >= 9 * 288  # ready after at most a day


@pytest.mark.parametrize("kind", FACTORIES)
def test_stays_quiet_on_a_clean_seasonal_series(kind: str) -> None:
    inside, outside, _ = run(FACTORIES[kind](), seasonal_series(False))
    assert inside == outside == 0


@pytest.mark.parametrize("kind", FACTORIES)
def test_pickle_round_trip_continues_identically(kind: str) -> None:
    data = seasonal_series(True)
    model = FACTORIES[kind]()
    for t, v in data[: 8 * 288]:
        model.assess(t, v)
    copy = pickle.loads(pickle.dumps(model))
    for t, v in data[8 * 288 :]:
        assert copy.assess(t, v) == model.assess(t, v)


@pytest.mark.parametrize("kind", FACTORIES)
def test_river_contract(kind: str) -> None:
    model = FACTORIES[kind]()
    assert isinstance(model, base.AnomalyDetector)
    data = seasonal_series(False)
    for t, v in data[: 3 * 288]:
        assert model.learn_one({"ts": t, "value": v}) is None
    t, v = data[3 * 288]
    state = pickle.dumps(model)
    low = model.score_one({"ts": t, "value": v * 0.05})
    normal = model.score_one({"ts": t, "value": v})
    model.score_one({"ts": t + 2 * DAY, "value": v})  # past the moving median's window
    assert pickle.dumps(model) == state  # scoring never learns
    assert low > normal
    clone = model.clone()
    assert type(clone) is type(model) and clone._get_params() == model._get_params()
    assert clone.score_one({"ts": t, "value": v * 0.05}) == 0.0  # fresh: nothing learned yet
    for t2, v2 in data[: 2 * 288]:
        clone.learn_one({"ts": t2, "value": v2})
    assert pickle.dumps(model) == state  # the clone is independent


@pytest.mark.parametrize("kind", FACTORIES)
def test_a_surge_never_alarms(kind: str) -> None:
    model = FACTORIES[kind]()
    for t, v in seasonal_series(False):
        surge = COLLAPSE[0] <= t < COLLAPSE[1]
        _, z, _ = model.assess(t, v * 3 if surge else v)
        if surge:
            assert z == 0.0


def test_moving_median_alarm_levels_are_iodas() -> None:
    def level(value: float) -> float:
        m = MovingMedian(window_seconds=HOUR, bin_seconds=300)
        for i in range(12):
            m.assess(i * 300.0, 100.0)
        expected, z, ready = m.assess(HOUR, value)
        assert (expected, ready) == (100.0, True)
        return z

    assert level(85.0) == 0.0
    assert level(79.0) == WARNING_Z
    assert level(49.0) == ALARM_Z


def test_moving_median_inpaints_an_outage_for_seven_days_then_takes_the_new_level() -> None:
    m = MovingMedian()
    t = START
    for _ in range(2 * 288):
        m.assess(t, 1000.0)
        t += 300
    drop_at = t
    seen = []
    while t < drop_at + 8 * DAY:
        expected, z, _ = m.assess(t, 100.0)
        seen.append((t - drop_at, expected, z))
        t += 300
    during = [(e, z) for dt, e, z in seen if dt < 7 * DAY]
    assert all(e == 1000.0 and z == ALARM_Z for e, z in during)
    after = [(e, z) for dt, e, z in seen if dt > 7 * DAY]
    assert after and all(e == 100.0 and z == 0.0 for e, z in after)


def test_moving_median_keeps_a_short_dip_but_not_a_collapse() -> None:
    m = MovingMedian(window_seconds=HOUR, bin_seconds=300)
    for i in range(12):
        m.assess(i * 300.0, 100.0)
    m.assess(12 * 300.0, 60.0)  # a warning, stored as it is
    m.assess(13 * 300.0, 10.0)  # critical: the median is stored instead
    assert sorted(v for _, v in m.window)[:2] == [60.0, 100.0]


def test_cusum_resets_when_the_drop_ends() -> None:
    m = Cusum(warmup_seconds=HOUR)
    t = 0.0
    for i in range(48):
        m.assess(t, 1000.0 + 20 * (i % 3))
        t += 300
    zs = []
    for _ in range(6):
        zs.append(m.assess(t, 200.0)[1])
        t += 300
    assert zs == [ALARM_Z] * 6 and m.s > 6 * m.threshold
    assert m.assess(t, 1010.0)[1] == 0.0
    assert m.s == 0.0 and not m.alarmed


def test_cusum_accumulates_a_moderate_drop_over_bins() -> None:
    m = Cusum(warmup_seconds=HOUR)
    rng = random.Random(3)
    t = 0.0
    for _ in range(288):
        m.assess(t, 1000.0 * (1 + rng.gauss(0, 0.02)))
        t += 300
    zs = []
    for _ in range(4):
        zs.append(m.assess(t, 950.0)[1])  # ~1.8 sigma below: S grows by ~1.3 a bin
        t += 300
    # No single bin is far enough below to alarm; three in a row are.
    assert zs == [0.0, 0.0, ALARM_Z, ALARM_Z]


def test_halfspacetrees_keeps_a_collapse_out_of_its_trees_and_level() -> None:
    m = HalfSpaceTreesDetector()
    trees = m.filter.anomaly_detector
    learned: list[float] = []
    learn = trees.learn_one

    def spy(x: dict[str, float]) -> None:
        learned.append(x["ratio"])
        learn(x)

    trees.learn_one = spy
    level_before = None
    for t, v in seasonal_series(True):
        if t == COLLAPSE[0]:
            level_before = m.level.get()
        m.assess(t, v)
        if t == COLLAPSE[1] - 300:
            assert m.level.get() == level_before
    assert len(learned) > 9 * 288
    assert min(learned) > 0.2  # collapse bins score ~0.03: none reached the trees


def test_factory_builds_the_configured_baseline_with_its_parameters() -> None:
    def build(kind: str, **params: float) -> Baseline:
        cfg = parse_config(
            {"bin_seconds": 600, "detectors": {"traffic": {"kind": kind, kind: params}}}
        )
        return make_baseline_model(cfg, cfg.thresholds)

    mm = build("moving_median", window_seconds=7200)
    assert isinstance(mm, MovingMedian) and mm.window_seconds == 7200 and mm.bin_seconds == 600
    cu = build("cusum", drift=0.25, threshold=5.0, fading=0.05)
    assert isinstance(cu, Cusum) and (cu.drift, cu.threshold, cu.fading) == (0.25, 5.0, 0.05)
    hst = build("halfspacetrees", n_trees=3, height=4, window_size=50, quantile=0.9)
    assert isinstance(hst, HalfSpaceTreesDetector)
    assert (hst.n_trees, hst.height, hst.window_size, hst.quantile) == (3, 4, 50, 0.9)
    with pytest.raises(ValueError, match="not a baseline"):
        make_baseline_model(parse_config({}), T)


def test_series_use_the_baseline_for_traffic_only() -> None:
    cfg = parse_config({"detectors": {"traffic": {"kind": "cusum"}}})
    assert isinstance(make_traffic_model(cfg, cfg.thresholds), Cusum)
    traffic = Series(SeriesKey("traffic", "cdn", "PK", None, None), cfg)
    probes = Series(SeriesKey("reachability", "probes", "PK", 1, "x"), cfg)
    assert isinstance(traffic.model, Cusum)
    assert not isinstance(probes.model, Cusum)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(restrictwatch.detectors.baselines)
    assert result.attempted >= 10 and result.failed == 0
