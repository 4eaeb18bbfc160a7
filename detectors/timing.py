"""Event-time memory for online estimators: how much time one update stands for.

Half-lives in the config are seconds of event time. A model updated once per bin with data would
otherwise forget per bin: hourly data in 5-minute bins would keep weeks of memory instead of days,
and a series with holes would remember longer than one without. Each update is weighted by the
time it covers: the spacing since the previous update, capped at the series' usual cadence, so a
gap of a day counts as one cadence of data, not as a day of it.
"""

from __future__ import annotations

DAY = 86400


def decay_rate(covered_seconds: float, halflife_seconds: float) -> float:
    """The weight of an update that covers `covered_seconds`, for a memory of `halflife_seconds`."""
    return float(1.0 - 0.5 ** (covered_seconds / max(halflife_seconds, 1e-9)))


class Cadence:
    """The usual spacing of one series' updates, and the time each new update covers."""

    __slots__ = ("last_ts", "spacing")

    def __init__(self) -> None:
        self.last_ts: float | None = None
        self.spacing: float | None = None

    def covered(self, ts: float, default: float) -> float:
        """Seconds of data the update at `ts` stands for; `default` before any spacing is known."""
        last, spacing = self.last_ts, self.spacing
        if last is None or ts <= last:
            if last is None:
                self.last_ts = ts
            return float(spacing or default)
        dt = ts - last
        self.last_ts = ts
        # Follow a finer spacing at once and a coarser one slowly: a gap is never taken for data,
        # and a feed that really slows down is followed within a day or so of its updates.
        if spacing is None or dt < spacing:
            self.spacing = dt
            return dt
        self.spacing = spacing + 0.05 * (min(dt, DAY) - spacing)
        return spacing


class SlowReference:
    """A long memory of a level (in log units) that a sustained move one way does not drag along.

    A campaign that deepens over weeks is followed by any level with a memory of days. This one
    follows with a memory of weeks, and stops following while the level stays more than
    `tolerance` (log units) on the watched side of it (`direction` -1: below, +1: above), for at
    most `hold_seconds`; after that the new level is taken as normal (a lasting benign shift).
    """

    __slots__ = ("away_since", "direction", "elapsed", "halflife", "hold", "tolerance", "value")

    def __init__(
        self, halflife_seconds: float, hold_seconds: float, tolerance: float, direction: int
    ) -> None:
        self.halflife = halflife_seconds
        self.hold = hold_seconds
        self.tolerance = tolerance
        self.direction = direction
        self.value: float | None = None
        self.elapsed = 0.0  # seconds of data followed: an exact mean until a half-life of them
        self.away_since: float | None = None

    def update(self, ts: float, level: float, covered: float) -> None:
        if self.value is None:
            self.value, self.elapsed = level, covered
            return
        gap = level - self.value
        if self.direction * gap > self.tolerance:
            if self.away_since is None:
                self.away_since = ts
            if ts - self.away_since < self.hold:
                return
        else:
            self.away_since = None
        self.elapsed += covered
        rate = max(decay_rate(covered, self.halflife), covered / self.elapsed)
        self.value += min(rate, 1.0) * gap
