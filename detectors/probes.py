"""Expected probe success rate and latency per reachability series."""

from __future__ import annotations

import math

from restrictwatch.detectors.timing import Cadence, SlowReference, decay_rate

# The slow latency reference stops following a latency this far (log units, ~20 %) above it.
SLOW_LATENCY_TOLERANCE = 0.18
WEEK = 7 * 86400


class EWStat:
    """Exponentially weighted mean and variance, exact (count-weighted) while it has few points."""

    __slots__ = ("mean", "n", "var")

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def update(self, x: float, rate: float) -> None:
        self.n += 1
        if self.n == 1:
            self.mean = x
            return
        rate = max(rate, 1.0 / self.n)
        diff = x - self.mean
        increment = rate * diff
        self.mean += increment
        self.var = (1 - rate) * (self.var + diff * increment)


class ProbeBaseline:
    """Exponentially weighted success rate and log-latency, with a binomial-aware z-score.

    The error variance is learned too, so a fleet whose success rate wobbles more than binomial
    noise is judged against its own wobble. Bins far below expectation are not learned: a block
    that lasts weeks stays a block. Memories and the warm-up are event time (`detectors.timing`).
    """

    def __init__(
        self,
        rate_halflife_seconds: float = 3 * 3600,
        latency_halflife_seconds: float = 3 * 3600,
        rate_floor: float = 0.02,
        warmup_seconds: float = 86400,
        protect_sigmas: float = 3.0,
        protect_drop: float = 0.2,
        bin_seconds: int = 300,
        slow_halflife_seconds: float = 4 * WEEK,
        slow_hold_seconds: float = 8 * WEEK,
    ) -> None:
        self.rate_halflife_seconds = rate_halflife_seconds
        self.latency_halflife_seconds = latency_halflife_seconds
        self.rate_floor = rate_floor
        self.warmup_seconds = warmup_seconds
        self.protect_sigmas = protect_sigmas
        self.protect_drop = protect_drop
        self.bin_seconds = bin_seconds
        self.rate = EWStat()
        self.error = EWStat()
        self.log_latency = EWStat()
        self.cadence = Cadence()
        self.first_ts: float | None = None
        # Latency over weeks: a slowdown that the 3-hour memory has long absorbed still shows.
        self.slow_latency = SlowReference(
            slow_halflife_seconds, slow_hold_seconds, SLOW_LATENCY_TOLERANCE, +1
        )
        self.slow_latency_ratio: float | None = None  # of the last assessed bin
        # The usual number of probes per bin (log, exponentially weighted), and bins learned.
        self.usual_log_probes = 0.0
        self.probes_seen = 0

    @property
    def n(self) -> int:
        return self.rate.n

    def assess(
        self, ts: float, probes: int, ok: int, latency_ms: float | None
    ) -> tuple[float, float, float, bool, float | None]:
        """Return (observed rate, expected rate, z, ready, latency ratio); then learn."""
        observed = ok / probes
        ready = self.first_ts is not None and ts - self.first_ts >= self.warmup_seconds
        expected = self.rate.mean if self.rate.n else observed
        binomial = max(expected * (1 - expected), 0.01) / probes
        # The wobble beyond binomial noise comes from which networks and vantage points happen
        # to report; a bin with a fraction of the usual probes samples fewer of them.
        usual = math.exp(self.usual_log_probes) if self.probes_seen else probes
        spread = self.error.var * max(1.0, usual / probes)
        se = math.sqrt(binomial + spread + self.rate_floor**2)
        z = (observed - expected) / se
        drop = 1 - observed / expected if expected > 0 else 0.0
        log_latency = math.log(latency_ms) if latency_ms is not None and latency_ms > 0 else None
        latency_ratio = None
        if log_latency is not None and self.log_latency.n:
            latency_ratio = math.exp(log_latency - self.log_latency.mean)
        slow = self.slow_latency.value
        self.slow_latency_ratio = None
        if log_latency is not None and slow is not None:
            self.slow_latency_ratio = math.exp(log_latency - slow)
        if not (ready and z <= -self.protect_sigmas and drop >= self.protect_drop):
            if self.first_ts is None:
                self.first_ts = ts
            covered = self.cadence.covered(ts, self.bin_seconds)
            rate = decay_rate(covered, self.rate_halflife_seconds)
            if self.rate.n:
                self.error.update(observed - expected, rate)
            self.rate.update(observed, rate)
            self.probes_seen += 1
            self.usual_log_probes += max(rate, 1.0 / self.probes_seen) * (
                math.log(probes) - self.usual_log_probes
            )
            if log_latency is not None:
                self.log_latency.update(
                    log_latency, decay_rate(covered, self.latency_halflife_seconds)
                )
                if ready:
                    self.slow_latency.update(ts, self.log_latency.mean, covered)
        return observed, expected, z, ready, latency_ratio
