"""Score event messages against labeled incidents: recall, precision, delay, scope, fragmentation.

The rules (docs/evaluation.md says them for users):

* an event is judged on its final state: the message with the highest `seq` of its `event_id`;
  an event never resolved lasts until the end of the data (`horizon`);
* an event matches an incident when both are in the same country, their intervals overlap
  (event `[started_at, ended_at)`, incident `[start, end)`), their kinds are compatible and their
  scopes meet. Kinds are compatible when equal, or when both are platform kinds (throttling and
  platform_restriction): such a match counts for recall and precision but shows as a confusion in
  the kind matrix. Scopes meet when the ASN sets intersect, an empty set meaning every network,
  and, for platform kinds, the platform sets intersect;
* each event is assigned to at most one incident: among the incidents it matches, the one of the
  same kind first, then the longest overlap, then the nearest start. An event spanning several
  incidents (one that never closed between two curfews) detects only one of them;
* an event assigned to no incident is false, including one that overlaps a benign episode;
* per incident, the earliest assigned event gives the detection delay (`detected_at` minus the
  labeled start; negative when an event was already open) and the start error, the latest end
  gives the end error; the union of the assigned events' scopes gives the scope accuracy.

Pure: dictionaries in (event messages, truth rows), numbers out; results of several runs merge.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from restrictwatch.detectors.events import iso, latest_messages
from restrictwatch.detectors.records import parse_ts
from restrictwatch.detectors.vocabulary import KINDS, RESTRICTION, THROTTLING

PLATFORM_KINDS = frozenset({RESTRICTION, THROTTLING})
BENIGN = "benign"
ALL = "all"
MISSED = "missed"
FALSE = "false"


parse_time = parse_ts  # truth files and events carry RFC 3339 times


@dataclass(frozen=True, slots=True)
class Labeled:
    """One row of a truth file: an incident, or a benign episode that must raise nothing."""

    label: str
    kind: str
    country: str
    asns: frozenset[int]
    platforms: frozenset[str]
    start: float
    end: float
    regions: frozenset[str] = frozenset()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Labeled:
        return cls(
            str(row.get("label", "")),
            row["kind"],
            row["country"],
            frozenset(row.get("asns") or ()),
            frozenset(row.get("platforms") or ()),
            parse_time(row["start"]),
            parse_time(row["end"]),
            frozenset(row.get("regions") or ()),
        )


@dataclass(frozen=True, slots=True)
class Detected:
    """The final state of one event."""

    event_id: str
    kind: str
    country: str
    asns: frozenset[int]
    platforms: frozenset[str]
    started_at: float
    detected_at: float
    ended_at: float | None
    regions: frozenset[str] = frozenset()

    @classmethod
    def from_message(cls, m: Mapping[str, Any]) -> Detected:
        return cls(
            m["event_id"],
            m["kind"],
            m["country"],
            frozenset(m.get("asns") or ()),
            frozenset(m.get("platforms") or ()),
            parse_time(m["started_at"]),
            parse_time(m["detected_at"]),
            parse_time(m["ended_at"]) if m.get("ended_at") else None,
            frozenset(m.get("regions") or ()),
        )

    def end(self, horizon: float) -> float:
        return self.ended_at if self.ended_at is not None else max(horizon, self.started_at)


def final_events(messages: Iterable[Mapping[str, Any]]) -> list[Detected]:
    """The last state of every event: its message with the highest seq (re-emissions are equal)."""
    return [Detected.from_message(m) for m in latest_messages(messages).values()]


def kind_match(event_kind: str, truth_kind: str) -> str | None:
    """'exact', 'confused' (throttling vs restriction: found, wrong kind) or None."""
    if event_kind == truth_kind:
        return "exact"
    if event_kind in PLATFORM_KINDS and truth_kind in PLATFORM_KINDS:
        return "confused"
    return None


def scopes_meet(a: frozenset[Any], b: frozenset[Any]) -> bool:
    """Scopes (ASNs, regions, platforms) intersect; an empty set is all of them: every network,
    the whole country, all traffic (throttling of whole networks)."""
    return not a or not b or bool(a & b)


def scope_meets(e: Detected, t: Labeled) -> bool:
    if not scopes_meet(e.asns, t.asns) or not scopes_meet(e.regions, t.regions):
        return False
    return t.kind not in PLATFORM_KINDS or scopes_meet(e.platforms, t.platforms)


def overlap(e: Detected, t: Labeled, horizon: float) -> float:
    """Seconds the event and the incident share (0 when they do not overlap)."""
    return max(0.0, min(e.end(horizon), t.end) - max(e.started_at, t.start))


def same_country(e: Detected, t: Labeled) -> bool:
    """A truth row for country `*` (a feed fault that hits every country) concerns them all."""
    return t.country in (e.country, "*")


def matches(e: Detected, t: Labeled, horizon: float) -> bool:
    return (
        same_country(e, t)
        and kind_match(e.kind, t.kind) is not None
        and overlap(e, t, horizon) > 0
        and scope_meets(e, t)
    )


def jaccard(a: frozenset[Any], b: frozenset[Any]) -> float:
    """Intersection over union; two empty sets agree (for ASNs: both country-wide)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]): always one of the values, None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(slots=True)
