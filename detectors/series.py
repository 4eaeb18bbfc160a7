"""One series: its open bins, its model, and the verdict it gives when a bin closes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from restrictwatch.detectors.config import Config, Thresholds
from restrictwatch.detectors.probes import ProbeBaseline
from restrictwatch.detectors.records import (
    FAILURE_LAYERS,
    ReachabilitySample,
    SeriesKey,
    TrafficSample,
)
from restrictwatch.detectors.seasonal import SeasonalBaseline

_LAYER_INDEX = {layer: i for i, layer in enumerate(FAILURE_LAYERS)}


@dataclass(slots=True)
class Verdict:
    """What one series said about one closed bin."""

    key: SeriesKey
    observed: float
    expected: float
    z: float
    ready: bool
    failures: tuple[int, ...] | None = None
    latency_ratio: float | None = None
    provisional: bool = False  # still warming up, but fit to tell a collapse from normal
    reference: str | None = None  # what a platform's traffic was judged against (correlation)
    # Against the slow reference (weeks of memory, see detectors.timing.SlowReference): what a
    # level that has followed a deepening campaign no longer shows. None: no slow reference yet.
    slow_expected: float | None = None
    slow_sigma: float | None = None  # of log traffic around the slow reference
    slow_since: float | None = None  # start of the run below it: when the step began
    slow_latency_ratio: float | None = None
    # Start of the run of bins, up to this one, below the series' normal band (as an open
    # outage's end is judged): where an incident opened on this bin began.
    below_since: float | None = None

    @property
    def slow_ratio(self) -> float | None:
        if self.slow_expected is None or self.slow_expected <= 0:
            return None
        return self.observed / self.slow_expected

    @property
    def drop(self) -> float:
        """Share of the expected value that is missing (0 when at or above expectation)."""
        if self.expected <= 0:
            return 0.0
        return min(1.0, max(0.0, 1.0 - self.observed / self.expected))

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else 1.0


def below_band(v: Verdict, t: Thresholds, hold: float) -> bool:
    """Below the series' normal band: `recovered_drop` and `hold` x `min_sigmas` below
    expectation. An open outage stays open while its bins are; an incident starts where they
    began."""
    return v.drop >= t.recovered_drop and v.z <= -t.min_sigmas * hold


class TrafficModel(Protocol):
    """What the pipeline needs from a traffic detector: score a bin, then learn from it."""

    def assess(self, ts: float, value: float) -> tuple[float, float, bool]:
        """Return (expected value, standardized deviation, ready)."""
        ...


class SeasonalModel:
    """Adapter from `SeasonalBaseline` to `TrafficModel`."""

    __slots__ = ("detector", "provisional", "slow_expected", "slow_sigma", "slow_since")

    def __init__(self, detector: SeasonalBaseline) -> None:
        self.detector = detector
        # Of the last assessed bin: read right after `assess`.
        self.provisional = False
        self.slow_expected: float | None = None
        self.slow_sigma: float | None = None
        self.slow_since: float | None = None

    def assess(self, ts: float, value: float) -> tuple[float, float, bool]:
        forecast, z = self.detector.observe(ts, value)
        self.provisional = forecast.provisional
        slow = forecast.slow_mean_log
        self.slow_expected = None if slow is None else math.expm1(slow)
        self.slow_sigma = None if slow is None else forecast.slow_sigma_log
        self.slow_since = self.detector.slow_onset
        return forecast.expected, z, forecast.ready


@dataclass(slots=True)
class TrafficBin:
    total: float = 0.0
    count: int = 0
    seen: list[float] = field(default_factory=list)

    def add(self, sample: TrafficSample) -> None:
        self.total += sample.value
        self.count += 1
        self.seen.append(sample.ts)

    @property
    def value(self) -> float:
        # The mean, not the sum: a missing record in a bin must not look like a drop.
        return self.total / self.count


@dataclass(slots=True)
class ReachabilityBin:
    probes: int = 0
    ok: int = 0
    failures: list[int] = field(default_factory=lambda: [0] * len(FAILURE_LAYERS))
    latency_weighted: float = 0.0
    latency_weight: int = 0
    seen: list[float] = field(default_factory=list)

    def add(self, sample: ReachabilitySample) -> None:
        self.probes += sample.probes
        self.ok += sample.ok
        for layer, n in sample.failures.items():
            i = _LAYER_INDEX.get(layer)
            if i is not None:
                self.failures[i] += n
        if sample.latency_ms is not None and sample.ok:
            self.latency_weighted += sample.latency_ms * sample.ok
            self.latency_weight += sample.ok
        self.seen.append(sample.ts)

    @property
    def latency_ms(self) -> float | None:
        return self.latency_weighted / self.latency_weight if self.latency_weight else None


Bin = TrafficBin | ReachabilityBin


def make_traffic_model(config: Config, thresholds: Thresholds) -> TrafficModel:
    """Build the configured traffic detector for one series."""
    spec = config.detectors.traffic
    if spec.kind == "seasonal":
        p = spec.seasonal
        return SeasonalModel(
            SeasonalBaseline(
                bin_seconds=config.bin_seconds,
                daily_slots=p.daily_slots,
                level_halflife_seconds=p.level_halflife_seconds,
                daily_halflife_seconds=p.daily_halflife_seconds,
                weekly_halflife_seconds=p.weekly_halflife_seconds,
                noise_halflife_seconds=p.noise_halflife_seconds,
                noise_floor=p.noise_floor,
                warmup_seconds=p.warmup_seconds,
                clip_sigmas=p.clip_sigmas,
                protect_sigmas=thresholds.protect_sigmas,
                protect_drop=thresholds.protect_drop,
                protect_max_seconds=p.protect_max_seconds,
                slow_halflife_seconds=p.slow_halflife_seconds,
                slow_hold_seconds=p.slow_hold_seconds,
            )
        )
    from restrictwatch.detectors.baselines import make_baseline_model

    model: TrafficModel = make_baseline_model(config, thresholds)
    return model


class Series:
    """A series' model plus its identity; closes bins into verdicts."""

    # In the order checkpoints store them (detectors/state.py): a new field goes last.
    __slots__ = ("key", "model", "thresholds", "below_since")  # noqa: RUF023

    def __init__(self, key: SeriesKey, config: Config) -> None:
        self.key = key
        self.thresholds = config.thresholds_for(
            key.country, key.asn, key.platform, key.region, key.source
        )
        self.model: TrafficModel | ProbeBaseline
        if key.signal == "traffic":
            self.model = make_traffic_model(config, self.thresholds)
        else:
            p = config.detectors.reachability.success_rate
            self.model = ProbeBaseline(
                rate_halflife_seconds=p.rate_halflife_seconds,
                latency_halflife_seconds=p.latency_halflife_seconds,
                rate_floor=p.rate_floor,
                warmup_seconds=p.warmup_seconds,
                bin_seconds=config.bin_seconds,
                protect_sigmas=self.thresholds.protect_sigmas,
                protect_drop=self.thresholds.protect_drop,
                slow_halflife_seconds=p.slow_halflife_seconds,
                slow_hold_seconds=p.slow_hold_seconds,
            )
        self.below_since: float | None = None

    def new_bin(self) -> Bin:
        return TrafficBin() if self.key.signal == "traffic" else ReachabilityBin()

    def close(self, bin_start: float, acc: Bin, hold: float = 1.0) -> Verdict:
        """Score the bin, then learn from it (the model decides whether it may).

        `hold` (the lifecycle's `hold_factor`) sets the normal band: a bin lies below it when it
        is `recovered_drop` and `hold` x `min_sigmas` below expectation, the test an open outage
        must pass to stay open, so an incident's start is dated as its end is.
        """
        v = self._verdict(bin_start, acc)
        if (v.ready or v.provisional) and below_band(v, self.thresholds, hold):
            if self.below_since is None:
                self.below_since = bin_start
            v.below_since = self.below_since
        else:
            self.below_since = None
        return v

    def _verdict(self, bin_start: float, acc: Bin) -> Verdict:
        if isinstance(acc, TrafficBin):
            assert not isinstance(self.model, ProbeBaseline)
            value = acc.value
            expected, z, ready = self.model.assess(bin_start, value)
            if isinstance(self.model, SeasonalModel):
                m = self.model
                return Verdict(
                    self.key,
                    value,
                    expected,
                    z,
                    ready,
                    provisional=m.provisional,
                    slow_expected=m.slow_expected,
                    slow_sigma=m.slow_sigma,
                    slow_since=m.slow_since,
                )
            return Verdict(self.key, value, expected, z, ready)
        assert isinstance(self.model, ProbeBaseline)
        observed, expected, z, ready, latency_ratio = self.model.assess(
            bin_start, acc.probes, acc.ok, acc.latency_ms
        )
        return Verdict(
            self.key,
            observed,
            expected,
            z,
            ready,
            tuple(acc.failures),
            latency_ratio,
            slow_latency_ratio=self.model.slow_latency_ratio,
        )
