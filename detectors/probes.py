"""Expected probe success rate and latency per reachability series."""

from __future__ import annotations

import math

from river import stats


class ProbeBaseline:
    """Exponentially weighted success rate and log-latency, with a binomial-aware z-score.

    The error variance comes from a river `EWVar` so a fleet whose success rate wobbles more than
    binomial noise is judged against its own wobble. Bins far below expectation are not learned:
    a block that lasts weeks stays a block.
    """

    def __init__(
        self,
        rate_fading: float = 0.02,
        latency_fading: float = 0.02,
        rate_floor: float = 0.02,
        warmup_bins: int = 288,
        protect_sigmas: float = 3.0,
        protect_drop: float = 0.2,
    ) -> None:
        self.rate_fading = rate_fading
        self.latency_fading = latency_fading
        self.rate_floor = rate_floor
        self.warmup_bins = warmup_bins
        self.protect_sigmas = protect_sigmas
        self.protect_drop = protect_drop
        self.rate = stats.EWMean(fading_factor=rate_fading)
        self.error = stats.EWVar(fading_factor=rate_fading)
        self.log_latency = stats.EWMean(fading_factor=latency_fading)
        self.n = 0

    def assess(
        self, probes: int, ok: int, latency_ms: float | None
    ) -> tuple[float, float, float, bool, float | None]:
        """Return (observed rate, expected rate, z, ready, latency ratio); then learn."""
        observed = ok / probes
        ready = self.n >= self.warmup_bins
        expected = self.rate.get() if self.n else observed
        binomial = max(expected * (1 - expected), 0.01) / probes
        se = math.sqrt(binomial + self.error.get() + self.rate_floor**2)
        z = (observed - expected) / se
        drop = 1 - observed / expected if expected > 0 else 0.0
        latency_ratio = None
        if latency_ms is not None and latency_ms > 0 and self.n and self.log_latency.get():
            latency_ratio = math.exp(math.log(latency_ms) - self.log_latency.get())
        if not (ready and z <= -self.protect_sigmas and drop >= self.protect_drop):
            if self.n:
                self.error.update(observed - expected)
            self.rate.update(observed)
            if latency_ms is not None and latency_ms > 0:
                self.log_latency.update(math.log(latency_ms))
            self.n += 1
        return observed, expected, z, ready, latency_ratio
