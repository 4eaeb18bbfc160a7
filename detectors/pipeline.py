"""The detection pipeline: raw records in, event messages and rejections out. No I/O, no clock.

The live worker and `replay` both drive this class, so whatever one does to a record the other
does too. The caller may pass wall-clock `now` (the worker does) to reject records from the future;
without it (replay) the reference is the newest accepted record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.monitor import CountryMonitor
from restrictwatch.detectors.records import Rejection, Sample, SeriesKey, decode_sample

JUMP_QUORUM = 3


@dataclass(slots=True)
class Outcome:
    """What one record produced: event messages, or the reason it was rejected."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejection: Rejection | None = None
    sample: Sample | None = None


class Pipeline:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.monitors: dict[str, CountryMonitor] = {}
        self.frontier = float("-inf")
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.emitted: Counter[str] = Counter()
        self._jump_votes: dict[SeriesKey, float] = {}

    def reconfigure(self, config: Config) -> None:
        self.config = config
        for m in self.monitors.values():
            m.reconfigure(config)

    def process(self, raw: bytes, now: float | None = None) -> Outcome:
        decoded = decode_sample(raw, self.config.max_record_bytes)
        if isinstance(decoded, Rejection):
            return self._reject(decoded)
        return self.process_sample(decoded, now)

    def process_sample(self, sample: Sample, now: float | None = None) -> Outcome:
        limit = self.config.max_future_seconds
        if now is not None and sample.ts > now + limit:
            return self._reject(
                Rejection(
                    "future",
                    f"ts {sample.ts:.0f} is more than {limit} s ahead of the wall clock",
                    "validate",
                ),
                sample,
            )
        if sample.ts > self.frontier + limit and not self._corroborated_jump(sample):
            return self._reject(
                Rejection(
                    "future",
                    f"ts {sample.ts:.0f} is more than {limit} s ahead of the newest accepted record "
                    f"({self.frontier:.0f}) and not enough other series confirm the jump yet",
                    "validate",
                ),
                sample,
            )
        monitor = self.monitors.get(sample.key.country)
        if monitor is None:
            monitor = self.monitors[sample.key.country] = CountryMonitor(
                sample.key.country, self.config
            )
        result = monitor.add(sample)
        if isinstance(result, Rejection):
            return self._reject(result, sample)
        self.accepted += 1
        if sample.ts > self.frontier:
            self.frontier = sample.ts
        for message in result:
            self.emitted[f"{message['kind']}:{message['status']}"] += 1
        return Outcome(result, None, sample)

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
        if self.frontier == float("-inf"):
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
        since = self.frontier - self.config.max_future_seconds
        live = {candidate}
        for monitor in self.monitors.values():
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
        self.rejected[rejection.error_type] += 1
        return Outcome([], rejection, sample)

    @property
    def series_count(self) -> int:
        return sum(len(m.series) for m in self.monitors.values())

    @property
    def warming_series(self) -> int:
        return sum(sum(m.warming_series().values()) for m in self.monitors.values())

    @property
    def open_incidents(self) -> int:
        return sum(m.open_incidents for m in self.monitors.values())
