"""Classify one bin of one country: which networks are out, which platforms restricted or throttled.

Series are not judged alone. A platform's drop is measured against the drop of the traffic it
belongs to (a holiday lowers everything, a block lowers one platform), probes on a network that is
out say nothing about platforms, and a country total is country-wide only when no network in it
is still up (a mobile shutdown is an outage of the mobile ASNs, however large their share).

Regions are areas of their own: each region's series are judged together as a country's are, and
the country's series apart. A country total that falls with one region while another region is
up is that region's outage, not a second, national one; a country unit and region units anomalous
together join one incident (see `detectors.incidents`), which is then country-wide.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from restrictwatch.detectors.config import Thresholds
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.series import Verdict, below_band
from restrictwatch.detectors.vocabulary import OUTAGE, RESTRICTION, THROTTLING

# A network's probes failing less than this many times reach_drop below expectation, with nothing
# else to say so, open only after lifecycle.weak_open_after_bins.
SHALLOW_REACH = 2.0
# Country-wide probes failing fewer times than this in a bin (by their failure breakdown), and
# shallowly, are a small sample's luck until the run is long: see `_classify_platform`.
FEW_FAILED_PROBES = 10
KIND_RANK = {THROTTLING: 0, RESTRICTION: 1, OUTAGE: 2}

AreaUnit = tuple[str, int | None, str | None]
"""A unit inside one area (the country, or one region): (family, asn, platform), that is
("outage", asn or None, None) or ("platform", asn or None, platform)."""
UnitKey = tuple[str, int | None, str | None, str | None]
"""(family, asn, platform, region): an `AreaUnit` and its region, None for the whole country."""


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
        active: Collection[AreaUnit] = (),
        hold: float = 1.0,
    ) -> None:
        self.thresholds = thresholds
        self.active = active
        self.hold = hold
        self.loosest = min(hold, 1.0)  # the share of min_sigmas the most relaxed limit asks

    def limits(self, key: SeriesKey, unit: AreaUnit | None = None, *more: AreaUnit) -> Thresholds:
        t = self.thresholds[key]
        if (
            self.hold == 1.0
            or not self.active
            or not any(u in self.active for u in (unit, *more) if u is not None)
        ):
            return t
        return _relaxed(t, self.hold)

    def surely_normal(self, v: Verdict) -> bool:
        """Above the lowest sigma limit any unit may be held to: neither collapsed nor down,
        whatever the unit, so its limits need not be looked up (most verdicts of a bin)."""
        return v.z > -self.thresholds[v.key].min_sigmas * self.loosest

    def collapsed(self, v: Verdict, drop_name: str, *units: AreaUnit) -> bool:
        if self.surely_normal(v):
            return False
        t = self.limits(v.key, *units)
        drop: float = getattr(t, drop_name)
        return v.drop >= drop and v.z <= -t.min_sigmas

    def down(self, v: Verdict, unit: AreaUnit) -> bool:
        """A network's signal collapsed; once its unit is open, until back in its normal band.

        A partial recovery (traffic still 45 % below) is not the end of an outage: users date the
        end from where the signal returns to normal, as they date the start from where it left it.
        """
        if self.surely_normal(v):
            return False
        t = self.thresholds[v.key]
        if unit in self.active:
            return below_band(v, t, self.hold)
        return v.drop >= t.outage_drop and v.z <= -t.min_sigmas


# Keyed by identity for speed; each entry holds its original, so that while cached no other
# Thresholds (one of a reloaded config) can take its address and be served this relaxed copy.
_RELAXED: dict[tuple[int, float], tuple[Thresholds, Thresholds]] = {}


def _relaxed(t: Thresholds, hold: float) -> Thresholds:
    entry = _RELAXED.get((id(t), hold))
    if entry is not None and entry[0] is t:
        return entry[1]
    # Only the edges between anomalous and normal are relaxed, never the one between kinds.
    fields = ("min_sigmas", "outage_drop", "throttle_drop")
    relaxed = t.model_copy(update={f: getattr(t, f) * hold for f in fields})
    if len(_RELAXED) > 4096:
        _RELAXED.clear()
    _RELAXED[(id(t), hold)] = (t, relaxed)
    return relaxed


def classify_bin(
    verdicts: list[Verdict],
    thresholds: Mapping[SeriesKey, Thresholds],
    active: Collection[UnitKey] = (),
    hold: float = 1.0,
) -> dict[UnitKey, Observation]:
    """Observations of every unit that has evidence in this bin; units absent here are unknown.

    `active` are the units currently open; they stay anomalous down to `hold` times the thresholds,
    and an open network unit until its traffic is back in its normal band (`recovered_drop`).
    """
    by_region: dict[str | None, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_region[v.key.region].append(v)
    areas: dict[str | None, dict[AreaUnit, Observation]] = {}
    judges: dict[str | None, Judge] = {}
    for region, vs in by_region.items():
        area_active = {u[:3] for u in active if u[3] == region}
        judges[region] = Judge(thresholds, area_active, hold)
        areas[region] = _classify_area(vs, judges[region])
    if len(by_region) > 1:
        _regions_partly_out(by_region, areas, judges)
    country = areas.get(None)
    if country is not None and len(areas) > 1:
        _leave_to_regions(country, [obs for r, obs in areas.items() if r is not None])
    return {(*unit, region): obs for region, units in areas.items() for unit, obs in units.items()}


def _regions_partly_out(
    by_region: Mapping[str | None, list[Verdict]],
    areas: dict[str | None, dict[AreaUnit, Observation]],
    judges: Mapping[str | None, Judge],
) -> None:
    """A region whose total falls `throttle_drop` while another region's stays up is partly out.

    Country-wide, such a dip without slower probes raises nothing (a holiday lowers a whole
    country). A region falling alone is scoped by its neighbours: a storm or a power cut taking a
    third of a state dark (Hurricane Laura, Louisiana) is that region's outage. One signal, so it
    opens as a weak observation does.
    """
    unit: AreaUnit = ("outage", None, None)
    slowed: dict[str, list[Verdict]] = {}
    up: set[str] = set()
    for region, vs in by_region.items():
        if region is None:
            continue
        judge = judges[region]
        totals = [
            v
            for v in vs
            if v.ready
            and v.key.signal == "traffic"
            and v.key.platform is None
            and v.key.asn is None
        ]
        down = [v for v in totals if judge.collapsed(v, "throttle_drop", unit)]
        if down:
            slowed[region] = down
        elif totals:
            up.add(region)
    for region, down in slowed.items():
        if not up - {region}:
            continue
        obs = areas[region].get(unit)
        if obs is None or not obs.anomalous:
            areas[region][unit] = Observation(True, OUTAGE, down, weak=True)


def _leave_to_regions(
    country: dict[AreaUnit, Observation], regions: list[dict[AreaUnit, Observation]]
) -> None:
    """Drop the country's verdict on a unit that some regions have anomalous and others normal.

    The country total falls with a region that is out; with another region up, that is the
    region's outage, not the country's (a regional shutdown hides inside a country total that
    moves a few percent, and a large region moves it more). With every region that reports
    anomalous, the country's verdict stands, and its incident is country-wide.
    """

    def split(unit: AreaUnit) -> bool:
        states = [area[unit].anomalous for area in regions if unit in area]
        return any(states) and not all(states)

    networks_split = split(("outage", None, None))
    for unit, obs in list(country.items()):
        if not obs.anomalous:
            continue
        # Regions report no networks of their own: a network falling (or its probes failing)
        # country-wide while the regions split is doing so in the regions that are out.
        if split(unit) or (unit[1] is not None and networks_split):
            del country[unit]


def _classify_area(verdicts: list[Verdict], judge: Judge) -> dict[AreaUnit, Observation]:
    """`classify_bin` for the series of one area: the country's, or one region's."""
    thresholds = judge.thresholds
    active = judge.active
    totals: dict[int | None, list[Verdict]] = defaultdict(list)
    platform_traffic: dict[str, list[Verdict]] = defaultdict(list)
    reach: dict[str, dict[int | None, list[Verdict]]] = defaultdict(lambda: defaultdict(list))
    reach_by_asn: dict[int | None, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        k = v.key
        if not v.ready:
            # A series still warming up can tell a network's collapse from normal, nothing finer.
            if v.provisional and k.signal == "traffic" and k.platform is None:
                totals[k.asn].append(v)
            continue
        if k.signal == "traffic":
            if k.platform is None:
                totals[k.asn].append(v)
            elif k.asn is None:
                platform_traffic[k.platform].append(v)
        else:
            assert k.platform is not None
            reach[k.platform][k.asn].append(v)
            reach_by_asn[k.asn].append(v)
    every_probe = [v for vs in reach_by_asn.values() for v in vs]

    out: dict[AreaUnit, Observation] = {}
    asn_out: dict[int, bool] = {}
    # Networks whose traffic is down at least throttle_drop, whatever their own verdict: without
    # probes of their own (probes reported per country) they cannot be found throttled, and a
    # network that is merely unproven is not one whose traffic is normal.
    asn_slowed: set[int] = set()
    for asn, vs in totals.items():
        if asn is None:
            continue
        unit: AreaUnit = ("outage", asn, None)
        obs = _network(judge, unit, vs, reach_by_asn.get(asn, []))
        asn_out[asn] = obs.anomalous  # out, throttled or recovering: not a network that is up
        if any(judge.collapsed(v, "throttle_drop", unit) for v in vs):
            asn_slowed.add(asn)
        out[unit] = obs
    for asn, vs in reach_by_asn.items():
        # Probes failing for nearly every platform on a network we have no traffic for: it is out.
        if asn is None or asn in asn_out:
            continue
        unit = ("outage", asn, None)
        platforms = {v.key.platform for v in vs}
        failing = [v for v in vs if judge.down(v, unit)]
        if len(platforms) < 3:
            continue
        share = thresholds[vs[0].key].outage_platform_share
        is_out = len({v.key.platform for v in failing}) >= share * len(platforms)
        asn_out[asn] = is_out
        out[unit] = Observation(True, OUTAGE, failing) if is_out else NORMAL

    country_out = False
    totals_by_source: dict[str, Verdict] = {}
    country_unit: AreaUnit = ("outage", None, None)
    some_network_up = any(not is_out for is_out in asn_out.values())
    if totals.get(None):
        vs = totals[None]
        totals_by_source = {v.key.source: v for v in vs}
        obs = _network(judge, country_unit, vs, every_probe)
        # Networks whose traffic is normal make a slowdown theirs, not the country's; for an
        # outage any network still up (by traffic or probes) does.
        traffic_up = any(not asn_out[a] and a not in asn_slowed for a in totals if a is not None)
        if obs.anomalous and (traffic_up if obs.kind == THROTTLING else some_network_up):
            pass  # the networks that are out (or slowed) explain the drop: no country verdict
        else:
            out[country_unit] = obs
            country_out = obs.anomalous and obs.kind == OUTAGE
    else:
        # No total to judge yet (a series warming up cannot): with every network we have out, the
        # country is dark, not each of its networks one by one; with any of them up, it is not.
        networks = [out[("outage", a, None)] for a in asn_out]
        if len(networks) >= 2 and all(o.anomalous and o.kind == OUTAGE for o in networks):
            out[country_unit] = Observation(True, OUTAGE, [v for o in networks for v in o.evidence])
            country_out = True
        elif len(networks) >= 2:
            out[country_unit] = NORMAL
    if not country_out:
        country_out = _platforms_collapsed(platform_traffic, totals_by_source, judge, out)
    if country_out:
        return out  # every platform signal is explained by the outage

    down_asns = {a for a, is_out in asn_out.items() if is_out}
    slow = _slow_platforms(platform_traffic, totals_by_source, judge)
    # The area's total falling a quarter or more: a power cut ramping in, an outage not yet past
    # outage_drop, a shutdown of part of it. Probes fail then for whatever platform they try.
    falling = [v for v in totals.get(None, []) if judge.collapsed(v, "throttle_drop", country_unit)]
    if _network_wide_probe_failure(reach, judge):
        # Country-wide probes failing for (nearly) every platform at once: a network is out, not
        # every platform blocked. With networks seen falling dark, it is their outage's evidence;
        # with the area's total falling, that outage beginning.
        outage_seen = bool(down_asns) or any(u[0] == "outage" for u in active)
        if outage_seen or falling or not (totals or platform_traffic):
            reach = {
                p: {a: vs for a, vs in by_asn.items() if a is not None}
                for p, by_asn in reach.items()
            }
            if not outage_seen:
                failing = [v for v in every_probe if v.key.asn is None]
                out[country_unit] = Observation(True, OUTAGE, failing + falling)
                return out
    sums = _platform_sums(platform_traffic)
    for platform in set(platform_traffic) | set(reach):
        own = platform_traffic.get(platform, [])
        _classify_platform(
            platform,
            own,
            reach.get(platform, {}),
            totals_by_source,
            _others_by_source(own, sums),
            down_asns,
            judge,
            out,
            slow,
            bool(falling),
        )
    return out


def _network(
    judge: Judge, unit: AreaUnit, totals: list[Verdict], probes: list[Verdict]
) -> Observation:
    """A network's (or the country's) total traffic: out, throttled, still recovering, or normal.

    Throttling of a whole network is a moderate drop of its traffic that its probes' latency
    corroborates while they still get through; without that rise, such a dip (a holiday, a partial
    outage we cannot scope) raises nothing.
    """
    # Never relaxed: a throttling held open must not turn into an outage on one noisy bin.
    hit = [v for v in totals if judge.collapsed(v, "outage_drop")]
    if hit:
        return Observation(True, OUTAGE, hit)
    held = [v for v in totals if judge.down(v, unit)]
    if held:  # open, and not yet back in its normal band
        return Observation(True, THROTTLING, held)
    slowed = [v for v in totals if judge.collapsed(v, "throttle_drop", unit) and not v.provisional]
    if slowed:
        t = judge.thresholds[slowed[0].key]
        timed = [v for v in probes if v.latency_ratio is not None]
        slower = [
            v
            for v in timed
            if max(v.latency_ratio or 0.0, v.slow_latency_ratio or 0.0) >= t.latency_rise
        ]
        failing = [v for v in probes if judge.collapsed(v, "reach_drop", unit)]
        if len(slower) * 2 > len(timed) > 0 and len(failing) * 2 < len(probes):
            return Observation(True, THROTTLING, slowed + slower)
    return NORMAL


# Platforms below their slow references corroborate each other when their levels left them
# within this long of each other (one campaign); a second platform's unrelated shift does not.
SLOW_ONSET_WINDOW = 86400.0
SLOW_REFERENCE_MAX = 1.25


def _slow_platforms(
    platform_traffic: Mapping[str, list[Verdict]],
    totals_by_source: Mapping[str, Verdict],
    judge: Judge,
) -> dict[str, list[Verdict]]:
    """Platforms whose traffic lies `slow_drop` below its slow reference, relative to the rest.

    The slow reference has weeks of memory (`detectors.timing.SlowReference`): a campaign that
    deepens step by step stays below it after the fast level has followed each step.
    """
    out: dict[str, list[Verdict]] = {}
    ratios: dict[str, dict[str, float]] = defaultdict(dict)  # source -> platform -> slow ratio
    for platform, vs in platform_traffic.items():
        for v in vs:
            if v.slow_ratio is not None:
                ratios[v.key.source][platform] = v.slow_ratio
    for platform, vs in platform_traffic.items():
        unit: AreaUnit = ("platform", None, platform)
        hit = []
        for v in vs:
            ratio = v.slow_ratio
            if ratio is None or v.slow_sigma is None:
                continue
            t = judge.thresholds[v.key]
            scale = judge.hold if unit in judge.active else 1.0
            # The median of the rest of the country and of every other platform: a national dip
            # lowers them all, one other platform's lasting shift (a cache) moves none of it.
            others = [r for p, r in ratios[v.key.source].items() if p != platform]
            total = totals_by_source.get(v.key.source)
            if total is not None:
                others.append(_slow_rest_ratio(v, total))
            reference = statistics.median(others) if others else 1.0
            if reference <= 1 - t.outage_drop:
                continue
            # Above 1 too (up to SLOW_REFERENCE_MAX): a platform that stays put while the rest
            # grows for good has fallen behind; the median keeps one booming platform out of it.
            relative = ratio / min(SLOW_REFERENCE_MAX, reference)
            z = math.log(max(relative, 1e-9)) / v.slow_sigma
            if 1 - relative >= t.slow_drop * scale and z <= -t.min_sigmas * scale:
                hit.append(v)
        if hit:
            out[platform] = hit
    return out


def _slow_rest_ratio(platform: Verdict, total: Verdict | None) -> float:
    """`rest_ratio` against the slow references: the rest of the country over weeks."""
    if total is None or total.slow_expected is None or platform.slow_expected is None:
        return 1.0
    expected = total.slow_expected - platform.slow_expected
    if expected <= 0 or expected < 0.05 * total.slow_expected:
        return total.slow_ratio or 1.0
    return max(0.0, (total.observed - platform.observed) / expected)


def _slow_corroborated(
    platform: str,
    slow: Mapping[str, list[Verdict]],
    probes: list[Verdict],
    rise: float,
) -> bool:
    """A platform below its slow reference is a campaign, not a benign shift (a CDN change, a
    cache), when its probes are slower than weeks ago, or another platform left its reference
    within a day of it."""
    timed = [v for v in probes if v.slow_latency_ratio is not None]
    slower = [v for v in timed if v.slow_latency_ratio is not None and v.slow_latency_ratio >= rise]
    if len(slower) * 2 > len(timed) > 0:
        return True
    since = [v.slow_since for v in slow[platform] if v.slow_since is not None]
    for other, vs in slow.items():
        if other == platform:
            continue
        for v in vs:
            if v.slow_since is not None and any(
                abs(v.slow_since - s) <= SLOW_ONSET_WINDOW for s in since
            ):
                return True
    return False


def _network_wide_probe_failure(
    reach: Mapping[str, Mapping[int | None, list[Verdict]]], judge: Judge
) -> bool:
    """Country-wide probes (no ASN) fail for at least `outage_platform_share` of the platforms."""
    probed = {p: by_asn[None] for p, by_asn in reach.items() if by_asn.get(None)}
    if len(probed) < 3:
        return False
    failing = [
        p
        for p, vs in probed.items()
        if any(judge.collapsed(v, "reach_drop", ("platform", None, p)) for v in vs)
    ]
    share = judge.thresholds[next(iter(probed.values()))[0].key].outage_platform_share
    return len(failing) >= share * len(probed)


def _platform_sums(
    platform_traffic: Mapping[str, list[Verdict]],
) -> dict[str, tuple[float, float, int]]:
    """Per source: observed and expected of every platform, and how many there are."""
    sums: dict[str, tuple[float, float, int]] = {}
    for vs in platform_traffic.values():
        for v in vs:
            o, e, n = sums.get(v.key.source, (0.0, 0.0, 0))
            sums[v.key.source] = (o + v.observed, e + v.expected, n + 1)
    return sums


def _others_by_source(
    own: list[Verdict], sums: Mapping[str, tuple[float, float, int]]
) -> dict[str, tuple[float, float, int]]:
    """`_platform_sums` without one platform's own verdicts: every *other* platform's, in time
    linear in the platforms, not quadratic."""
    others = dict(sums)
    for v in own:
        o, e, n = others[v.key.source]
        others[v.key.source] = (o - v.observed, e - v.expected, n - 1)
    return others


def _platforms_collapsed(
    platform_traffic: Mapping[str, list[Verdict]],
    totals_by_source: Mapping[str, Verdict],
    judge: Judge,
    out: dict[AreaUnit, Observation],
) -> bool:
    """A feed of per-platform traffic without a total, all of whose platforms collapse: an outage."""
    by_source: dict[str, list[Verdict]] = defaultdict(list)
    for vs in platform_traffic.values():
        for v in vs:
            if v.key.source not in totals_by_source:
                by_source[v.key.source].append(v)
    unit: AreaUnit = ("outage", None, None)
    for vs in by_source.values():
        if len(vs) < 3:
            continue
        share = judge.thresholds[vs[0].key].outage_platform_share
        hit = [v for v in vs if judge.down(v, unit)]
        if len(hit) >= share * len(vs):
            out[unit] = Observation(True, OUTAGE, hit)
            return True
    return False


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


def reference_ratio(
    v: Verdict,
    totals_by_source: Mapping[str, Verdict],
    others_by_source: Mapping[str, tuple[float, float, int]],
) -> float:
    """Observed over expected of what a platform is judged against, said on the verdict.

    The rest of the country's traffic when its feed has a total; else the other platforms of its
    feed (a platform-only feed, as Google's Transparency Report publishes); else its own history.
    """
    total = totals_by_source.get(v.key.source)
    if total is not None:
        v.reference = "rest_of_country"
        return rest_ratio(v, total)
    observed, expected, n = others_by_source.get(v.key.source, (0.0, 0.0, 0))
    if n >= 2 and expected > 0:
        v.reference = "other_platforms"
        return observed / expected
    v.reference = "own_history"
    return 1.0


def _classify_platform(
    platform: str,
    traffic: list[Verdict],
    reach: Mapping[int | None, list[Verdict]],
    totals_by_source: Mapping[str, Verdict],
    others_by_source: Mapping[str, tuple[float, float, int]],
    down_asns: set[int],
    judge: Judge,
    out: dict[AreaUnit, Observation],
    slow: Mapping[str, list[Verdict]],
    network_falling: bool = False,
) -> None:
    country_unit: AreaUnit = ("platform", None, platform)
    block: list[Verdict] = []
    throttle: list[Verdict] = []
    traffic_normal = False
    for v in traffic:
        t = judge.limits(v.key, country_unit)
        reference = reference_ratio(v, totals_by_source, others_by_source)
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
        unit: AreaUnit = ("platform", v.key.asn, platform)
        return judge.collapsed(v, "reach_drop", unit, country_unit)

    country_reach = reach.get(None, [])
    country_reach_hit = [v for v in country_reach if failing(v)]
    if network_falling and not (block or throttle):
        # Country-wide probes failing while the area's traffic falls and this platform's falls no
        # more than the rest: the network going dark under them (a storm's power cut ramping in,
        # some of a nightly shutdown), not a second incident on this platform.
        country_reach_hit = []
    per_asn = {a: vs for a, vs in reach.items() if a is not None and a not in down_asns}
    failing_by_asn = {a: [v for v in vs if failing(v)] for a, vs in per_asn.items()}
    hit_asns = {a for a, hits in failing_by_asn.items() if hits}
    ok_asns = set(per_asn) - hit_asns
    reach_evidence = country_reach_hit + [v for a in sorted(hit_asns) for v in failing_by_asn[a]]

    probe_evidence = country_reach + [v for vs in per_asn.values() for v in vs]
    keyed = traffic or probe_evidence
    rise = judge.thresholds[keyed[0].key].latency_rise if keyed else 1.5
    timed = [v for v in probe_evidence if v.latency_ratio is not None]
    slower = [v for v in timed if v.latency_ratio is not None and v.latency_ratio >= rise]
    corroborated = len(slower) * 2 > len(timed) > 0
    if block and corroborated and not (country_reach_hit or hit_asns):
        # Traffic far below with probes getting through, only slower: a deep slowdown, not a
        # block, which makes probes fail.
        throttle, block = throttle + block, []

    # A moderate drop of the platform's traffic with probes failing on at least half the networks
    # is partial blocking (a share of connections or of ISPs), not throttling, which lets probes
    # through; one network's probes failing in one bin during a slowdown is noise.
    partial = bool(throttle) and len(hit_asns) * 2 >= len(per_asn) > 0
    if block or country_reach_hit or (hit_asns and not ok_asns) or partial:
        # Country-wide probes alone, a few of them more failing than usual, with the platform's
        # traffic not down: what a run of unlucky probes gives where they are few (a small
        # region). Thousands of probes a little worse than usual are a finding, not luck.
        shallow = not (block or throttle or hit_asns) and all(
            v.drop < SHALLOW_REACH * judge.limits(v.key, country_unit).reach_drop
            and sum(v.failures or ()) < FEW_FAILED_PROBES
            for v in country_reach_hit
        )
        out[country_unit] = Observation(
            True, RESTRICTION, block + throttle + reach_evidence, weak=shallow
        )
        return
    if hit_asns:
        for a in hit_asns:
            hits = failing_by_asn[a]
            # One network's probes alone, a few more failing than usual: what a run of unlucky
            # probes gives too. A block makes most of them fail; a shallow drop needs a longer run.
            shallow = all(
                v.drop < SHALLOW_REACH * judge.limits(v.key, ("platform", a, platform)).reach_drop
                for v in hits
            )
            out[("platform", a, platform)] = Observation(True, RESTRICTION, hits, weak=shallow)
        for a in ok_asns:
            out[("platform", a, platform)] = NORMAL
        return
    # Probes that time the platform as fast as ever contradict a slowdown of one platform: a step
    # down that they do not see is a benign shift (a CDN change, a local cache), unless it was
    # already open.
    contradicted = bool(timed) and not corroborated and country_unit not in judge.active
    if throttle and not contradicted:
        # Probes still get through: a slowdown, not a block. Rising latency corroborates it;
        # without that, a moderate drop of one series needs a longer run before it opens.
        out[country_unit] = Observation(
            True, THROTTLING, throttle + probe_evidence, weak=not corroborated
        )
    elif platform in slow and (
        country_unit in judge.active or _slow_corroborated(platform, slow, probe_evidence, rise)
    ):
        # Below where it was weeks ago, with the latency or other platforms to say so: a campaign
        # that the fast level has followed step by step.
        out[country_unit] = Observation(True, THROTTLING, slow[platform] + probe_evidence)
    elif traffic_normal or ok_asns or country_reach or throttle:
        out[country_unit] = NORMAL
    # Probes passing on a network say it is not blocked there, whatever the country unit is: a
    # network unit opened by a probe blip must not linger (and join a throttling as a block).
    for a in ok_asns:
        out[("platform", a, platform)] = NORMAL
