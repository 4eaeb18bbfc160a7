"""The detectors we measure ours against, each usable as one series' traffic model.

Each baseline follows a published way of finding drops (IODA's moving median, OONI's CUSUM, river's
HalfSpaceTrees behind a QuantileFilter) and maps its own alarm onto what a `TrafficModel` returns:

* `expected` is the baseline's own reference value (the window median, the EW mean, ...), so the
  drop the correlation measures is the drop against what the baseline believes is normal;
* `z` is the baseline's alarm, not a standard score: `ALARM_Z` (-10) when its alarm fires,
  `WARNING_Z` (-5) for a lower alarm level where it has one, 0 otherwise.

The correlation's per-series rule is `drop >= X and z <= -min_sigmas`; with min_sigmas < 5 the
`z` part is exactly the baseline's own alarm, and the drop thresholds only sort the bins it flags
into outage, restriction and throttling, the same way for every detector. Units, the lifecycle and
the probe detector are shared, so a comparison measures the traffic detector and nothing else.

IODA's median and HalfSpaceTrees keep the bins they alarm on out of their reference (inpainting,
`protect_anomaly_detector`) for at most 7 days, after which a lasting change is the new normal.
The CUSUM's mean keeps learning, as OONI's does.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Hashable
from typing import Any

from river import anomaly, base, stats

from restrictwatch.detectors.config import Config, Thresholds

DAY = 86400
ALARM_Z = -10.0
WARNING_Z = -5.0


def _ts_value(x: dict[Hashable, Any]) -> tuple[float, float]:
    return float(x["ts"]), float(x["value"])


class MovingMedian(base.AnomalyDetector):
    """IODA-style: the value against the median of a trailing window, alarms at fixed ratios.

    IODA's alert levels for active probing (the signal closest to traffic volume) are used: a value
    below `warning_ratio` (80 %) of the median warns, below `critical_ratio` (50 %) is critical.
    While a value lies below `inpaint_ratio` of the median, the median itself is stored in its place
    ("inpainting"), so an outage does not drag the reference down; an out-of-bounds run longer than
    `inpaint_max_seconds` (7 days) is the new normal: the raw values replace what was inpainted.
    Inpainting starts at the critical ratio, not the warning one: on traffic, whose nightly trough
    lies well below the daily median, inpainting at 80 % would replace every night by the median.
    The median is IODA's too: the upper one, `values[n // 2]`.

    >>> from restrictwatch.detectors.baselines import MovingMedian
    >>> model = MovingMedian(window_seconds=3600, bin_seconds=300)
    >>> for i in range(12):
    ...     _ = model.assess(i * 300.0, 100.0)
    >>> model.assess(3600.0, 40.0)
    (100.0, -10.0, True)
    >>> round(model.score_one({"ts": 3900.0, "value": 90.0}), 3)
    0.1
    """

    def __init__(
        self,
        window_seconds: int = DAY,
        bin_seconds: int = 300,
        warning_ratio: float = 0.8,
        critical_ratio: float = 0.5,
        inpaint_ratio: float = 0.5,
        inpaint_max_seconds: int = 7 * DAY,
    ) -> None:
        self.window_seconds = window_seconds
        self.bin_seconds = bin_seconds
        self.warning_ratio = warning_ratio
        self.critical_ratio = critical_ratio
        self.inpaint_ratio = inpaint_ratio
        self.inpaint_max_seconds = inpaint_max_seconds
        self.window: deque[tuple[float, float]] = deque()  # (ts, stored value), oldest first
        self.sorted: list[float] = []
        self.first_ts: float | None = None
        self.inpaint_since: float | None = None
        self.raw: deque[tuple[float, float]] = deque()  # values inpainted over, within the window

    # river contract -------------------------------------------------------------------------

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        self.assess(*_ts_value(x))

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """The share of the median that is missing (0 at or above it)."""
        ts, value = _ts_value(x)
        start = ts - self.window_seconds
        values = self.sorted
        if self.window and self.window[0][0] <= start:  # leave the state as it is: scoring is pure
            values = sorted(v for t, v in self.window if t > start)
        if not values:
            return 0.0
        median = values[len(values) // 2]
        return max(0.0, 1.0 - value / median) if median > 0 else 0.0

    # the model --------------------------------------------------------------------------------

    def _expire(self, ts: float) -> None:
        start = ts - self.window_seconds
        while self.window and self.window[0][0] <= start:
            _, old = self.window.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]
        while self.raw and self.raw[0][0] <= start:
            self.raw.popleft()

    def _store(self, ts: float, value: float) -> None:
        self.window.append((ts, value))
        bisect.insort(self.sorted, value)

    def assess(self, ts: float, value: float) -> tuple[float, float, bool]:
        """Return (window median, alarm level as z, ready); then store the value or its inpainting."""
        self._expire(ts)
        if self.first_ts is None:
            self.first_ts = ts
        ready = ts - self.first_ts >= self.window_seconds - self.bin_seconds and bool(self.sorted)
        if not self.sorted:
            self._store(ts, value)
            return value, 0.0, False
        median = self.sorted[len(self.sorted) // 2]
        ratio = value / median if median > 0 else 1.0
        z = (
            ALARM_Z
            if ratio < self.critical_ratio
            else WARNING_Z
            if ratio < self.warning_ratio
            else 0.0
        )
        if not ready:
            z = 0.0
        stored = value
        if ready and ratio < self.inpaint_ratio:
            if self.inpaint_since is None:
                self.inpaint_since = ts
            if ts - self.inpaint_since < self.inpaint_max_seconds:
                self.raw.append((ts, value))
                stored = median
            else:
                self._restore()
        elif self.inpaint_since is not None:
            # Back in bounds: what was inpainted stays inpainted, the raw values are forgotten.
            self.inpaint_since = None
            self.raw.clear()
        self._store(ts, stored)
        return median, z, ready

    def _restore(self) -> None:
        """The out-of-bounds run lasted too long: it is the new normal."""
        assert self.inpaint_since is not None
        while self.window and self.window[-1][0] >= self.inpaint_since:
            _, old = self.window.pop()
            del self.sorted[bisect.bisect_left(self.sorted, old)]
        for ts, value in self.raw:
            self._store(ts, value)
        self.raw.clear()
        self.inpaint_since = None


class Cusum(base.AnomalyDetector):
    """OONI-style: a one-sided CUSUM of the standardized drop below an exponentially weighted mean.

    Per bin, `d = -(log1p(value) - mean) / std` with the EW mean and std of `log1p(value)`, and
    `S = max(0, S + d - drift)`; the alarm fires while `S > threshold`. OONI runs its CUSUM on hourly
    medians of a blocking ratio; here it runs on each bin of the traffic volume (log space, so
    noise is relative). The alarm ends at the first bin that is no longer below the mean by more
    than `drift` (it would add nothing to S), and S restarts from 0. The mean and std learn from
    every bin, as in OONI's detector: freezing them during an alarm (the textbook in-control
    reference) turned every nightly trough of a diurnal series into an hours-long false outage.

    >>> from restrictwatch.detectors.baselines import Cusum
    >>> model = Cusum(warmup_seconds=3600)
    >>> for i in range(24):
    ...     _ = model.assess(i * 300.0, 1000.0 + (i % 2) * 50)
    >>> [model.assess(7200.0 + i * 300, 300.0)[1] for i in range(2)]
    [-10.0, -10.0]
    >>> model.assess(7800.0, 1000.0)[1]
    0.0
    """

    def __init__(
        self,
        drift: float = 0.5,
        threshold: float = 3.5,
        fading: float = 0.01,
        sigma_floor: float = 0.02,
        warmup_seconds: int = DAY,
    ) -> None:
        self.drift = drift
        self.threshold = threshold
        self.fading = fading
        self.sigma_floor = sigma_floor
        self.warmup_seconds = warmup_seconds
        self.mean = stats.EWMean(fading_factor=fading)
        self.var = stats.EWVar(fading_factor=fading)
        self.s = 0.0
        self.alarmed = False
        self.first_ts: float | None = None

    # river contract -------------------------------------------------------------------------

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        self.assess(*_ts_value(x))

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """What S would become with this value (higher: more anomalous)."""
        if self.first_ts is None:
            return 0.0
        return self._next_s(self._drop(_ts_value(x)[1]))

    # the model --------------------------------------------------------------------------------

    def _drop(self, value: float) -> float:
        sigma = math.sqrt(self.var.get() + self.sigma_floor * self.sigma_floor)
        return -(math.log1p(value) - self.mean.get()) / sigma

    def _next_s(self, d: float) -> float:
        step = d - self.drift
        if self.alarmed and step <= 0:
            return 0.0  # the alarm ends: start over
        return max(0.0, self.s + step)

    def assess(self, ts: float, value: float) -> tuple[float, float, bool]:
        """Return (EW mean in the value's unit, alarm as z, ready); then learn."""
        y = math.log1p(value)
        if self.first_ts is None:
            self.first_ts = ts
            self.mean.update(y)
            self.var.update(y)
            return value, 0.0, False
        expected = math.expm1(self.mean.get())
        ready = ts - self.first_ts >= self.warmup_seconds
        self.s = self._next_s(self._drop(value)) if ready else 0.0
        self.alarmed = self.s > self.threshold
        self.mean.update(y)
        self.var.update(y)
        return expected, ALARM_Z if self.alarmed else 0.0, ready


class HalfSpaceTreesDetector(base.AnomalyDetector):
    """river `HalfSpaceTrees` on the value scaled by its level, thresholded by a `QuantileFilter`.

    The one feature is the value over twice its EW mean (a day's half-life), clipped to [0, 1] as
    HalfSpaceTrees expects; the EW mean is also the expected value. The alarm fires when the filter
    classifies the bin as anomalous (its score at or above the running `quantile` of scores) and the
    value lies below expected. `protect_anomaly_detector=True` keeps anomalous bins out of the
    trees; the EW mean skips alarmed bins too, for at most `relearn_after_seconds`.

    Time of day as two more features (sine and cosine) was measured and left out: with the default
    250-bin window (less than a day of 5-minute bins) the trees' mass spreads so thin that normal
    bins score nearly as high as an outage (on iq-exam-shutdowns, 107 of 120 outage bins flagged
    with 40 false bins, against 120 of 120 with 5 for the value alone).

    >>> from restrictwatch.detectors.baselines import HalfSpaceTreesDetector
    >>> model = HalfSpaceTreesDetector(window_size=50, warmup_seconds=3600)
    >>> for i in range(400):
    ...     _ = model.assess(i * 300.0, 1000.0 + 30 * (i % 5))
    >>> model.assess(400 * 300.0, 30.0)[1:]
    (-10.0, True)
    """

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        quantile: float = 0.98,
        seed: int = 42,
        bin_seconds: int = 300,
        warmup_seconds: int = DAY,
        relearn_after_seconds: int = 7 * DAY,
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.quantile = quantile
        self.seed = seed
        self.bin_seconds = bin_seconds
        self.warmup_seconds = warmup_seconds
        self.relearn_after_seconds = relearn_after_seconds
        self.filter = anomaly.QuantileFilter(
            anomaly.HalfSpaceTrees(
                n_trees=n_trees, height=height, window_size=window_size, seed=seed
            ),
            q=quantile,
            protect_anomaly_detector=True,
        )
        halflife_bins = DAY / bin_seconds
        self.level = stats.EWMean(fading_factor=1.0 - 0.5 ** (1.0 / halflife_bins))
        self.first_ts: float | None = None
        self.alarm_since: float | None = None

    def features(self, value: float) -> dict[Hashable, Any]:
        level = self.level.get()
        return {"ratio": min(1.0, value / (2 * level)) if level > 0 else 0.5}

    # river contract -------------------------------------------------------------------------

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        self.assess(*_ts_value(x))

    def score_one(self, x: dict[Hashable, Any]) -> float:
        value = float(x["value"])
        score: float = self.filter.score_one(self.features(value))
        return score

    # the model --------------------------------------------------------------------------------

    def assess(self, ts: float, value: float) -> tuple[float, float, bool]:
        """Return (EW mean, alarm as z, ready); then learn what the filter lets through."""
        if self.first_ts is None:
            self.first_ts = ts
        x = self.features(value)
        expected = self.level.get() if self.level.get() > 0 else value
        # What QuantileFilter.learn_one does, without scoring the same bin twice.
        score = self.filter.score_one(x)
        anomalous = bool(self.filter.classify(score))  # type: ignore[no-untyped-call]
        ready = ts - self.first_ts >= self.warmup_seconds
        alarm = ready and anomalous and value < expected
        if alarm and self.alarm_since is None:
            self.alarm_since = ts
        elif not alarm:
            self.alarm_since = None
        relearn = (
            self.alarm_since is not None and ts - self.alarm_since >= self.relearn_after_seconds
        )
        if not anomalous or relearn:
            self.filter.anomaly_detector.learn_one(x)
        self.filter.quantile.update(score)
        if not alarm or relearn:
            self.level.update(value)
        return expected, ALARM_Z if alarm else 0.0, ready


Baseline = MovingMedian | Cusum | HalfSpaceTreesDetector


def make_baseline_model(config: Config, thresholds: Thresholds) -> Baseline:
    """The configured baseline for one traffic series (thresholds are the correlation's, unused)."""
    spec = config.detectors.traffic
    if spec.kind == "moving_median":
        return MovingMedian(
            window_seconds=spec.moving_median.window_seconds, bin_seconds=config.bin_seconds
        )
    if spec.kind == "cusum":
        p = spec.cusum
        return Cusum(drift=p.drift, threshold=p.threshold, fading=p.fading)
    if spec.kind == "halfspacetrees":
        h = spec.halfspacetrees
        return HalfSpaceTreesDetector(
            n_trees=h.n_trees,
            height=h.height,
            window_size=h.window_size,
            quantile=h.quantile,
            seed=h.seed,
            bin_seconds=config.bin_seconds,
        )
    raise ValueError(f"not a baseline: {spec.kind!r}")
