"""The detection pipeline: raw records in, event messages and rejections out. No I/O, no clock.

The live worker and `replay` both drive this class, so whatever one does to a record the other
does too. The caller may pass wall-clock `now` (the worker does) to reject records from the future;
without it (replay) the reference is the newest accepted record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from detectors.config import Config
from detectors.monitor import CountryMonitor
from detectors.records import Rejection, Sample, decode_sample


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
        reference = now if now is not None else self.frontier
        if reference > float("-inf") and sample.ts > reference + limit:
            what = "wall clock" if now is not None else "newest accepted record"
            return self._reject(
                Rejection("future", f"ts {sample.ts:.0f} is more than {limit} s ahead of the {what}", "validate"),
                sample,
            )
        monitor = self.monitors.get(sample.key.country)
        if monitor is None:
            monitor = self.monitors[sample.key.country] = CountryMonitor(sample.key.country, self.config)
        result = monitor.add(sample)
        if isinstance(result, Rejection):
            return self._reject(result, sample)
        self.accepted += 1
        if sample.ts > self.frontier:
            self.frontier = sample.ts
        for message in result:
            self.emitted[f"{message['kind']}:{message['status']}"] += 1
        return Outcome(result, None, sample)

    def _reject(self, rejection: Rejection, sample: Sample | None = None) -> Outcome:
        self.rejected[rejection.error_type] += 1
        return Outcome([], rejection, sample)

    @property
    def series_count(self) -> int:
        return sum(len(m.series) for m in self.monitors.values())

    @property
    def open_incidents(self) -> int:
        return sum(m.open_incidents for m in self.monitors.values())
