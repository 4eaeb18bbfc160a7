"""Classify one bin of one country: which networks are out, which platforms restricted or throttled.

Series are not judged alone. A platform's drop is measured against the drop of the traffic it
belongs to (a holiday lowers everything, a block lowers one platform), probes on a network that is
out say nothing about platforms, and a country total is country-wide only when no network in it
is still up (a mobile shutdown is an outage of the mobile ASNs, however large their share).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
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
    weak: bool = False  # one signal alone, near its threshold: needs a longer run to open


NORMAL = Observation(False)


class Judge:
    """Threshold checks for one bin. A unit already open is held at `hold` times its thresholds:
    hysteresis on the level as well as on the duration, so an incident hovering near a threshold
    stays one incident instead of flapping."""

    def __init__(
        self,
        thresholds: Mapping[SeriesKey, Thresholds],
        active: Collection[UnitKey] = (),
        hold: float = 1.0,
    ) -> None:
        self.thresholds = thresholds
        self.active = active
        self.hold = hold

    def limits(self, key: SeriesKey, unit: UnitKey | None = None, *more: UnitKey) -> Thresholds:
        t = self.thresholds[key]
        if self.hold == 1.0 or not any(u in self.active for u in (unit, *more) if u is not None):
            return t
        return _relaxed(t, self.hold)

    def collapsed(self, v: Verdict, drop_name: str, *units: UnitKey) -> bool:
        t = self.limits(v.key, *units)
        drop: float = getattr(t, drop_name)
        return v.drop >= drop and v.z <= -t.min_sigmas


_RELAXED: dict[tuple[int, float], Thresholds] = {}


def _relaxed(t: Thresholds, hold: float) -> Thresholds:
    cached = _RELAXED.get((id(t), hold))
    if cached is None or len(_RELAXED) > 4096:
        # Only the edges between anomalous and normal are relaxed, never the one between kinds.
        fields = ("min_sigmas", "outage_drop", "throttle_drop")
        cached = t.model_copy(update={f: getattr(t, f) * hold for f in fields})
        if len(_RELAXED) > 4096:
            _RELAXED.clear()
        _RELAXED[(id(t), hold)] = cached
    return cached


def classify_bin(
    verdicts: list[Verdict],
    thresholds: Mapping[SeriesKey, Thresholds],
    active: Collection[UnitKey] = (),
    hold: float = 1.0,
) -> dict[UnitKey, Observation]:
    """Observations of every unit that has evidence in this bin; units absent here are unknown.

    `active` are the units currently open; they stay anomalous down to `hold` times the thresholds.
    """
    judge = Judge(thresholds, active, hold)
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
        unit: UnitKey = ("outage", asn, None)
        hit = [v for v in vs if judge.collapsed(v, "outage_drop", unit)]
        asn_out[asn] = bool(hit)
        out[unit] = Observation(True, OUTAGE, hit) if hit else NORMAL
    for asn, vs in reach_by_asn.items():
        # Probes failing for nearly every platform on a network we have no traffic for: it is out.
        if asn is None or asn in asn_out:
            continue
        unit = ("outage", asn, None)
        platforms = {v.key.platform for v in vs}
        failing = [v for v in vs if judge.collapsed(v, "outage_drop", unit)]
        if len(platforms) < 3:
            continue
        share = thresholds[vs[0].key].outage_platform_share
        is_out = len({v.key.platform for v in failing}) >= share * len(platforms)
        asn_out[asn] = is_out
        out[unit] = Observation(True, OUTAGE, failing) if is_out else NORMAL

    country_out = False
    totals_by_source: dict[str, Verdict] = {}
    if totals.get(None):
        vs = totals[None]
        totals_by_source = {v.key.source: v for v in vs}
        unit = ("outage", None, None)
        hit = [v for v in vs if judge.collapsed(v, "outage_drop", unit)]
        some_network_up = any(not is_out for is_out in asn_out.values())
        if not hit:
            out[unit] = NORMAL
        elif not some_network_up:
            country_out = True
            out[unit] = Observation(True, OUTAGE, hit)
        # else: the collapse is the collapse of the networks that are out; no country-wide verdict.
    if country_out:
        return out  # every platform signal is explained by the outage

    down_asns = {a for a, is_out in asn_out.items() if is_out}
    for platform in set(platform_traffic) | set(reach):
        _classify_platform(
            platform,
            platform_traffic.get(platform, []),
            reach.get(platform, {}),
            totals_by_source,
            down_asns,
            judge,
            out,
        )
    return out


def rest_ratio(platform: Verdict, total: Verdict | None) -> float:
    """Observed over expected for the country's traffic *without* this platform.

    A platform is judged against the rest of the traffic: a national dip lowers both, a block
    lowers only the platform. Leaving the platform out matters for large platforms, whose own drop
    would otherwise drag their reference down with them.
    """
    if total is None:
        return 1.0
    expected = total.expected - platform.expected
    if expected <= 0 or expected < 0.05 * total.expected:
        return total.ratio
    return max(0.0, (total.observed - platform.observed) / expected)


def _classify_platform(
    platform: str,
    traffic: list[Verdict],
    reach: dict[int | None, list[Verdict]],
    totals_by_source: dict[str, Verdict],
    down_asns: set[int],
    judge: Judge,
    out: dict[UnitKey, Observation],
) -> None:
    country_unit: UnitKey = ("platform", None, platform)
    block: list[Verdict] = []
    throttle: list[Verdict] = []
    traffic_normal = False
    for v in traffic:
        t = judge.limits(v.key, country_unit)
        reference = rest_ratio(v, totals_by_source.get(v.key.source))
        if reference <= 1 - t.outage_drop:
            continue  # the rest of the country is collapsing too: this says nothing of the platform
        excess = 1 - v.ratio / min(1.0, reference)
        if v.z > -t.min_sigmas or excess < t.throttle_drop:
            traffic_normal = True
        elif excess >= judge.thresholds[v.key].block_drop:
            block.append(v)
        else:
            throttle.append(v)

    def failing(v: Verdict) -> bool:
        unit: UnitKey = ("platform", v.key.asn, platform)
        return judge.collapsed(v, "reach_drop", unit, country_unit)

    country_reach = reach.get(None, [])
    country_reach_hit = [v for v in country_reach if failing(v)]
    per_asn = {a: vs for a, vs in reach.items() if a is not None and a not in down_asns}
    hit_asns = {a for a, vs in per_asn.items() if any(failing(v) for v in vs)}
    ok_asns = set(per_asn) - hit_asns
    reach_evidence = country_reach_hit + [
        v for a in sorted(hit_asns) for v in per_asn[a] if failing(v)
    ]

    # A moderate drop of the platform's traffic with probes failing on at least half the networks
    # is partial blocking (a share of connections or of ISPs), not throttling, which lets probes
    # through; one network's probes failing in one bin during a slowdown is noise.
    partial = bool(throttle) and len(hit_asns) * 2 >= len(per_asn) > 0
    if block or country_reach_hit or (hit_asns and not ok_asns) or partial:
        out[country_unit] = Observation(True, RESTRICTION, block + throttle + reach_evidence)
    elif hit_asns:
        for a in hit_asns:
            out[("platform", a, platform)] = Observation(
                True, RESTRICTION, [v for v in per_asn[a] if failing(v)]
            )
        for a in ok_asns:
            out[("platform", a, platform)] = NORMAL
    elif throttle:
        # Probes still get through: a slowdown, not a block. Rising latency corroborates it;
        # without that, a moderate drop of one series needs a longer run before it opens.
        probe_evidence = country_reach + [v for vs in per_asn.values() for v in vs]
        rise = judge.thresholds[throttle[0].key].latency_rise
        slower = [
            v for v in probe_evidence if v.latency_ratio is not None and v.latency_ratio >= rise
        ]
        corroborated = len(slower) * 2 > len(probe_evidence) > 0
        out[country_unit] = Observation(
            True, THROTTLING, throttle + probe_evidence, weak=not corroborated
        )
    elif traffic_normal or ok_asns or country_reach:
        out[country_unit] = NORMAL
        for a in ok_asns:
            out[("platform", a, platform)] = NORMAL
