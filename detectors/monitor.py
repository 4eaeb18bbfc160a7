"""One country's whole detection state: clocks per source, open bins, series models, incidents.

Event time only: each source has its own watermark (its newest record minus the allowed
lateness), so a feed that runs late is judged on its own clock instead of being dropped. A bin of
the country is evaluated once every live source has closed it; a source silent for longer than
`source_silence_seconds`, or `SILENT_AFTER_CADENCES` of its cadence when that is longer, stops
holding the others back, and its series are gaps, never drops.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from restrictwatch.detectors.config import Config, Thresholds
from restrictwatch.detectors.correlate import NORMAL, Observation, UnitKey, classify_bin
from restrictwatch.detectors.events import EventMessage
from restrictwatch.detectors.incidents import IncidentBook
from restrictwatch.detectors.public_holidays import is_public_holiday
from restrictwatch.detectors.records import Rejection, Sample, SeriesKey
from restrictwatch.detectors.series import Bin, Series, Verdict

# A source is silent once it is this many of its cadences behind the country. With one, a regular
# record a little late would already count as silence, and the bin before it would be lost.
SILENT_AFTER_CADENCES = 2


@dataclass(slots=True)
class SourceClock:
    max_ts: float
    closed_until: float | None = None  # every bin starting before this is closed
    open_bins: dict[float, dict[SeriesKey, Bin]] = field(default_factory=dict)
    # The smallest step by which the bin of the newest record has moved: the inferred cadence.
    # Steps within a bin do not count, so records of one batch a few seconds apart do not look
    # like a fast feed. It can only err short, and short means the plain silence limit.
    step: float | None = None


@dataclass(slots=True)
class MonitorStats:
    bins_closed: int = 0
    bins_evaluated: int = 0
    verdicts_too_late: int = 0


class CountryMonitor:
    """Feed samples of one country in; get event messages (or a rejection) out."""

    def __init__(self, country: str, config: Config) -> None:
        self.country = country
        self.config = config
        self.series: dict[SeriesKey, Series] = {}
        self.thresholds: dict[SeriesKey, Thresholds] = {}
        self.sources: dict[str, SourceClock] = {}
        self.pending: dict[float, list[Verdict]] = {}
        self.evaluated_until: float | None = None
        self.max_ts = float("-inf")
        self.book = IncidentBook(country)
        self.stats = MonitorStats()
        self.last_verdicts: dict[SeriesKey, Verdict] = {}
        self.last_bin: dict[SeriesKey, float] = {}

    def reconfigure(self, config: Config) -> None:
        """Take a new config without losing learned state; new thresholds apply from the next bin."""
        self.config = config
        for key, s in self.series.items():
            s.thresholds = config.thresholds_for(
                key.country, key.asn, key.platform, key.region, key.source
            )
            self.thresholds[key] = s.thresholds

    def add(
        self, sample: Sample, closed: list[tuple[float, Verdict]] | None = None
    ) -> list[EventMessage] | Rejection:
        """The sample's bin, and whatever its source's watermark closes and evaluates; the
        verdicts of closed bins are appended to `closed` when it is given."""
        width = self.config.bin_seconds
        key = sample.key
        bin_start = sample.ts - sample.ts % width
        clock = self.sources.get(key.source)
        if clock is None:
            clock = self.sources[key.source] = SourceClock(max_ts=sample.ts)
        if clock.closed_until is not None and bin_start < clock.closed_until:
            return Rejection(
                "late",
                f"bin starting {bin_start:.0f} of source {key.source!r} closed when its watermark "
                f"passed {clock.closed_until:.0f} (allowed lateness {self.config.lateness_seconds} s)",
                "bin",
            )
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(key, self.config)
            self.thresholds[key] = series.thresholds
        bins = clock.open_bins.get(bin_start)
        if bins is None:
            bins = clock.open_bins[bin_start] = {}
        acc = bins.get(key)
        if acc is None:
            acc = bins[key] = series.new_bin()
        elif sample.ts in acc.seen:
            return Rejection(
                "duplicate",
                f"a record for this series at ts {sample.ts:.0f} was already used",
                "bin",
            )
        acc.add(sample)  # type: ignore[arg-type]
        if sample.ts <= clock.max_ts and clock.closed_until is not None:
            return []
        step = bin_start - (clock.max_ts - clock.max_ts % width)
        if step > 0 and (clock.step is None or step < clock.step):
            clock.step = step
        clock.max_ts = max(clock.max_ts, sample.ts)
        self.max_ts = max(self.max_ts, sample.ts)
        self._close_bins(clock, closed)
        return self._evaluate()

    def _close_bins(
        self, clock: SourceClock, closed: list[tuple[float, Verdict]] | None = None
    ) -> None:
        width = self.config.bin_seconds
        hold = self.config.lifecycle.hold_factor
        watermark = clock.max_ts - self.config.lateness_seconds
        closed_until = watermark - watermark % width
        if clock.closed_until is not None and closed_until <= clock.closed_until:
            return
        for bin_start in sorted(b for b in clock.open_bins if b + width <= closed_until):
            verdicts = [
                self.series[k].close(bin_start, acc, hold)
                for k, acc in clock.open_bins.pop(bin_start).items()
            ]
            for v in verdicts:
                self.last_verdicts[v.key] = v
                self.last_bin[v.key] = bin_start
            if closed is not None:
                closed += [(bin_start, v) for v in verdicts]
            self.stats.bins_closed += 1
            if self.evaluated_until is not None and bin_start < self.evaluated_until:
                self.stats.verdicts_too_late += len(verdicts)
                continue
            self.pending.setdefault(bin_start, []).extend(verdicts)
        clock.closed_until = closed_until

    def silence_limit(self, source: str) -> float:
        """How far a source's newest record may lag the country's before the source is silent.

        `source_silence_seconds`, or `SILENT_AFTER_CADENCES` cadences when that is longer: a daily
        feed is not silent between two of its records, or they would come after their bins were
        evaluated and be lost. The cadence is the longer of the configured and the inferred one;
        while neither is known (a feed's first record), the plain limit applies.
        """
        limit = float(self.config.lifecycle.source_silence_seconds)
        configured = self.config.sources.get(source)
        clock = self.sources.get(source)
        # The inferred step is the smallest seen, so a pause never lengthens it: a step longer
        # than the configured cadence means the feed never sent that fast, and its records would
        # come after their bins were evaluated (a daily feed under a 5-minute source name).
        known = [
            c
            for c in (
                configured.cadence_seconds if configured is not None else None,
                clock.step if clock is not None else None,
            )
            if c is not None
        ]
        return max(limit, SILENT_AFTER_CADENCES * max(known)) if known else limit

    def _frontier(self) -> float | None:
        """The first bin not yet closed by every live source."""
        frontier: float | None = None
        for source, clock in self.sources.items():
            if clock.max_ts < self.max_ts - self.silence_limit(source):
                continue  # silent: do not wait for it
            if clock.closed_until is None:
                return None
            frontier = clock.closed_until if frontier is None else min(frontier, clock.closed_until)
        return frontier

    def _evaluate(self) -> list[EventMessage]:
        frontier = self._frontier()
        if frontier is None or not self.pending:
            return []
        width = self.config.bin_seconds
        messages: list[EventMessage] = []
        if self.evaluated_until is None:
            self.evaluated_until = min(self.pending)
        while self.evaluated_until < frontier:
            b = self.evaluated_until
            if b not in self.pending:
                # Skip straight over a stretch with no data: nothing is observed, nothing changes.
                later = [p for p in self.pending if p > b]
                b = min(later) if later else frontier
                if b >= frontier:
                    self.evaluated_until = frontier
                    break
            verdicts = self.pending.pop(b)
            open_units = self.book.open_units()
            observations = classify_bin(
                verdicts, self.thresholds, open_units, self.config.lifecycle.hold_factor
            )
            if self.config.lifecycle.quiet_on_holidays:
                observations = holiday_observations(observations, open_units, self.country, b)
            messages.extend(self.book.step(b, observations, self.config, self.last_bin))
            self.stats.bins_evaluated += 1
            self.evaluated_until = b + width
        return messages

    @property
    def open_incidents(self) -> int:
        return len(self.book.incidents)

    def warming_series(self) -> dict[str, int]:
        """Series per signal whose latest verdict is not yet a full one (warming up, or a time of
        day the series has not learned): they cannot raise an incident yet."""
        warming: dict[str, int] = {}
        for key, verdict in self.last_verdicts.items():
            if not verdict.ready:
                warming[key.signal] = warming.get(key.signal, 0) + 1
        return warming


def holiday_observations(
    observations: dict[UnitKey, Observation],
    open_units: Collection[UnitKey],
    country: str,
    ts: float,
) -> dict[UnitKey, Observation]:
    """On a public holiday of its area (the country, or its region) a weak observation (one
    uncorroborated signal near its threshold) is what the holiday explains; strong ones (a
    collapse, failing probes) and open incidents stand: shutdowns are ordered on holidays too."""
    holiday: dict[str | None, bool] = {}

    def quiet(unit: UnitKey, obs: Observation) -> bool:
        if not (obs.weak and obs.anomalous) or unit in open_units:
            return False
        region = unit[3]
        if region not in holiday:
            holiday[region] = is_public_holiday(country, ts, region)
        return holiday[region]

    quieted = [unit for unit, obs in observations.items() if quiet(unit, obs)]
    if not quieted:
        return observations
    return {**observations, **dict.fromkeys(quieted, NORMAL)}
