"""Synthetic traffic and probe data with labeled incidents: the ground truth detectors are judged on.

Traffic is built bottom-up, network by platform, so every view is consistent: blocking YouTube
lowers the YouTube series, each network's total and the country total by the same volume, as it
does in real data. Rhythms are local (daily curve, weekday factors, slow growth); noise is
multiplicative with a Poisson-like term, so small series are noisy. Probes are binomial.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from restrictwatch.detectors.events import iso
from restrictwatch.detectors.records import FAILURE_LAYERS, parse_ts

DAY = 86400


ts_of = parse_ts  # scenarios are written in ISO times, UTC unless they say otherwise


@dataclass(frozen=True)
class Network:
    asn: int
    share: float
    mobile: bool = False
    probes: int = 30


@dataclass(frozen=True)
class Region:
    """A province or state: an ISO 3166-2 code and its share of every network's traffic."""

    code: str
    share: float


@dataclass(frozen=True)
class Country:
    code: str
    utc_offset: float
    volume: float  # mean traffic per bin of the whole country
    networks: tuple[Network, ...]
    platforms: dict[str, float]  # platform -> share of traffic
    peak_hour: float = 21.0
    depth: float = 0.45  # daily amplitude
    weekly: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.02, 1.05, 1.05)  # Monday first, local
    growth_per_week: float = 0.004
    noise: float = 0.02
    probe_success: float = 0.98
    day_jitter: float = 0.03  # each local day's level wanders this much
    glitch_rate: float = 0.0005  # share of bins a series' measurement dips for one bin
    probe_dispersion: float = 0.02  # bin-to-bin wobble of the probe success rate
    traffic_source: str = "edge-cdn"
    probe_source: str = "probe-mesh"
    probed_platforms: tuple[str, ...] | None = None  # None: every platform; (): no probes
    probe_scope: str = "asn"  # asn: probe records per network; country: one per platform, no asn
    traffic_views: tuple[str, ...] = ("country", "asn", "platform")  # ("platform",): platform-only
    regions: tuple[Region, ...] = ()  # shares sum to 1; empty: a feed without regions
    # What each region reports: its total traffic (region), per platform (region_platform), and
    # probes summed over its networks (region_probes).
    region_views: tuple[str, ...] = ("region",)


@dataclass(frozen=True)
class Effect:
    """One injected pattern, labeled in the truth file. Times are UTC epoch seconds."""

    label: str
    kind: str  # network_outage | platform_restriction | throttling | benign
    country: str
    start: float
    end: float
    action: str  # outage | block | throttle | scale | silence | late | duplicate | gaps
    asns: tuple[int, ...] = ()  # empty: every network
    platforms: tuple[str, ...] = ()  # empty: every platform (and the rest)
    factor: float = 1.0  # traffic multiplier (residual share for outage/block)
    fail_share: float = 0.0  # share of probes failing
    method: str = "timeout"  # failing layer
    latency_factor: float = 1.0
    probes: str = "fail"  # outage: fail | silent
    source: str = ""  # for feed faults
    delay: float = 0.0  # for late feeds
    ramp_bins: int = 0
    labeled: bool = True
    regions: tuple[str, ...] = ()  # empty: the whole country


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: float
    end: float
    countries: tuple[Country, ...]
    effects: tuple[Effect, ...] = field(default_factory=tuple)
    bin_seconds: int = 300


