"""Multi-country inputs for reliability tests: simulated scenarios cut short and aligned in time."""

from __future__ import annotations

from typing import Any

import orjson

from restrictwatch.detectors.events import iso
from restrictwatch.detectors.records import parse_ts
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario

# (scenario, end of its first incident, days of warm-up before it that replay needs to find it)
SHORT_CUTS: dict[str, tuple[str, float]] = {
    "ke-small-asn-outage": ("2024-06-25T17:00:00Z", 3),
    "tr-dns-and-sni-blocks": ("2023-02-09T01:00:00Z", 3),
    "ru-x-throttling": ("2021-03-11T19:00:00Z", 5),
}
# Every cut is moved to start here, so no country runs a day ahead of another: the pipeline's
# far-future check compares a record with the newest one accepted for *any* country.
COMMON_START = parse_ts("2024-01-08T00:00:00Z")
TAIL_SECONDS = 6 * 3600


def cut_lines(name: str, start: float = COMMON_START) -> list[bytes]:
    """The scenario's records from `days` before its incident ended to a few hours after it,
    shifted in time to begin at `start`."""
    end_iso, days = SHORT_CUTS[name]
    end = parse_ts(end_iso)
    lo, hi = end - days * 86400, end + TAIL_SECONDS
    shift = start - lo
    out = []
    for line in render(scenario(name), 1).lines:
        doc: dict[str, Any] = orjson.loads(line)
        ts = parse_ts(doc["ts"])
        if lo <= ts < hi:
            doc["ts"] = iso(ts + shift)
            out.append(orjson.dumps(doc))
    return out


def merged(*names: str) -> list[bytes]:
    """Several countries' cuts interleaved by event time, as one feed would carry them."""
    keyed = [
        (orjson.loads(line)["ts"], i, line) for n in names for i, line in enumerate(cut_lines(n))
    ]
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [line for _, _, line in keyed]
