"""What the edges may see of the core: frozen copies, taken when asked.

Metrics, the report and the tools read these instead of the monitors, so the core can change how
it keeps its state without breaking them, and nothing outside it can change that state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from restrictwatch.detectors.records import SeriesKey


@dataclass(frozen=True, slots=True)
class Reading:
    """A series' verdict on one closed bin."""

    key: SeriesKey
    bin_start: float
    observed: float
    expected: float
    z: float  # standardized deviation (negative: below expectation)
    ready: bool  # a full verdict: warmed up, and a time of day the series has learned
    min_sigmas: float  # how far below expectation this series must be to count as anomalous

    @property
    def anomalous(self) -> bool:
        return self.ready and self.z <= -self.min_sigmas


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """An incident the core holds open, as a dashboard shows it."""

    event_id: str
    kind: str
    started_at: float
    asns: tuple[int, ...]  # empty: every network
    platforms: tuple[str, ...]
    regions: tuple[str, ...]  # empty: the whole country
    severity: float  # mean over its bins so far, 0..1


@dataclass(frozen=True, slots=True)
class CountryView:
    """One country's detection state, read-only."""

    country: str
    series: tuple[SeriesKey, ...]
    readings: tuple[Reading, ...]  # each series' latest closed bin
    newest_by_source: Mapping[str, float]  # event time of each source's newest record
    incidents: tuple[OpenIncident, ...]
    warming: Mapping[str, int]  # series per signal whose latest verdict is not a full one
    bins_closed: int
    bins_evaluated: int
    verdicts_too_late: int
    evaluated_until: float | None  # every bin before this has been evaluated
    max_ts: float  # the newest record's event time
    silence_seconds: float  # a reading this much older than the newest bin is stale

    def fresh_readings(self) -> tuple[Reading, ...]:
        """Readings of series still reporting: none older than the silence window before the
        newest bin (a series gone quiet keeps its last verdict, which is no longer current)."""
        if not self.readings:
            return ()
        cutoff = max(r.bin_start for r in self.readings) - self.silence_seconds
        return tuple(r for r in self.readings if r.bin_start >= cutoff)


@dataclass(frozen=True, slots=True)
class Totals:
    """What the core has done since it started (or was restored)."""

    accepted: int
    rejected: Mapping[str, int]  # per error type
    emitted: Mapping[str, int]  # per "kind:status"
    countries: int
    series: int
    warming_series: int
    open_incidents: int