def _local(ts: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
    local = ts + offset * 3600
    hour = (local % DAY) / 3600
    weekday = ((local // DAY).astype(np.int64) + 3) % 7
    return hour, weekday


def _diurnal(hour: np.ndarray, peak: float, depth: float) -> np.ndarray:
    a = 2 * math.pi * (hour - peak) / 24
    return 1 + depth * np.cos(a) + 0.25 * depth * np.cos(2 * a + 1.0)


def _active(ts: np.ndarray, e: Effect, bin_seconds: int, jitter: int = 0) -> np.ndarray:
    """Weight 0..1 of the effect in each bin (ramps in over `ramp_bins`, shifted by jitter bins)."""
    start = e.start + jitter * bin_seconds
    w = ((ts >= start) & (ts < e.end)).astype(float)
    if e.ramp_bins:
        ramp = np.clip((ts - start) / (e.ramp_bins * bin_seconds) + 1 / e.ramp_bins, 0, 1)
        w = w * ramp
    return w


def _noisy(rng: np.random.Generator, values: np.ndarray, noise: float) -> np.ndarray:
    sigma = np.sqrt(noise**2 + 1.0 / np.maximum(values, 1.0))
    noisy: np.ndarray = values * np.exp(rng.normal(0.0, 1.0, values.shape) * sigma)
    return noisy


Record = tuple[float, int, dict[str, object]]  # (emit time, order, record)


def generate(scenario: Scenario, seed: int) -> Iterator[Record]:
    """Every record of the scenario with the time it is emitted, in no particular order."""
    rng = np.random.default_rng(seed)
    b = scenario.bin_seconds
    ts = np.arange(scenario.start, scenario.end, b, dtype=float)
    order = 0
    for country in scenario.countries:
        effects = [e for e in scenario.effects if e.country in (country.code, "*")]
        for rec in _country_records(rng, country, effects, ts, b):
            order += 1
            yield rec[0], order, rec[1]


def _country_records(
    rng: np.random.Generator, c: Country, effects: list[Effect], ts: np.ndarray, b: int
) -> Iterator[tuple[float, dict[str, object]]]:
    hour, weekday = _local(ts, c.utc_offset)
    weeks = (ts - ts[0]) / (7 * DAY)
    base = c.volume * np.asarray(c.weekly)[weekday] * (1 + c.growth_per_week) ** weeks
    day_index = ((ts + c.utc_offset * 3600) // DAY).astype(np.int64)
    day_level = np.exp(rng.normal(0, c.day_jitter, day_index.max() - day_index.min() + 1))
    base = base * day_level[day_index - day_index.min()]
    platforms = list(c.platforms)
    rest_share = max(0.0, 1.0 - sum(c.platforms.values()))
    other_share = max(0.0, 1.0 - sum(n.share for n in c.networks))
    networks = [*c.networks, Network(0, other_share)] if other_share > 0 else list(c.networks)
    # A country without regions is one area, "", of the whole volume.
    areas = c.regions or (Region("", 1.0),)
    # volume[(region, network)][platform or ""] over time, before measurement noise
    volume: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for r in areas:
        for n in networks:
            phase = -1.5 if n.mobile else 0.0
            curve = base * n.share * r.share * _diurnal(hour, c.peak_hour + phase, c.depth)
            volume[(r.code, n.asn)] = {p: curve * s for p, s in c.platforms.items()}
            volume[(r.code, n.asn)][""] = curve * rest_share
    Cell = tuple[str, int, str]  # (region, network, platform)
    probe_fail: dict[Cell, tuple[np.ndarray, str]] = {}
    latency_mult: dict[Cell, np.ndarray] = {}
    silent: dict[Cell, np.ndarray] = {}
    for idx, e in enumerate(effects):
        if e.action not in ("outage", "block", "throttle", "scale"):
            continue
        for r in areas:
            if e.regions and r.code not in e.regions:
                continue
            for n in networks:
                if e.asns and n.asn not in e.asns:
                    continue
                # Operators comply minutes to hours apart: a bin or two at 5 minutes or an hour,
                # inside one bin at a daily cadence (a day's shift would be another incident).
                staggered = e.action in ("block", "outage") and len(networks) > 1 and b < DAY
                jitter = idx % 3 if staggered else 0
                w = _active(ts, e, b, jitter if n.asn % 2 else 0)
                cell = volume[(r.code, n.asn)]
                for p in e.platforms or (*platforms, ""):
                    if p in cell:
                        cell[p] = cell[p] * (1 - w + w * e.factor)
                for p in e.platforms or platforms:
                    key = (r.code, n.asn, p)
                    if e.action == "outage" and e.probes == "silent":
                        silent[key] = np.maximum(silent.get(key, np.zeros_like(ts)), w)
                    elif e.action in ("outage", "block", "throttle") and e.fail_share > 0:
                        share = w * e.fail_share
                        prev = probe_fail.get(key)
                        probe_fail[key] = (
                            share if prev is None else np.maximum(prev[0], share),
                            e.method,
                        )
                    if e.latency_factor != 1.0:
                        latency_mult[key] = latency_mult.get(key, np.ones_like(ts)) * (
                            1 - w + w * e.latency_factor
                        )

    def summed(region: str | None, asn: int | None, platform: str | None) -> np.ndarray:
        total: np.ndarray = np.zeros_like(ts)
        for (r_code, a), cell in volume.items():
            if (region is None or r_code == region) and (asn is None or a == asn):
                total = total + (sum(cell.values()) if platform is None else cell[platform])
        return total

    t_src = c.traffic_source
    if "country" in c.traffic_views:
        yield from _traffic(rng, c, t_src, None, None, summed(None, None, None), ts, b)
    if "asn" in c.traffic_views:
        for n in c.networks:
            yield from _traffic(rng, c, t_src, n.asn, None, summed(None, n.asn, None), ts, b)
    if "platform" in c.traffic_views:
        for p in platforms:
            yield from _traffic(rng, c, t_src, None, p, summed(None, None, p), ts, b)
    for r in c.regions:
        if "region" in c.region_views:
            yield from _traffic(
                rng, c, t_src, None, None, summed(r.code, None, None), ts, b, r.code
            )
        if "region_platform" in c.region_views:
            for p in platforms:
                yield from _traffic(rng, c, t_src, None, p, summed(r.code, None, p), ts, b, r.code)
    probed = tuple(platforms) if c.probed_platforms is None else c.probed_platforms

    def probes_of(r: Region, n: Network, p: str) -> Iterator[tuple[float, dict[str, object]]]:
        key = (r.code, n.asn, p)
        scaled = replace(n, probes=max(1, round(n.probes * r.share))) if r.code else n
        return _probes(
            rng,
            c,
            scaled,
            p,
            ts,
            b,
            probe_fail.get(key),
            latency_mult.get(key),
            silent.get(key),
        )

    if not c.regions:
        per_network = ((n, p, probes_of(areas[0], n, p)) for n in c.networks for p in probed)
        if c.probe_scope == "asn":
            for _, _, records in per_network:
                yield from records
        else:
            yield from _merged(rec for _, _, records in per_network for rec in records)
        return
    # With regions, a network's probes are spread over them as its traffic is: the country's
    # records sum them, and a region's probe view (country-wide there) sums its networks.
    cells = {
        (r.code, n.asn, p): list(probes_of(r, n, p))
        for r in areas
        for n in c.networks
        for p in probed
    }
    if c.probe_scope == "asn":
        for n in c.networks:
            for p in probed:
                yield from _merged(
                    (rec for r in areas for rec in cells[(r.code, n.asn, p)]), keep_asn=True
                )
    else:
        yield from _merged(rec for recs in cells.values() for rec in recs)
    if "region_probes" in c.region_views:
        for r in c.regions:
            merged = _merged(
                rec for (code, _, _), recs in cells.items() if code == r.code for rec in recs
            )
            for emit, rec in merged:
                yield emit, {**rec, "region": r.code}


def _merged(
    records: Iterator[tuple[float, dict[str, object]]], keep_asn: bool = False
) -> Iterator[tuple[float, dict[str, object]]]:
    """Probe records summed per time and platform (and network, with `keep_asn`)."""
    merged: dict[tuple[str, str, object], dict[str, object]] = {}
    for emit, rec in records:
        key = (str(rec["ts"]), str(rec["platform"]), rec["asn"] if keep_asn else None)
        acc = merged.get(key)
        lat = float(rec.get("latency_ms", 0.0)) * int(rec["ok"])  # type: ignore[arg-type, call-overload]
        if acc is None:
            failures = rec["failures"]
            assert isinstance(failures, dict)
            acc = merged[key] = {**rec, "failures": dict(failures), "_emit": emit, "_lat": lat}
            if not keep_asn:
                acc.pop("asn", None)
            continue
        acc["probes"] = int(acc["probes"]) + int(rec["probes"])  # type: ignore[call-overload]
        acc["ok"] = int(acc["ok"]) + int(rec["ok"])  # type: ignore[call-overload]
        fails = acc["failures"]
        assert isinstance(fails, dict)
        for layer, n in rec["failures"].items():  # type: ignore[attr-defined]
            fails[layer] += n
        acc["_lat"] = float(acc["_lat"]) + lat  # type: ignore[arg-type]
    for acc in merged.values():
        emit = float(acc.pop("_emit"))  # type: ignore[arg-type]
        lat = float(acc.pop("_lat"))  # type: ignore[arg-type]
        acc.pop("latency_ms", None)
        if int(acc["ok"]):  # type: ignore[call-overload]
            acc["latency_ms"] = round(lat / int(acc["ok"]), 1)  # type: ignore[call-overload]
        yield emit, acc


def _traffic(
    rng: np.random.Generator,
    c: Country,
    source: str,
    asn: int | None,
    platform: str | None,
    values: np.ndarray,
    ts: np.ndarray,
    b: int,
    region: str | None = None,
) -> Iterator[tuple[float, dict[str, object]]]:
    observed = _noisy(rng, values, c.noise)
    glitch = rng.random(ts.shape) < c.glitch_rate  # a collector hiccup: one bin reads low
    observed = np.where(glitch, observed * rng.uniform(0.3, 0.7, ts.shape), observed)
    for t, v in zip(ts.tolist(), observed.tolist(), strict=True):
        rec: dict[str, object] = {"signal": "traffic", "ts": iso(t), "country": c.code}
        if region is not None:
            rec["region"] = region
        if asn is not None:
            rec["asn"] = asn
        if platform is not None:
            rec["platform"] = platform
        rec["value"] = round(v, 2)
        rec["source"] = source
        yield t + b, rec


def _probes(
    rng: np.random.Generator,
    c: Country,
    n: Network,
    platform: str,
    ts: np.ndarray,
    b: int,
    fail: tuple[np.ndarray, str] | None,
    latency: np.ndarray | None,
    silent: np.ndarray | None,
) -> Iterator[tuple[float, dict[str, object]]]:
    count = np.maximum(1, rng.poisson(n.probes, ts.shape))
    p_ok = np.clip(c.probe_success + rng.normal(0, c.probe_dispersion, ts.shape), 0.5, 1.0)
    method = "timeout"
    if fail is not None:
        share, method = fail
        p_ok = p_ok * (1 - share)
    ok = rng.binomial(count, p_ok)
    base_latency = 40 + 20 * (sum(map(ord, platform)) % 7)  # stable across processes
    lat = base_latency * np.exp(rng.normal(0, 0.08, ts.shape))
    if latency is not None:
        lat = lat * latency
    background = rng.integers(0, len(FAILURE_LAYERS), ts.shape)
    quiet = silent if silent is not None else np.zeros_like(ts)
    draw = rng.random(ts.shape)
    for i, t in enumerate(ts.tolist()):
        if draw[i] < quiet[i]:
            continue
        probes, good = int(count[i]), int(ok[i])
        failed = probes - good
        failures = dict.fromkeys(FAILURE_LAYERS, 0)
        if failed:
            if fail is not None and fail[0][i] > 0:
                # Blocking failures at the blocking layer; the background share elsewhere.
                blocked = min(failed, round(probes * c.probe_success * fail[0][i]))
                failures[method] += blocked
                failures[FAILURE_LAYERS[background[i]]] += failed - blocked
            else:
                failures[FAILURE_LAYERS[background[i]]] += failed
        rec: dict[str, object] = {
            "signal": "reachability",
            "ts": iso(t),
            "country": c.code,
            "asn": n.asn,
            "platform": platform,
            "probes": probes,
            "ok": good,
            "failures": failures,
            "source": c.probe_source,
        }
        if good:
            rec["latency_ms"] = round(float(lat[i]), 1)
        yield t + b, rec
