"""Expected traffic from a level, a daily profile and a weekly profile, learned online.

river's shipped detectors fit traffic poorly (HalfSpaceTrees knows no time of day, HoltWinters has
one seasonality and a faulty additive start-up, PredictiveAnomalyDetection never forgets its error
statistics). This one composes the parts that do work: an additive model in log space,
`log1p(y) = level + daily[slot] + weekly[weekday] + noise`, updated sequentially like Holt-Winters,
with count-based rates at start-up (an exact running mean, not a biased first guess), an
exponentially weighted variance of the forecast error for the noise, and guards that keep
incidents out of learning: bins far below expectation are not learned at all, everything else is
clipped to a few sigmas, and during start-up a bin far below the series' own running median is not
learned either, so an outage in the first days does not become the normal.

Every time constant is event time, not a count of bins: each update carries the time it covers
(`detectors.timing`), so hourly data in 5-minute bins, daily data or a series with holes keep the
configured memory.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import compress
from typing import Any

from river import base

from restrictwatch.detectors.timing import Cadence, SlowReference, decay_rate

DAY = 86400
WEEK = 7 * DAY

# A slot of the daily curve gives verdicts once it has learned from this share of a day's data
# at its time of day: a slot the series never had data for expects nothing (no verdict).
SLOT_LEARNED = 0.5
# Start-up guard: before the model has learned a slot, a bin below this share of the running
# median is not learned (an outage, not a night trough: real troughs sit at 30-50 % of the median).
STARTUP_FLOOR = 0.15
# ... and once a slot has learned but the model is still warming up, a bin this far below it.
STARTUP_DROP = 0.5
# Before a slot has learned, the guard lets go after this long, and after this many bins kept
# out (at daily bins a day is one bin: a shutdown's second day would be learned as the level), so
# a new level is learned.
STARTUP_PROTECT_MAX = DAY
STARTUP_PROTECT_BINS = 3
# Step of the running median in log units per hour of data (a sign-driven stochastic median).
MEDIAN_STEP_PER_HOUR = 0.05
# Once warm, a drop this deep is kept out of learning for as long as it lasts (a collapse); a
# shallower one for `protect_max_seconds` at most, after which the level may follow it and the
# slow reference alone remembers where it was (a campaign, or a lasting benign shift).
COLLAPSE_DROP = 0.5
# A run of moderate drops kept out of learning goes on while its bins stay this share of the way
# below (hysteresis, as an open incident's): its shallower bins are its tail, not a new normal,
# and learning them would drag the level, and widen the band, into the drop being judged.
RUN_HOLD = 0.5
# The slow reference stops following a level this far (log units, ~10 %) below it.
SLOW_TOLERANCE = 0.105
# n > 0, as a C callable: which slots of a profile have learned.
_POSITIVE = (0.0).__lt__


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the model expected for one bin, in log space and in the original unit.

    `ready`: warmed up and the bin's slot has learned, a full verdict. `provisional`: the slot has
    learned but the model is still warming up: fit only to tell a collapse from normal.
    `slow_mean_log`: the same forecast on the slow reference's level (None before it has one).
    """

    mean_log: float
    sigma_log: float
    expected: float
    ready: bool
    provisional: bool = False
    slow_mean_log: float | None = None
    slow_sigma_log: float = 1.0


