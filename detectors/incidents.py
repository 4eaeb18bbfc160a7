"""From per-bin unit observations to incidents with an open / update / resolved lifecycle.

A unit (a network, or a platform in a scope) opens only after `open_after_bins` anomalous bins and
resolves only after `resolve_after_bins` normal ones; bins without evidence change nothing, so a
silent feed neither opens nor closes anything. Units whose onsets lie close together fold into one
incident, which is what users asked of IODA and OONI: one event per incident, not an alert per series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.correlate import KIND_RANK, Observation, UnitKey
from restrictwatch.detectors.events import SCHEMA_ID, EventMessage, iso, make_event_id, summarize
from restrictwatch.detectors.records import FAILURE_LAYERS, SeriesKey
from restrictwatch.detectors.series import Verdict
from restrictwatch.detectors.vocabulary import (
    ACTIVE,
    IDLE,
    OPEN,
    OUTAGE,
    PENDING,
    RECOVERING,
    RESOLVED,
    THROTTLING,
    UPDATE,
)


@dataclass(slots=True)
class UnitTracker:
    """Hysteresis for one unit."""

    key: UnitKey
    state: str = IDLE  # vocabulary.UnitState: idle -> pending -> active <-> recovering -> idle
    onset: float = 0.0
    streak: int = 0
    recovered_at: float = 0.0
    kind: str | None = None
    incident_id: str | None = None
    held: list[tuple[float, Observation]] = field(default_factory=list)
    upgrade_streak: int = 0  # consecutive bins of a graver kind than its incident's


@dataclass(slots=True)
class Evidence:
    """What one series contributed to an incident, summed over its anomalous bins."""

    key: SeriesKey
    expected: float = 0.0
    observed: float = 0.0
    score: float = 0.0
    bins: int = 0
    failures: list[int] = field(default_factory=lambda: [0] * len(FAILURE_LAYERS))
    latency_ratio_sum: float = 0.0
    latency_bins: int = 0
    reference: str | None = None

    def add(self, v: Verdict) -> None:
        if v.reference is not None:
            self.reference = v.reference
        self.expected += v.expected
        self.observed += v.observed
        self.score = min(self.score, v.z)
        self.bins += 1
        if v.failures is not None:
            for i, n in enumerate(v.failures):
                self.failures[i] += n
        if v.latency_ratio is not None:
            self.latency_ratio_sum += v.latency_ratio
            self.latency_bins += 1

    def as_dict(self) -> dict[str, Any]:
        k = self.key
        d: dict[str, Any] = {
            "signal": k.signal,
            "source": k.source,
            **({"region": k.region} if k.region is not None else {}),
            "asn": k.asn,
            "platform": k.platform,
            "expected": round(self.expected / self.bins, 4),
            "observed": round(self.observed / self.bins, 4),
            "score": round(self.score, 2),
            "bins": self.bins,
        }
        if self.reference is not None:
            d["reference"] = self.reference
        if k.signal == "reachability":
            d["failures"] = {
                layer: n for layer, n in zip(FAILURE_LAYERS, self.failures, strict=True) if n
            }
            d["latency_ratio"] = (
                round(self.latency_ratio_sum / self.latency_bins, 3) if self.latency_bins else None
            )
        return d


@dataclass(slots=True)
class Incident:
    event_id: str
    country: str
    kind: str
    started_at: float
    detected_at: float
    family: str = "platform"  # of its units: "outage" (networks) or "platform"
    units: dict[UnitKey, UnitTracker] = field(default_factory=dict)
    ended_at: float | None = None
    seq: int = -1
    severity_sum: float = 0.0
    severity_bins: int = 0
    peak_severity: float = 0.0
    evidence: dict[SeriesKey, Evidence] = field(default_factory=dict)
    emitted_scope: tuple[str, tuple[int, ...], tuple[str, ...], tuple[str, ...]] | None = None
    silent: list[dict[str, Any]] | None = None  # series that went quiet as an outage began

    @property
    def platforms(self) -> list[str]:
        return sorted({u[2] for u in self.units if u[2] is not None})

    @property
    def asns(self) -> list[int]:
        """Empty means every network (of the country, or of its regions)."""
        asns = [u[1] for u in self.units]
        if any(a is None for a in asns):
            return []
        return sorted({a for a in asns if a is not None})

    @property
    def regions(self) -> list[str]:
        """Empty means the whole country: a country-level unit makes any incident country-wide."""
        regions = [u[3] for u in self.units]
        if any(r is None for r in regions):
            return []
        return sorted({r for r in regions if r is not None})

    def in_scope(self, key: SeriesKey) -> bool:
        asns, regions = self.asns, self.regions
        return (not asns or key.asn in asns) and (not regions or key.region in regions)

    @property
    def live(self) -> bool:
        return any(t.state in (ACTIVE, RECOVERING, PENDING) for t in self.units.values())

    def scope(self) -> tuple[str, tuple[int, ...], tuple[str, ...], tuple[str, ...]]:
        return self.kind, tuple(self.asns), tuple(self.platforms), tuple(self.regions)

    def absorb(self, obs: Observation) -> None:
        for v in obs.evidence:
            ev = self.evidence.get(v.key)
            if ev is None:
                ev = self.evidence[v.key] = Evidence(v.key)
            ev.add(v)

    def record_severity(self, verdicts: list[Verdict]) -> None:
        severity = bin_severity(verdicts)
        if severity is None:
            return
        self.severity_sum += severity
        self.severity_bins += 1
        self.peak_severity = max(self.peak_severity, severity)

    def confidence(self, min_sigmas: float) -> float:
        """1 - prod(1 - c) over the independent signals, each c rising with its most extreme score."""
        worst: dict[str, float] = {}
        for ev in self.evidence.values():
            if ev.score <= -min_sigmas:
                worst[ev.key.signal] = min(worst.get(ev.key.signal, 0.0), ev.score)
        miss = 1.0
        for score in worst.values():
            miss *= math.exp(score / 4.0)
        return round(min(0.99, 1 - miss), 3)

    def method(self) -> str | None:
        """The layer most failed probes failed at; None for throttling, where probes pass."""
        if self.kind == THROTTLING:
            return None
        totals = [0] * len(FAILURE_LAYERS)
        for ev in self.evidence.values():
            for i, n in enumerate(ev.failures):
                totals[i] += n
        if not any(totals):
            return None
        return FAILURE_LAYERS[max(range(len(totals)), key=totals.__getitem__)]


def bin_severity(verdicts: list[Verdict]) -> float | None:
    """Share of expected traffic (or, without traffic, of probe success) lost in one bin."""
    if not verdicts:
        return None
    # The widest total first: the country's, then a region's.
    for v in sorted(verdicts, key=lambda v: v.key.region is not None):
        if v.key.signal == "traffic" and v.key.platform is None and v.key.asn is None:
            return v.drop
    traffic = [v for v in verdicts if v.key.signal == "traffic"]
    if traffic:
        expected = sum(v.expected for v in traffic)
        if expected > 0:
            return min(1.0, max(0.0, sum(v.expected - v.observed for v in traffic) / expected))
    return sum(v.drop for v in verdicts) / len(verdicts)


def silent_series(incident: Incident, last_bin: Mapping[SeriesKey, float]) -> list[dict[str, Any]]:
    """Series of the outage's scope that stopped reporting as it began, said as such.

    No data is never a drop; but probes inside a network that goes dark usually cannot report, so
    the silence is worth saying, and whether it is confined to the affected networks (likely part
    of the outage) or spans the whole feed in the country (more likely a feed fault).
    """
    scoped = bool(incident.asns or incident.regions)
    start = incident.started_at
    quiet = {key: last < start for key, last in last_bin.items()}
    notes = []
    for key, last in sorted(last_bin.items(), key=lambda kv: str(kv[0])):
        if last >= start or not incident.in_scope(key) or key in incident.evidence:
            continue
        if start - last > 6 * 3600:
            continue  # long gone before the incident: unrelated
        elsewhere = [
            k for k in last_bin if k.source == key.source and scoped and not incident.in_scope(k)
        ]
        if elsewhere and all(quiet[k] for k in elsewhere):
            note = "silent since the outage began, but so is this feed outside the affected networks: likely a feed fault"
        elif elsewhere:
            note = "silent since the outage began, only inside the affected networks: likely part of the outage"
        else:
            note = (
                "silent since the outage began: probes inside a network that is down cannot report"
            )
        notes.append(
            {
                "signal": key.signal,
                "source": key.source,
                **({"region": key.region} if key.region is not None else {}),
                "asn": key.asn,
                "platform": key.platform,
                "expected": None,
                "observed": None,
                "score": 0.0,
                "bins": 0,
                "note": note,
            }
        )
    return notes


class IncidentBook:
    """Every unit tracker and open incident of one country."""

    def __init__(self, country: str) -> None:
        self.country = country
        self.trackers: dict[UnitKey, UnitTracker] = {}
        self.incidents: dict[str, Incident] = {}

    def open_units(self) -> set[UnitKey]:
        """Units inside an open incident and still anomalous or recovering."""
        return {k for k, t in self.trackers.items() if t.state in (ACTIVE, RECOVERING)}

    def step(
        self,
        bin_start: float,
        observations: dict[UnitKey, Observation],
        config: Config,
        last_bin: Mapping[SeriesKey, float] | None = None,
    ) -> list[EventMessage]:
        """Advance one evaluated bin; return the event messages it produces."""
        life = config.lifecycle
        bin_end = bin_start + config.bin_seconds
        confirmed: list[UnitTracker] = []
        changed: set[str] = set()
        for key, obs in observations.items():
            tracker = self.trackers.get(key)
            if tracker is None:
                if not obs.anomalous:
                    continue
                tracker = self.trackers[key] = UnitTracker(key)
            needed = life.weak_open_after_bins if obs.weak else life.open_after_bins
            if self._advance(tracker, bin_start, obs, needed):
                confirmed.append(tracker)
            elif tracker.state == IDLE and tracker.incident_id is None:
                del self.trackers[key]  # a blip that never opened: forget it
            elif tracker.incident_id is not None and obs.anomalous:
                incident = self.incidents[tracker.incident_id]
                incident.absorb(obs)
                # A graver kind (throttling found to be an outage) must hold as long as an
                # incident needs to open: one noisy bin does not change what the event says.
                if KIND_RANK.get(obs.kind or "", -1) > KIND_RANK[incident.kind]:
                    tracker.upgrade_streak += 1
                    if tracker.upgrade_streak >= life.open_after_bins:
                        incident.kind = obs.kind or incident.kind
                else:
                    tracker.upgrade_streak = 0
        for tracker in sorted(confirmed, key=lambda t: (t.onset, str(t.key))):
            incident = self._assign(tracker, bin_end, config)
            for _, held in tracker.held:
                incident.absorb(held)
            changed.add(incident.event_id)
        for incident in self.incidents.values():
            verdicts = [
                v
                for k, t in incident.units.items()
                if t.state == ACTIVE
                for v in observations.get(k, Observation(False)).evidence
            ]
            incident.record_severity(verdicts)
        # Recovery: normal streaks long enough end their units; an incident ends with its last unit.
        for key, tracker in list(self.trackers.items()):
            obs_ = observations.get(key)
            if obs_ is None or obs_.anomalous:
                continue
            if tracker.state == RECOVERING and tracker.streak >= life.resolve_after_bins:
                tracker.state = IDLE
                if tracker.incident_id is None:
                    del self.trackers[key]
        messages: list[EventMessage] = []
        for incident in list(self.incidents.values()):
            if not incident.live:
                incident.ended_at = max(t.recovered_at for t in incident.units.values())
                messages.append(self._message(incident, RESOLVED, bin_end, config))
                del self.incidents[incident.event_id]
                for k, t in list(self.trackers.items()):
                    if t.incident_id == incident.event_id and t.state == IDLE:
                        del self.trackers[k]
            elif incident.emitted_scope is None:
                if incident.kind == OUTAGE and last_bin is not None:
                    incident.silent = silent_series(incident, last_bin)
                messages.append(self._message(incident, OPEN, bin_end, config))
            elif incident.scope() != incident.emitted_scope:
                messages.append(self._message(incident, UPDATE, bin_end, config))
        return messages

    @staticmethod
    def _advance(t: UnitTracker, bin_start: float, obs: Observation, open_after: int) -> bool:
        """Move one tracker; True when it just became active and needs an incident."""
        if obs.anomalous:
            if obs.kind is not None and KIND_RANK.get(obs.kind, -1) > KIND_RANK.get(
                t.kind or "", -1
            ):
                t.kind = obs.kind
            if t.state == IDLE:
                # Dated from where its evidence left the normal band: a ramp or a shallow
                # first hours count, as the end counts the tail back into the band.
                onset = min(
                    [bin_start, *(v.below_since for v in obs.evidence if v.below_since is not None)]
                )
                t.state, t.onset, t.streak, t.held = PENDING, onset, 0, []
            if t.state == PENDING:
                t.streak += 1
                t.held.append((bin_start, obs))
                if t.streak >= open_after:
                    t.state, t.streak = ACTIVE, 0
                    return True
                return False
            t.state, t.streak = ACTIVE, 0
            return False
        if t.state == PENDING:
            t.state, t.streak, t.held, t.kind = IDLE, 0, [], None
        elif t.state == ACTIVE:
            t.state, t.recovered_at, t.streak = RECOVERING, bin_start, 1
        elif t.state == RECOVERING:
            t.streak += 1
        return False

    def _assign(self, tracker: UnitTracker, bin_end: float, config: Config) -> Incident:
        """Join the incident this unit belongs to, or open a new one."""
        family, _, platform, region = tracker.key
        kind = tracker.kind or OUTAGE
        life = config.lifecycle
        best: Incident | None = None
        for incident in self.incidents.values():
            if incident.family != family:
                continue
            if tracker.key in incident.units or (
                platform is not None and platform in incident.platforms
            ):
                best = incident
                break
            if family == "platform" and incident.kind != kind:
                continue
            gap = abs(tracker.onset - incident.started_at)
            groups = config.groups_of(platform) if platform else set()
            shares_group = any(groups & config.groups_of(p) for p in incident.platforms)
            # Networks of one country cut while another is still dark are one shutdown, even
            # when operators comply hours apart (staggered cuts show as late onsets at coarse bins).
            shares_group = shares_group or (family != "platform" and incident.live)
            if gap <= life.join_window_seconds or (
                shares_group and gap <= life.group_join_window_seconds
            ):
                best = incident
                break
        if best is None:
            seed = f"{family}|{tracker.key[1]}|{platform}" + (f"|{region}" if region else "")
            best = Incident(
                event_id=make_event_id(self.country, tracker.onset, seed),
                country=self.country,
                kind=kind,
                started_at=tracker.onset,
                detected_at=bin_end,
                family=family,
            )
            self.incidents[best.event_id] = best
        # A unit of a graver kind joining an open incident upgrades it only as any unit does:
        # after a run of such bins (see `step`), not on joining.
        best.started_at = min(best.started_at, tracker.onset)
        best.units[tracker.key] = tracker
        tracker.incident_id = best.event_id
        return best

    def _message(
        self, incident: Incident, status: str, emitted_at: float, config: Config
    ) -> EventMessage:
        incident.seq += 1
        incident.emitted_scope = incident.scope()
        severity = incident.severity_sum / incident.severity_bins if incident.severity_bins else 0.0
        platforms = incident.platforms if incident.kind != OUTAGE else []
        evidence = sorted(
            [*(ev.as_dict() for ev in incident.evidence.values()), *(incident.silent or [])],
            key=lambda d: (
                d["signal"],
                d.get("region", ""),
                d["platform"] or "",
                d["asn"] or 0,
                d["source"],
                d["bins"],
            ),
        )
        return {
            "schema": SCHEMA_ID,
            "event_id": incident.event_id,
            "seq": incident.seq,
            "status": status,
            "kind": incident.kind,
            "country": incident.country,
            "regions": incident.regions,
            "asns": incident.asns,
            "platforms": platforms,
            "started_at": iso(incident.started_at),
            "detected_at": iso(incident.detected_at),
            "ended_at": iso(incident.ended_at) if incident.ended_at is not None else None,
            "emitted_at": iso(emitted_at),
            "severity": round(severity, 3),
            "peak_severity": round(incident.peak_severity, 3),
            "confidence": incident.confidence(config.thresholds.min_sigmas),
            "method": incident.method(),
            "evidence": evidence,
            "summary": summarize(
                incident.kind,
                incident.country,
                incident.asns,
                [config.platform_name(p) for p in config.platform_order(platforms)],
                incident.started_at,
                incident.ended_at,
                incident.regions,
            ),
            "config_version": config.fingerprint,
        }
