"""The core's one interface: raw records in, event messages and rejections out. No I/O, no clock.

The live worker, `replay`, the backtests and the benchmarks all drive this class and nothing
below it, so whatever one does to a record the others do too (tests/test_boundary.py keeps the
edges out of the internals). Like a stateful operator of a stream processor (bytewax's
StatefulLogic) it takes items (`process`, `process_sample`, `process_batch`), gives its state per
key as bytes (`snapshot`, `restore`, `forget`, per country) and shows read-only views (`view`,
`totals`). The caller may pass wall-clock `now` (the worker does) to reject records from the
future; without it (replay) the reference is the newest accepted record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from restrictwatch.detectors import state
from restrictwatch.detectors.config import Config
from restrictwatch.detectors.events import EventMessage
from restrictwatch.detectors.incidents import IncidentBook
from restrictwatch.detectors.monitor import CountryMonitor, MonitorStats, SourceClock
from restrictwatch.detectors.records import (
    Rejection,
    Sample,
    SeriesKey,
    decode_message,
    decode_sample,
)
from restrictwatch.detectors.series import Series
from restrictwatch.detectors.state import StateError
from restrictwatch.detectors.view import CountryView, OpenIncident, Reading, Totals

JUMP_QUORUM = 3


@dataclass(slots=True)
class Outcome:
    """What one record produced: event messages, or the reason it was rejected.

    `advanced`: its country's evaluation moved on (bins were evaluated or skipped), so a
    checkpoint per bin is due. `closed`: readings of the bins it closed, when the pipeline was
    built with `keep_readings` (the report draws them).
    """

    events: list[EventMessage] = field(default_factory=list)
    rejection: Rejection | None = None
    sample: Sample | None = None
    advanced: bool = False
    closed: tuple[Reading, ...] = ()


class Pipeline:
    def __init__(self, config: Config, keep_readings: bool = False) -> None:
        self._config = config
        self._monitors: dict[str, CountryMonitor] = {}
        self._frontier = float("-inf")
        self._accepted = 0
        self._rejected: Counter[str] = Counter()
        self._emitted: Counter[str] = Counter()
        self._jump_votes: dict[SeriesKey, float] = {}
        self._keep_readings = keep_readings

    @property
    def config(self) -> Config:
        return self._config

    def reconfigure(self, config: Config) -> None:
        """A new config for every country, keeping what was learned; new thresholds apply
        from the next bin."""
        self._config = config
        for m in self._monitors.values():
            m.reconfigure(config)

    # records ----------------------------------------------------------------------------------

    def process(self, raw: bytes, now: float | None = None) -> Outcome:
        decoded = decode_sample(raw, self._config.max_record_bytes)
        if isinstance(decoded, Rejection):
            return self._reject(decoded)
        return self.process_sample(decoded, now)

    def process_message(self, raw: bytes, now: float | None = None) -> list[Outcome]:
        """A message of one record or of a batch (`records.decode_message`): one outcome per
        record, in order; a rejected record of a batch says its index."""
        decoded = decode_message(raw, self._config.max_record_bytes)
        batch = raw.lstrip().startswith(b"[")
        out = []
        for i, d in enumerate(decoded):
            outcome = self._reject(d) if isinstance(d, Rejection) else self.process_sample(d, now)
            if batch and outcome.rejection is not None and outcome.rejection.index is None:
                outcome.rejection = replace(outcome.rejection, index=i)
            out.append(outcome)
        return out

    def process_batch(self, raws: Iterable[bytes], now: float | None = None) -> list[Outcome]:
        """Each message in turn (`process_message`), one outcome per record: a bad one never
        costs its neighbours."""
        return [o for raw in raws for o in self.process_message(raw, now)]

    def ahead_of_clock(self, ts: float, now: float) -> Rejection | None:
        """Whether a record is too far ahead of the wall clock to be used. The worker asks
        before its merge too: a far-future record at the head of a queue would hold the other
        topic back for ever."""
        limit = self._config.max_future_seconds
        if ts > now + limit:
            return Rejection(
                "future", f"ts {ts:.0f} is more than {limit} s ahead of the wall clock", "validate"
            )
        return None

    def process_sample(self, sample: Sample, now: float | None = None) -> Outcome:
        """A decoded record (the worker decodes before its merge, which orders by event time)."""
        limit = self._config.max_future_seconds
        if now is not None:
            ahead = self.ahead_of_clock(sample.ts, now)
            if ahead is not None:
                return self._reject(ahead, sample)
        if sample.ts > self._frontier + limit and not self._corroborated_jump(sample):
            return self._reject(
                Rejection(
                    "future",
                    f"ts {sample.ts:.0f} is more than {limit} s ahead of the newest accepted record "
                    f"({self._frontier:.0f}) and not enough other series confirm the jump yet",
                    "validate",
                ),
                sample,
            )
        monitor = self._monitors.get(sample.key.country)
        if monitor is None:
            monitor = self._monitors[sample.key.country] = CountryMonitor(
                sample.key.country, self._config
            )
        evaluated_until = monitor.evaluated_until
        closed: list[tuple[float, Any]] | None = [] if self._keep_readings else None
        result = monitor.add(sample, closed)
        if isinstance(result, Rejection):
            return self._reject(result, sample)
        self._accepted += 1
        if sample.ts > self._frontier:
            self._frontier = sample.ts
        for message in result:
            self._emitted[f"{message['kind']}:{message['status']}"] += 1
        readings = tuple(_reading(monitor, b, v) for b, v in closed) if closed else ()
        return Outcome(result, None, sample, monitor.evaluated_until != evaluated_until, readings)

    def _corroborated_jump(self, sample: Sample) -> bool:
        """Accept a jump of the whole input ahead (a feed back after days) once enough series agree.

        One bogus far-future record must not close every open bin; a real resumption shows up in
        every series of the feed. So the jump needs records within an hour of it from
        min(JUMP_QUORUM, live series) distinct series, itself included, where the live series are
        its own and those heard from within `max_future_seconds` of the newest accepted record
        (see `_live_series`). A lone series is accepted at once: nothing else could ever confirm
        it, and refusing would leave its feed dead after any pause longer than the limit. A feed
        of n live series resuming together pays min(JUMP_QUORUM, n) - 1 records, dead-lettered as
        `future`: the price of the protection, which a lone series cannot have.
        """
        if self._frontier == float("-inf"):
            return True
        self._jump_votes[sample.key] = sample.ts
        if len(self._jump_votes) > 256:
            self._jump_votes.clear()
        near = sum(1 for t in self._jump_votes.values() if abs(t - sample.ts) <= 3600)
        if near < JUMP_QUORUM and self._live_series(sample.key, near) > near:
            return False
        self._jump_votes.clear()
        return True

    def _live_series(self, candidate: SeriesKey, enough: int) -> int:
        """How many series could confirm a jump, counted only up to `enough` + 1.

        The candidate's own, and every series with a bin still open on a source heard from, or
        closed, within `max_future_seconds` of the newest accepted record: a series gone for
        longer is not waited for. Read from the monitors' checkpointed state, so a restored
        country counts as it did.
        """
        since = self._frontier - self._config.max_future_seconds
        live = {candidate}
        for monitor in self._monitors.values():
            for clock in monitor.sources.values():
                if clock.max_ts < since:
                    continue
                for bins in clock.open_bins.values():
                    live.update(bins)
                    if len(live) > enough:
                        return len(live)
            for key, bin_start in monitor.last_bin.items():
                if bin_start >= since:
                    live.add(key)
                    if len(live) > enough:
                        return len(live)
        return len(live)

    def _reject(self, rejection: Rejection, sample: Sample | None = None) -> Outcome:
        self._rejected[rejection.error_type] += 1
        return Outcome([], rejection, sample)

    # state ------------------------------------------------------------------------------------

    def countries(self) -> list[str]:
        return sorted(self._monitors)

    def snapshot(self, country: str) -> bytes | None:
        """The country's whole detection state as bytes (`detectors.state`); None if the core
        holds nothing for it (only rejections so far)."""
        monitor = self._monitors.get(country)
        return None if monitor is None else state.encode(monitor)

    def restore(self, country: str, data: bytes) -> None:
        """Take a country's state from `snapshot` bytes, under this pipeline's config.

        Raises `StateError` (and keeps what it had) when the bytes are not a checkpoint of this
        format for this country; nothing in them can run.
        """
        monitor = state.decode(data)
        _check_monitor(monitor, country)
        monitor.reconfigure(self._config)
        self._monitors[country] = monitor
        # The far-future check compares with the newest accepted record: a restored pipeline
        # must not take the first record it sees as that reference.
        self._frontier = max(self._frontier, monitor.max_ts)

    def forget(self, countries: Iterable[str]) -> None:
        """Drop countries' state (their partition moved to another worker)."""
        for country in countries:
            self._monitors.pop(country, None)

    # views ------------------------------------------------------------------------------------

    def view(self, country: str) -> CountryView | None:
        monitor = self._monitors.get(country)
        return None if monitor is None else _country_view(monitor)

    def views(self) -> list[CountryView]:
        return [_country_view(self._monitors[c]) for c in self.countries()]

    @property
    def accepted(self) -> int:
        return self._accepted

    def totals(self) -> Totals:
        monitors = self._monitors.values()
        return Totals(
            accepted=self._accepted,
            rejected=dict(self._rejected),
            emitted=dict(self._emitted),
            countries=len(self._monitors),
            series=sum(len(m.series) for m in monitors),
            warming_series=sum(sum(m.warming_series().values()) for m in monitors),
            open_incidents=sum(m.open_incidents for m in monitors),
        )