class SeasonalBaseline(base.AnomalyDetector):
    """Seasonal forecaster scoring drops in standard deviations.

    `score_one` returns how many sigmas the value lies *below* expectation (0 for values at or above
    it), so higher means more anomalous, as river's contract wants. `observe` scores, then learns, in
    one pass: the hot path.

    >>> from restrictwatch.detectors.seasonal import SeasonalBaseline
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
        level_halflife_seconds: float = 2 * DAY,
        daily_halflife_seconds: float = 3 * DAY,
        weekly_halflife_seconds: float = WEEK,
        noise_halflife_seconds: float = 6 * 3600,
        noise_floor: float = 0.03,
        warmup_seconds: int = 3 * DAY,
        clip_sigmas: float = 3.0,
        protect_sigmas: float = 3.0,
        protect_drop: float = 0.2,
        protect_max_seconds: float = 2 * DAY,
        slow_halflife_seconds: float = 4 * WEEK,
        slow_hold_seconds: float = 8 * WEEK,
    ) -> None:
        self.bin_seconds = bin_seconds
        self.daily_slots = daily_slots
        self.level_halflife_seconds = level_halflife_seconds
        self.daily_halflife_seconds = daily_halflife_seconds
        self.weekly_halflife_seconds = weekly_halflife_seconds
        self.noise_halflife_seconds = noise_halflife_seconds
        self.noise_floor = noise_floor
        self.warmup_seconds = warmup_seconds
        self.clip_sigmas = clip_sigmas
        self.protect_sigmas = protect_sigmas
        self.protect_drop = protect_drop
        self.protect_max_seconds = protect_max_seconds
        self.slow_halflife_seconds = slow_halflife_seconds
        self.slow_hold_seconds = slow_hold_seconds
        self._slot_seconds = DAY / daily_slots
        # Half-lives of the profiles in their own units: days of data at one time of day, and
        # weeks of one weekday (one day of data each).
        self._daily_halflife_days = daily_halflife_seconds / DAY
        self._weekly_halflife_weeks = weekly_halflife_seconds / WEEK

        self.level: float | None = None
        self.level_n = 0.0
        # Flat double arrays: a tenth of the memory of lists of floats.
        self.daily = array("d", bytes(8 * daily_slots))
        self.daily_n = array("d", bytes(8 * daily_slots))  # days of data learned per slot
        self.weekly = array("d", bytes(8 * 7))
        self.weekly_n = array("d", bytes(8 * 7))
        self.noise_mean = 0.0
        self.noise_var = 0.0
        self.noise_n = 0
        # The noise over the slow reference's memory: a shift that widens the fast band over days
        # (errors just inside it still count) barely moves this one.
        self.slow_noise_var = 0.0
        self.slow_noise_n = 0
        # Start of the current run below the slow reference: when a campaign's step began.
        self.slow_onset: float | None = None
        self.median_log = 0.0
        self.first_ts: float | None = None
        self.cadence = Cadence()
        self.guarded_since: float | None = None  # start of a run the start-up guard kept out
        self.guarded_bins = 0  # bins of that run
        self.moderate_since: float | None = None  # start of a run of moderate drops kept out
        self.slow = SlowReference(slow_halflife_seconds, slow_hold_seconds, SLOW_TOLERANCE, -1)
        self.last_day: int | None = None

    # river contract -------------------------------------------------------------------------

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        ts, value = float(x["ts"]), float(x["value"])
        self._learn(ts, math.log1p(value), self.forecast(ts))

    def score_one(self, x: dict[Hashable, Any]) -> float:
        ts, value = float(x["ts"]), float(x["value"])
        f = self.judged(self.forecast(ts))
        if not f.ready:
            return 0.0
        return max(0.0, -(math.log1p(value) - f.mean_log) / f.sigma_log)

    # the model --------------------------------------------------------------------------------

    def _slot(self, ts: float) -> tuple[int, int, float]:
        pos = (ts % DAY) / self._slot_seconds
        lo = int(pos) % self.daily_slots
        return lo, (lo + 1) % self.daily_slots, pos - int(pos)

    @property
    def has_daily_curve(self) -> bool:
        """A bin that spans a whole day has no time of day: its daily curve would only be a
        second, faster level (and a level step would be learned at the curve's pace)."""
        return self.bin_seconds < DAY

    def slot_learned(self, ts: float) -> bool:
        """Whether every slot the forecast at `ts` leans on has learned from data."""
        if not self.has_daily_curve:
            return True
        lo, hi, w = self._slot(ts)
        n = self.daily_n
        return (w > 0.95 or n[lo] >= SLOT_LEARNED) and (w < 0.05 or n[hi] >= SLOT_LEARNED)

    def forecast(self, ts: float) -> Forecast:
        if self.level is None:
            return Forecast(0.0, 1.0, 0.0, False)
        lo, hi, w = self._slot(ts)
        wd = int(ts // DAY + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
        mean_log = self.level + self.daily[lo] * (1 - w) + self.daily[hi] * w + self.weekly[wd]
        sigma = math.sqrt(self.noise_var + self.noise_floor * self.noise_floor)
        assert self.first_ts is not None
        learned = self.slot_learned(ts)
        warm = ts - self.first_ts >= self.warmup_seconds
        slow = self.slow.value
        slow_sigma = math.sqrt(self.slow_noise_var + self.noise_floor * self.noise_floor)
        return Forecast(
            mean_log,
            sigma,
            math.expm1(mean_log),
            warm and learned,
            learned and not warm,
            None if slow is None else mean_log + slow - self.overall_level(),
            slow_sigma,
        )

    def overall_level(self) -> float:
        """The level with the learned profiles' means: what a lasting shift moves, whichever part
        of the model absorbed it first (the daily curve takes a step faster than the level)."""
        assert self.level is not None
        # compress and map run in C: this runs for every bin of a warm series.
        learned = list(compress(self.daily, map(_POSITIVE, self.daily_n)))
        seen = list(compress(self.weekly, map(_POSITIVE, self.weekly_n)))
        d = sum(learned) / len(learned) if learned else 0.0
        return self.level + d + (sum(seen) / len(seen) if seen else 0.0)

    def observe(self, ts: float, value: float) -> tuple[Forecast, float]:
        """Score one bin, then learn from it unless it lies far below expectation.

        Returns the forecast and the standardized deviation (negative when below).
        """
        y = math.log1p(value)
        f = self.forecast(ts)
        judged = self.judged(f)
        z = (y - judged.mean_log) / judged.sigma_log
        drop = 1.0 - value / judged.expected if judged.expected > 0 else 0.0
        self._track_slow_onset(ts, y, f)
        if f.ready:
            hold = RUN_HOLD if self.moderate_since is not None else 1.0
            protected = z <= -self.protect_sigmas * hold and drop >= self.protect_drop * hold
            if not protected:
                self.moderate_since = None
            elif drop < COLLAPSE_DROP:
                if self.moderate_since is None:
                    self.moderate_since = ts
                protected = ts - self.moderate_since < self.protect_max_seconds
        else:
            protected = self._startup_guard(ts, y, f, z, drop)
        if not protected:
            self._learn(ts, y, f)
        return judged, z

    @staticmethod
    def judged(f: Forecast) -> Forecast:
        """What a bin is judged against: the lower of the recent and the long-term normal.

        A surge lifts the recent level within days; its end, back where the series stood for
        weeks, is not a drop. A campaign that drags the recent level down is judged against the
        recent level here, and against the slow reference by the correlation (`slow_expected`).
        """
        slow = f.slow_mean_log
        if slow is None or slow >= f.mean_log:
            return f
        return Forecast(
            slow,
            max(f.sigma_log, f.slow_sigma_log),
            math.expm1(slow),
            f.ready,
            f.provisional,
            f.slow_mean_log,
            f.slow_sigma_log,
        )

    def _track_slow_onset(self, ts: float, y: float, f: Forecast) -> None:
        if f.slow_mean_log is None:
            return
        if y - f.slow_mean_log < -SLOW_TOLERANCE:
            if self.slow_onset is None:
                self.slow_onset = ts
        elif f.mean_log - f.slow_mean_log > -SLOW_TOLERANCE / 2:  # the level is back near it
            self.slow_onset = None

    def _startup_guard(self, ts: float, y: float, f: Forecast, z: float, drop: float) -> bool:
        """Keep a collapse out of a model that cannot yet judge one, for the longer of a day and
        three bins."""
        if self.level is None:
            return False
        if f.provisional:
            below = z <= -self.protect_sigmas and drop >= max(STARTUP_DROP, self.protect_drop)
        else:
            below = math.expm1(y) < STARTUP_FLOOR * math.expm1(self.median_log)
        if not below:
            self.guarded_since, self.guarded_bins = None, 0
            return False
        if self.guarded_since is None:
            self.guarded_since = ts
        self.guarded_bins += 1
        # A slot that has learned keeps a collapse out as long as it lasts (as once warmed up);
        # one that has not cannot tell a new level from an outage for ever.
        return (
            f.provisional
            or ts - self.guarded_since < STARTUP_PROTECT_MAX
            or self.guarded_bins <= STARTUP_PROTECT_BINS
        )

    def _learn(self, ts: float, y: float, f: Forecast) -> None:
        if self.level is None:
            self.level, self.level_n, self.first_ts = y, 1.0, ts
            self.median_log = y
            self.cadence.covered(ts, self.bin_seconds)
            self.last_day = int(ts // DAY)
            return
        covered = self.cadence.covered(ts, self.bin_seconds)
        error = y - f.mean_log
        # A shift must not widen the band it is judged by: once warm, errors beyond clip_sigmas
        # are left out of the noise (clipping them would still widen it until the shift fit).
        if not f.ready or abs(error) <= self.clip_sigmas * f.sigma_log:
            self._learn_noise(error, covered)
            if not f.ready:
                self.slow_noise_var = self.noise_var
            elif self.slow_noise_n < 3 or abs(error) <= self.clip_sigmas * f.slow_sigma_log:
                self.slow_noise_n += 1
                rate = max(decay_rate(covered, self.slow.halflife), 1.0 / self.slow_noise_n)
                self.slow_noise_var += rate * (error * error - self.slow_noise_var)
        step = MEDIAN_STEP_PER_HOUR * covered / 3600
        self.median_log += step if y > self.median_log else -step
        if f.ready:  # outliers move the model by a few sigmas at most
            bound = self.clip_sigmas * f.sigma_log
            y = f.mean_log + max(-bound, min(bound, error))

        lo, hi, w = self._slot(ts)
        wd = int(ts // DAY + 3) % 7
        daily_part = self.daily[lo] * (1 - w) + self.daily[hi] * w
        # Sequential updates (level, then daily, then weekly), each on what the others leave,
        # so that at start-up the three do not all absorb the same error at once.
        self.level_n += 1
        level_rate = max(decay_rate(covered, self.level_halflife_seconds), 1.0 / self.level_n)
        level = self.level + level_rate * (y - self.level - daily_part - self.weekly[wd])
        self.level = level
        rest = y - level - self.weekly[wd]
        slot_days = min(1.0, covered / self._slot_seconds)
        slots = ((lo, 1 - w), (hi, w)) if self.has_daily_curve else ()
        for slot, weight in slots:
            if weight <= 0:
                continue
            days = weight * slot_days
            self.daily_n[slot] += days
            rate = max(decay_rate(days, self._daily_halflife_days), days / self.daily_n[slot])
            self.daily[slot] += min(rate, 1.0) * (rest - daily_part)
        daily_part = self.daily[lo] * (1 - w) + self.daily[hi] * w
        # Weekday effects are learned only once a first full day has shaped the daily curve, and
        # at a fixed rate: a count-based start would pin on one weekday whatever the unconverged
        # curve got wrong on the first day, and keep it for weeks.
        assert self.first_ts is not None
        if ts - self.first_ts >= DAY:
            weeks = min(covered, DAY) / DAY
            self.weekly_n[wd] += weeks
            rate = decay_rate(weeks, self._weekly_halflife_weeks)
            self.weekly[wd] += rate * (y - level - daily_part - self.weekly[wd])
        if f.ready:  # the slow reference starts from a warmed-up model
            self.slow.update(ts, self.overall_level(), covered)
        day = int(ts // DAY)
        if day != self.last_day:
            self.last_day = day
            self._recenter()

    def _learn_noise(self, error: float, covered: float) -> None:
        """Exponentially weighted variance of the forecast error, exact while it has few points."""
        self.noise_n += 1
        if self.noise_n == 1:
            self.noise_mean = error
            return
        rate = max(decay_rate(covered, self.noise_halflife_seconds), 1.0 / self.noise_n)
        diff = error - self.noise_mean
        increment = rate * diff
        self.noise_mean += increment
        self.noise_var = (1 - rate) * (self.noise_var + diff * increment)

    def _recenter(self) -> None:
        """Keep the learned part of the profiles zero-mean so the level stays the level."""
        assert self.level is not None
        learned = [i for i in range(self.daily_slots) if self.daily_n[i] > 0]
        d = sum(self.daily[i] for i in learned) / len(learned) if learned else 0.0
        for i in learned:
            self.daily[i] -= d
        seen = [i for i in range(7) if self.weekly_n[i] > 0]
        wmean = sum(self.weekly[i] for i in seen) / len(seen) if seen else 0.0
        for i in seen:
            self.weekly[i] -= wmean
        self.level += d + wmean