class Tally:
    """Raw counts and samples for one kind (or all kinds); summaries are computed from these."""

    incidents: int = 0
    detected: int = 0
    exact_kind: int = 0
    events: int = 0
    true_events: int = 0
    benign_events: int = 0  # false events that overlap a benign episode
    delays: list[float] = field(default_factory=list)
    start_errors: list[float] = field(default_factory=list)
    end_errors: list[float] = field(default_factory=list)
    asn_jaccard: list[float] = field(default_factory=list)
    region_jaccard: list[float] = field(default_factory=list)
    platform_jaccard: list[float] = field(default_factory=list)
    fragments: list[int] = field(default_factory=list)

    @property
    def false_events(self) -> int:
        return self.events - self.true_events

    def merge(self, other: Tally) -> None:
        for name in ("incidents", "detected", "exact_kind", "events", "true_events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.benign_events += other.benign_events
        for name in (
            "delays",
            "start_errors",
            "end_errors",
            "asn_jaccard",
            "region_jaccard",
            "platform_jaccard",
            "fragments",
        ):
            getattr(self, name).extend(getattr(other, name))

    def summary(self, country_days: float | None, bin_seconds: int) -> dict[str, float | None]:
        recall = _ratio(self.detected, self.incidents)
        precision = _ratio(self.true_events, self.events)
        if recall is not None and precision is not None:
            f1: float | None = (
                2 * recall * precision / (recall + precision) if recall + precision else 0.0
            )
        elif recall is not None:
            f1 = 0.0 if self.incidents else None  # incidents, no events at all: nothing found
        else:
            f1 = None  # no incident of this kind: precision and false events tell the story
        delay_med, delay_p95 = percentile(self.delays, 0.5), percentile(self.delays, 0.95)
        weeks = country_days / 7 if country_days else None
        return {
            "incidents": self.incidents,
            "detected": self.detected,
            "events": self.events,
            "false_events": self.false_events,
            "false_in_benign": self.benign_events,
            "recall": recall,
            "precision": precision,
            "f1": f1,
            "false_per_country_week": self.false_events / weeks if weeks else None,
            "delay_median_s": delay_med,
            "delay_p95_s": delay_p95,
            "delay_median_bins": None if delay_med is None else delay_med / bin_seconds,
            "delay_p95_bins": None if delay_p95 is None else delay_p95 / bin_seconds,
            "start_error_median_s": percentile(self.start_errors, 0.5),
            "start_error_p95_s": percentile(self.start_errors, 0.95),
            "end_error_median_s": percentile(self.end_errors, 0.5),
            "end_error_p95_s": percentile(self.end_errors, 0.95),
            "asn_jaccard": _mean(self.asn_jaccard),
            "region_jaccard": _mean(self.region_jaccard),
            "platform_jaccard": _mean(self.platform_jaccard),
            "events_per_incident": _mean([float(n) for n in self.fragments]),
            "kind_accuracy": _ratio(self.exact_kind, self.detected),
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(slots=True)
class Quality:
    """The outcome of one evaluation, mergeable across runs (scenarios)."""

    bin_seconds: int = 300
    country_days: float | None = 0.0
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in (*KINDS, ALL)})
    confusion: dict[str, Counter[str]] = field(default_factory=dict)
    missed: list[dict[str, Any]] = field(default_factory=list)
    false: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: Quality) -> Quality:
        out = Quality(self.bin_seconds, None)
        if self.country_days is not None and other.country_days is not None:
            out.country_days = self.country_days + other.country_days
        for q in (self, other):
            for kind, tally in q.tallies.items():
                out.tallies.setdefault(kind, Tally()).merge(tally)
            for row, counts in q.confusion.items():
                out.confusion.setdefault(row, Counter()).update(counts)
            out.missed.extend(q.missed)
            out.false.extend(q.false)
        return out

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Metric values per kind (and 'all'); kinds without incidents or events are left out."""
        return {
            kind: t.summary(self.country_days, self.bin_seconds)
            for kind, t in self.tallies.items()
            if kind == ALL or t.incidents or t.events
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "bin_seconds": self.bin_seconds,
            "country_days": self.country_days,
            "kinds": self.summary(),
            "confusion": {row: dict(c) for row, c in sorted(self.confusion.items())},
            "missed": self.missed,
            "false_events": self.false,
        }


def best_incident(e: Detected, incidents: Sequence[Labeled], horizon: float) -> int | None:
    """The index of the incident an event is matched to: the right kind first, then the longest
    overlap, then the nearest start; None when it matches none."""
    candidates = [
        (
            kind_match(e.kind, t.kind) == "exact",
            overlap(e, t, horizon),
            -abs(e.started_at - t.start),
            -i,
        )
        for i, t in enumerate(incidents)
        if matches(e, t, horizon)
    ]
    return -max(candidates)[3] if candidates else None


def evaluate(
    messages: Iterable[Mapping[str, Any]],
    truth: Iterable[Mapping[str, Any]],
    *,
    bin_seconds: int = 300,
    country_days: float | None = None,
    horizon: float | None = None,
) -> Quality:
    """Score event messages against truth rows (schemas/event.v1, schemas/truth.v1).

    `horizon` is the end of the data, where events still open are taken to end; by default the
    latest time either file mentions. `country_days` (observed countries x days) turns false
    events into a rate per country-week; without it that rate is None.
    """
    messages = list(messages)
    events = final_events(messages)
    rows = [Labeled.from_row(r) for r in truth]
    incidents = [r for r in rows if r.kind != BENIGN]
    benign = [r for r in rows if r.kind == BENIGN]
    if horizon is None:
        times = [parse_time(m["emitted_at"]) for m in messages if m.get("emitted_at")]
        times += [r.end for r in rows]
        horizon = max(times, default=0.0)

    assigned: dict[int, list[Detected]] = {i: [] for i in range(len(incidents))}
    quality = Quality(bin_seconds, country_days)
    every = quality.tallies[ALL]
    for e in sorted(events, key=lambda e: (e.started_at, e.event_id)):
        tally = quality.tallies.setdefault(e.kind, Tally())
        tally.events += 1
        every.events += 1
        best = best_incident(e, incidents, horizon)
        if best is not None:
            assigned[best].append(e)
            tally.true_events += 1
            every.true_events += 1
            continue
        lookalike = next(
            (b for b in benign if same_country(e, b) and overlap(e, b, horizon) > 0),
            None,
        )
        if lookalike is not None:
            tally.benign_events += 1
            every.benign_events += 1
        quality.confusion.setdefault(FALSE, Counter())[e.kind] += 1
        quality.false.append(
            {
                "event_id": e.event_id,
                "kind": e.kind,
                "country": e.country,
                "regions": sorted(e.regions),
                "asns": sorted(e.asns),
                "platforms": sorted(e.platforms),
                "started_at": iso(e.started_at),
                "benign": lookalike.label if lookalike is not None else None,
            }
        )

    for i, t in enumerate(incidents):
        found = assigned[i]
        tally = quality.tallies.setdefault(t.kind, Tally())
        row = quality.confusion.setdefault(t.kind, Counter())
        for tl in (tally, every):
            tl.incidents += 1
        if not found:
            row[MISSED] += 1
            quality.missed.append(
                {"label": t.label, "kind": t.kind, "country": t.country, "start": iso(t.start)}
            )
            continue
        first = min(found, key=lambda e: (e.detected_at, e.started_at))
        row[first.kind] += 1
        asns = (
            frozenset()
            if any(not e.asns for e in found)
            else frozenset().union(*(e.asns for e in found))
        )
        platforms: frozenset[str] = frozenset().union(*(e.platforms for e in found))
        regions: frozenset[str] = (
            frozenset()
            if any(not e.regions for e in found)
            else frozenset().union(*(e.regions for e in found))
        )
        for tl in (tally, every):
            tl.detected += 1
            tl.exact_kind += first.kind == t.kind
            tl.delays.append(first.detected_at - t.start)
            tl.start_errors.append(abs(min(e.started_at for e in found) - t.start))
            tl.end_errors.append(abs(max(e.end(horizon) for e in found) - t.end))
            tl.asn_jaccard.append(jaccard(asns, t.asns))
            tl.region_jaccard.append(jaccard(regions, t.regions))
            if t.kind in PLATFORM_KINDS:
                tl.platform_jaccard.append(jaccard(platforms, t.platforms))
            tl.fragments.append(len(found))
    return quality