def _reading(monitor: CountryMonitor, bin_start: float, v: Any) -> Reading:
    thresholds = monitor.thresholds.get(v.key) or monitor.config.thresholds
    return Reading(v.key, bin_start, v.observed, v.expected, v.z, v.ready, thresholds.min_sigmas)


def _country_view(m: CountryMonitor) -> CountryView:
    readings = tuple(
        _reading(m, m.last_bin[key], v) for key, v in m.last_verdicts.items() if key in m.last_bin
    )
    incidents = tuple(
        OpenIncident(
            event_id=i.event_id,
            kind=i.kind,
            started_at=i.started_at,
            asns=tuple(i.asns),
            platforms=tuple(i.platforms),
            regions=tuple(i.regions),
            severity=i.severity_sum / i.severity_bins if i.severity_bins else 0.0,
        )
        for i in m.book.incidents.values()
    )
    return CountryView(
        country=m.country,
        series=tuple(m.series),
        readings=readings,
        newest_by_source={s: c.max_ts for s, c in m.sources.items()},
        incidents=incidents,
        warming=m.warming_series(),
        bins_closed=m.stats.bins_closed,
        bins_evaluated=m.stats.bins_evaluated,
        verdicts_too_late=m.stats.verdicts_too_late,
        evaluated_until=m.evaluated_until,
        max_ts=m.max_ts,
        silence_seconds=float(m.config.lifecycle.source_silence_seconds),
    )


def _check_monitor(monitor: object, country: str) -> None:
    """The decoded tree has the monitor's shape: what the codec cannot know about types."""
    if not isinstance(monitor, CountryMonitor):
        raise StateError(f"state of {type(monitor).__name__}, not of a country")
    if monitor.country != country:
        raise StateError(f"state of {monitor.country!r}, not of {country!r}")
    expected = {
        "series": dict,
        "sources": dict,
        "pending": dict,
        "last_bin": dict,
        "book": IncidentBook,
        "stats": MonitorStats,
    }
    for name, kind in expected.items():
        if not isinstance(getattr(monitor, name), kind):
            raise StateError(f"state of {country}: {name} is not a {kind.__name__}")
    if not all(isinstance(c, SourceClock) for c in monitor.sources.values()):
        raise StateError(f"state of {country}: a source clock of another type")
    if not all(
        isinstance(k, SeriesKey) and k.country == country and isinstance(s, Series)
        for k, s in monitor.series.items()
    ):
        raise StateError(f"state of {country}: a series of another type or country")
