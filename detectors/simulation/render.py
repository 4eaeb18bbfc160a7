"""Turn a scenario into the byte stream a feed would deliver: ordered by arrival, with its faults."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson

from restrictwatch.detectors.events import iso
from restrictwatch.detectors.simulation.model import DAY, Effect, Scenario, generate

WEEK = 7 * DAY


@dataclass(frozen=True)
class Rendered:
    lines: list[bytes]
    truth: list[dict[str, Any]]


def _truth(scenario: Scenario, e: Effect) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "label": e.label,
        "kind": e.kind,
        "country": e.country,
        **({"regions": list(e.regions)} if e.regions else {}),
        "asns": list(e.asns),
        "platforms": list(e.platforms),
        "start": iso(e.start),
        "end": iso(e.end),
    }


def truth_rows(scenario: Scenario) -> list[dict[str, Any]]:
    """The labels (schemas/truth.v1); an effect on every country ('*') gets a row per country."""
    return [
        _truth(scenario, replace(e, country=c.code) if e.country == "*" else e)
        for e in scenario.effects
        if e.labeled
        for c in (scenario.countries if e.country == "*" else scenario.countries[:1])
    ]


def render(scenario: Scenario, seed: int = 1) -> Rendered:
    """Records as JSON lines in arrival order, and the truth labels. Deterministic for a seed."""
    return Rendered([line for _, _, line in _arrivals(scenario, seed)], truth_rows(scenario))


def side_by_side(scenarios: Sequence[Scenario], seed: int = 1) -> Rendered:
    """Scenarios of different countries as one feed of them all, as a collector of several
    countries delivers it: each moved by whole weeks (weekday and time of day kept) to start in
    the first one's week, and their records merged by arrival, each keeping its own order."""
    countries = [c.code for s in scenarios for c in s.countries]
    if len(set(countries)) < len(countries):
        raise ValueError(f"side by side needs scenarios of different countries, not {countries}")
    origin = scenarios[0].start if scenarios else 0.0
    specs = [moved(s, round((origin - s.start) / WEEK) * WEEK) for s in scenarios]
    merged = heapq.merge(*(_arrivals(s, seed) for s in specs), key=lambda a: a[0])
    return Rendered([line for _, _, line in merged], [t for s in specs for t in truth_rows(s)])


def moved(scenario: Scenario, seconds: float) -> Scenario:
    """The scenario `seconds` later, its effects with it."""
    return replace(
        scenario,
        start=scenario.start + seconds,
        end=scenario.end + seconds,
        effects=tuple(
            replace(e, start=e.start + seconds, end=e.end + seconds) for e in scenario.effects
        ),
    )


def _arrivals(scenario: Scenario, seed: int) -> list[tuple[float, int, bytes]]:
    """(arrival time, order, line) of every record, in arrival order."""
    rng = np.random.default_rng(seed + 7919)
    faults = [
        e for e in scenario.effects if e.action in ("silence", "late", "duplicate", "gaps", "shift")
    ]
    out: list[tuple[float, int, bytes]] = []
    for emit, order, rec in generate(scenario, seed):
        ts = emit - scenario.bin_seconds
        copies = 1
        for f in faults:
            if not (f.start <= ts < f.end) or (f.source and rec["source"] != f.source):
                continue
            if f.country not in ("*", rec["country"]):
                continue
            if f.action == "silence":
                copies = 0
            elif f.action == "late":
                emit += f.delay
            elif f.action == "shift":  # the feed moves its reporting hours
                rec = {**rec, "ts": iso(ts + f.delay)}
                emit += f.delay
            elif f.action == "duplicate" and rng.random() < f.fail_share:
                copies = 2
            elif f.action == "gaps" and rng.random() < f.fail_share:
                copies = 0
        line = orjson.dumps(rec)
        for i in range(copies):
            out.append((emit + i * 60, order, line))
    out.sort(key=lambda r: (r[0], r[1]))
    return out
