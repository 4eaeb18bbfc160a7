"""Turn a scenario into the byte stream a feed would deliver: ordered by arrival, with its faults."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson

from restrictwatch.detectors.events import iso
from restrictwatch.detectors.simulation.model import Effect, Scenario, generate


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
    truth = truth_rows(scenario)
    return Rendered([r[2] for r in out], truth)
