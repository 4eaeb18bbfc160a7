"""Classify one bin of one country: which networks are out, which platforms restricted or throttled.

Series are not judged alone. A platform's drop is measured against the drop of the traffic it
belongs to (a holiday lowers everything, a block lowers one platform), probes on a network that is
out say nothing about platforms, and a country total is country-wide only when no network in it
is still up (a mobile shutdown is an outage of the mobile ASNs, however large their share).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from detectors.config import Thresholds
from detectors.records import SeriesKey
from detectors.series import Verdict

OUTAGE = "network_outage"
RESTRICTION = "platform_restriction"
THROTTLING = "throttling"
KIND_RANK = {THROTTLING: 0, RESTRICTION: 1, OUTAGE: 2}

UnitKey = tuple[str, int | None, str | None]
"""(family, asn, platform): ("outage", asn or None, None) or ("platform", asn or None, platform)."""


@dataclass(slots=True)
class Observation:
    """A unit's state in one bin: anomalous with a kind and evidence, or normal."""

    anomalous: bool
    kind: str | None = None
    evidence: list[Verdict] = field(default_factory=list)


NORMAL = Observation(False)


def _collapsed(v: Verdict, t: Thresholds, drop: float) -> bool:
    return v.drop >= drop and v.z <= -t.min_sigmas


def _mean_ratio(vs: list[Verdict]) -> float:
    return sum(v.ratio for v in vs) / len(vs)


def classify_bin(
    verdicts: list[Verdict], thresholds: Mapping[SeriesKey, Thresholds]
) -> dict[UnitKey, Observation]:
    """Observations of every unit that has evidence in this bin; units absent here are unknown."""
    totals: dict[int | None, list[Verdict]] = defaultdict(list)
    platform_traffic: dict[str, list[Verdict]] = defaultdict(list)
    reach: dict[str, dict[int | None, list[Verdict]]] = defaultdict(lambda: defaultdict(list))
    reach_by_asn: dict[int | None, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if not v.ready:
            continue
        k = v.key
        if k.signal == "traffic":
            if k.platform is None:
                totals[k.asn].append(v)
            elif k.asn is None:
                platform_traffic[k.platform].append(v)
        else:
            assert k.platform is not None
            reach[k.platform][k.asn].append(v)
            reach_by_asn[k.asn].append(v)

    out: dict[UnitKey, Observation] = {}
    asn_out: dict[int, bool] = {}
    for asn, vs in totals.items():
        if asn is None:
            continue
        hit = [v for v in vs if _collapsed(v, thresholds[v.key], thresholds[v.key].outage_drop)]
        asn_out[asn] = bool(hit)
        out[("outage", asn, None)] = Observation(True, OUTAGE, hit) if hit else NORMAL
    for asn, vs in reach_by_asn.items():
        # Probes failing for nearly every platform on a network we have no traffic for: it is out.
        if asn is None or asn in asn_out:
            continue
        platforms = {v.key.platform for v in vs}
        failing = [v for v in vs if _collapsed(v, thresholds[v.key], thresholds[v.key].outage_drop)]
        if len(platforms) < 3:
            continue
        share = thresholds[vs[0].key].outage_platform_share
        is_out = len({v.key.platform for v in failing}) >= share * len(platforms)
        asn_out[asn] = is_out
        out[("outage", asn, None)] = Observation(True, OUTAGE, failing) if is_out else NORMAL

    country_out = False
    total_ratio = 1.0
    if totals.get(None):
        vs = totals[None]
        total_ratio = _mean_ratio(vs)
        hit = [v for v in vs if _collapsed(v, thresholds[v.key], thresholds[v.key].outage_drop)]
        some_network_up = any(not is_out for is_out in asn_out.values())
        if not hit:
            out[("outage", None, None)] = NORMAL
        elif not some_network_up:
            country_out = True
            out[("outage", None, None)] = Observation(True, OUTAGE, hit)
        # else: the collapse is the collapse of the networks that are out; no country-wide verdict.
    if country_out:
        return out  # every platform signal is explained by the outage

    down_asns = {a for a, is_out in asn_out.items() if is_out}
    for platform in set(platform_traffic) | set(reach):
        _classify_platform(
            platform,
            platform_traffic.get(platform, []),
            reach.get(platform, {}),
            total_ratio,
            down_asns,
            thresholds,
            out,
        )
    return out


def _classify_platform(
    platform: str,
    traffic: list[Verdict],
    reach: dict[int | None, list[Verdict]],
    total_ratio: float,
    down_asns: set[int],
    thresholds: Mapping[SeriesKey, Thresholds],
    out: dict[UnitKey, Observation],
) -> None:
    block: list[Verdict] = []
    throttle: list[Verdict] = []
    traffic_normal = False
    for v in traffic:
        t = thresholds[v.key]
        if total_ratio <= 1 - t.outage_drop:
            continue  # the whole country's traffic is collapsing; a platform share says nothing
        # Judge the platform against the traffic it belongs to: a national dip is not a block.
        excess = 1 - v.ratio / min(1.0, total_ratio)
        if v.z > -t.min_sigmas or excess < t.throttle_drop:
            traffic_normal = True
        elif excess >= t.block_drop:
            block.append(v)
        else:
            throttle.append(v)

    def failing(v: Verdict) -> bool:
        return _collapsed(v, thresholds[v.key], thresholds[v.key].reach_drop)

    country_reach = reach.get(None, [])
    country_reach_hit = [v for v in country_reach if failing(v)]
    per_asn = {a: vs for a, vs in reach.items() if a is not None and a not in down_asns}
    hit_asns = {a for a, vs in per_asn.items() if any(failing(v) for v in vs)}
    ok_asns = set(per_asn) - hit_asns
    reach_evidence = country_reach_hit + [
        v for a in sorted(hit_asns) for v in per_asn[a] if failing(v)
    ]

    if block or country_reach_hit or (hit_asns and not ok_asns):
        out[("platform", None, platform)] = Observation(
            True, RESTRICTION, block + throttle + reach_evidence
        )
    elif hit_asns:
        for a in hit_asns:
            out[("platform", a, platform)] = Observation(
                True, RESTRICTION, [v for v in per_asn[a] if failing(v)]
            )
        for a in ok_asns:
            out[("platform", a, platform)] = NORMAL
    elif throttle:
        # Probes still get through: a slowdown, not a block. Their latency is the evidence.
        probe_evidence = country_reach + [v for vs in per_asn.values() for v in vs]
        out[("platform", None, platform)] = Observation(True, THROTTLING, throttle + probe_evidence)
    elif traffic_normal or ok_asns or country_reach:
        out[("platform", None, platform)] = NORMAL
        for a in ok_asns:
            out[("platform", a, platform)] = NORMAL
