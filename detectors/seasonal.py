"""Expected traffic from a level, a daily profile and a weekly profile, learned online.

river's shipped detectors fit traffic poorly (HalfSpaceTrees knows no time of day, HoltWinters has
one seasonality and a faulty additive start-up, PredictiveAnomalyDetection never forgets its error
statistics). This one composes the parts that do work: an additive model in log space,
`log1p(y) = level + daily[slot] + weekly[weekday] + noise`, updated sequentially like Holt-Winters,
with count-based rates at start-up (an exact running mean, not a biased first guess), a river
`EWVar` of the forecast error for the noise, and two guards that keep incidents out of learning:
bins far below expectation are not learned at all, and everything else is clipped to a few sigmas.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from river import base, stats

DAY = 86400
WEEK = 7 * DAY


def rate_from_halflife(updates_per_halflife: float) -> float:
    """The per-update rate whose weight on old data halves after `updates_per_halflife` updates."""
    return float(1.0 - 0.5 ** (1.0 / max(updates_per_halflife, 1e-9)))


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the model expected for one bin, in log space and in the original unit."""

    mean_log: float
    sigma_log: float
    expected: float
    ready: bool


class SeasonalBaseline(base.AnomalyDetector):
    """Seasonal forecaster scoring drops in standard deviations.

    `score_one` returns how many sigmas the value lies *below* expectation (0 for values at or above
    it), so higher means more anomalous, as river's contract wants. `observe` scores, then learns, in
    one pass: the hot path.

    >>> from detectors.seasonal import SeasonalBaseline
    >>> model = SeasonalBaseline(warmup_seconds=86400)
    >>> for i in range(3 * 288):
    ...     model.learn_one({"ts": i * 300.0, "value": 1000.0})
    >>> round(model.forecast(3 * 86400.0).expected)
    1000
    >>> model.score_one({"ts": 3 * 86400.0, "value": 100.0}) > 10
    True
    """

    def __init__(
        self,
        bin_seconds: int = 300,
        daily_slots: int = 48,
        level_halflife_days: float = 2.0,
        daily_halflife_days: float = 3.0,
        weekly_halflife_weeks: float = 1.0,
        noise_fading: float = 0.01,
        noise_floor: float = 0.03,
        warmup_seconds: int = 3 * DAY,
        clip_sigmas: float = 3.0,
        protect_sigmas: float = 3.0,
        protect_drop: float = 0.2,
    ) -> None:
        self.bin_seconds = bin_seconds
        self.daily_slots = daily_slots
        self.level_halflife_days = level_halflife_days
        self.daily_halflife_days = daily_halflife_days
        self.weekly_halflife_weeks = weekly_halflife_weeks
        self.noise_fading = noise_fading
        self.noise_floor = noise_floor
        self.warmup_seconds = warmup_seconds
        self.clip_sigmas = clip_sigmas
        self.protect_sigmas = protect_sigmas
        self.protect_drop = protect_drop

        bins_per_day = DAY / bin_seconds
        self._bins_per_day = bins_per_day
        slot_updates_per_day = bins_per_day / daily_slots
        self._level_rate = rate_from_halflife(level_halflife_days * bins_per_day)
        self._daily_rate = rate_from_halflife(daily_halflife_days * slot_updates_per_day)
        self._weekly_rate = rate_from_halflife(weekly_halflife_weeks * bins_per_day)
        self._slot_seconds = DAY / daily_slots

        self.level: float | None = None
        self.level_n = 0.0
        # Flat double arrays: a tenth of the memory of lists of floats, and they pickle compactly.
        self.daily = array("d", bytes(8 * daily_slots))
        self.daily_n = array("d", bytes(8 * daily_slots))
        self.weekly = array("d", bytes(8 * 7))
        self.weekly_n = array("d", bytes(8 * 7))
        self.noise = stats.EWVar(fading_factor=noise_fading)
        self.first_ts: float | None = None
        self.last_day: int | None = None

    # river contract -------------------------------------------------------------------------

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        ts, value = float(x["ts"]), float(x["value"])
        self._learn(ts, math.log1p(value), self.forecast(ts))

    def score_one(self, x: dict[Hashable, Any]) -> float:
        ts, value = float(x["ts"]), float(x["value"])
        f = self.forecast(ts)
        if not f.ready:
            return 0.0
        return max(0.0, -(math.log1p(value) - f.mean_log) / f.sigma_log)

    # the model --------------------------------------------------------------------------------

    def _slot(self, ts: float) -> tuple[int, int, float]:
        pos = (ts % DAY) / self._slot_seconds
        lo = int(pos) % self.daily_slots
        return lo, (lo + 1) % self.daily_slots, pos - int(pos)

    def forecast(self, ts: float) -> Forecast:
        if self.level is None:
            return Forecast(0.0, 1.0, 0.0, False)
        lo, hi, w = self._slot(ts)
        wd = int(ts // DAY + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
        mean_log = self.level + self.daily[lo] * (1 - w) + self.daily[hi] * w + self.weekly[wd]
        var = self.noise.get()
        sigma = math.sqrt(var + self.noise_floor * self.noise_floor)
        assert self.first_ts is not None
        ready = ts - self.first_ts >= self.warmup_seconds
        return Forecast(mean_log, sigma, math.expm1(mean_log), ready)

    def observe(self, ts: float, value: float) -> tuple[Forecast, float]:
        """Score one bin, then learn from it unless it lies far below expectation.

        Returns the forecast and the standardized deviation (negative when below).
        """
        y = math.log1p(value)
        f = self.forecast(ts)
        z = (y - f.mean_log) / f.sigma_log
        drop = 1.0 - value / f.expected if f.expected > 0 else 0.0
        protected = f.ready and z <= -self.protect_sigmas and drop >= self.protect_drop
        if not protected:
            self._learn(ts, y, f)
        return f, z

    def _learn(self, ts: float, y: float, f: Forecast) -> None:
        if self.level is None:
            self.level, self.level_n, self.first_ts = y, 1.0, ts
            self.last_day = int(ts // DAY)
            return
        error = y - f.mean_log
        if self.noise.get() > 0 or self.level_n > 1:
            self.noise.update(error)
        if f.ready:  # outliers move the model by a few sigmas at most
            bound = self.clip_sigmas * f.sigma_log
            y = f.mean_log + max(-bound, min(bound, error))

        lo, hi, w = self._slot(ts)
        wd = int(ts // DAY + 3) % 7
        daily_part = self.daily[lo] * (1 - w) + self.daily[hi] * w
        # Sequential updates (level, then daily, then weekly), each on what the others leave,
        # so that at start-up the three do not all absorb the same error at once.
        self.level_n += 1
        level = self.level + max(self._level_rate, 1.0 / self.level_n) * (
            y - self.level - daily_part - self.weekly[wd]
        )
        self.level = level
        rest = y - level - self.weekly[wd]
        for slot, weight in ((lo, 1 - w), (hi, w)):
            if weight <= 0:
                continue
            self.daily_n[slot] += weight
            rate = max(self._daily_rate, weight / self.daily_n[slot]) * weight
            self.daily[slot] += min(rate, 1.0) * (rest - daily_part)
        daily_part = self.daily[lo] * (1 - w) + self.daily[hi] * w
        # Weekday effects are learned only once a first full day has shaped the daily curve, and
        # at a fixed rate: a count-based start would pin on one weekday whatever the unconverged
        # curve got wrong on the first day, and keep it for weeks.
        if self.level_n > self._bins_per_day:
            self.weekly_n[wd] += 1
            self.weekly[wd] += self._weekly_rate * (y - level - daily_part - self.weekly[wd])
        day = int(ts // DAY)
        if day != self.last_day:
            self.last_day = day
            self._recenter()

    def _recenter(self) -> None:
        """Keep the profiles zero-mean so the level stays the level."""
        assert self.level is not None
        d = sum(self.daily) / self.daily_slots
        self.daily = array("d", (v - d for v in self.daily))
        seen = [i for i in range(7) if self.weekly_n[i] > 0]
        wmean = sum(self.weekly[i] for i in seen) / len(seen) if seen else 0.0
        for i in seen:
            self.weekly[i] -= wmean
        self.level += d + wmean
