"""Event messages as the worker publishes them (valid event.v1), for the events API's tests."""

from __future__ import annotations

from typing import Any

import orjson

from restrictwatch.detectors.events import iso, make_event_id, summarize
from tests.conftest import START

BIN = 300.0


def incident(
    country: str = "PK",
    start: float = START,
    kind: str = "platform_restriction",
    platforms: tuple[str, ...] = ("x",),
    asns: tuple[int, ...] = (),
    updates: int = 1,
    resolved: bool = True,
    seed: str = "",
    regions: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The messages of one incident: open, `updates` updates, then resolved (if `resolved`)."""
    if kind == "network_outage":
        platforms = ()
    event_id = make_event_id(country, start, seed or f"{kind}|{platforms}|{asns}|{regions}")
    detected = start + 2 * BIN
    statuses = ["open"] + ["update"] * updates + (["resolved"] if resolved else [])
    out = []
    for seq, status in enumerate(statuses):
        emitted = detected + seq * BIN
        ended = emitted - BIN if status == "resolved" else None
        out.append(
            {
                "schema": "restrictwatch.event.v1",
                "event_id": event_id,
                "seq": seq,
                "status": status,
                "kind": kind,
                "country": country,
                "regions": list(regions),
                "asns": list(asns),
                "platforms": list(platforms),
                "started_at": iso(start),
                "detected_at": iso(detected),
                "ended_at": iso(ended) if ended is not None else None,
                "emitted_at": iso(emitted),
                "severity": 0.5 + 0.01 * seq,
                "peak_severity": 0.9,
                "confidence": 0.8,
                "method": "tls" if platforms else None,
                "evidence": [
                    {
                        "signal": "reachability",
                        "source": "probe-mesh",
                        "asn": asns[0] if asns else None,
                        "platform": platforms[0] if platforms else None,
                        "expected": 0.97,
                        "observed": 0.1,
                        "score": -12.5,
                        "bins": 3 + seq,
                        "failures": {"tls": 30},
                    }
                ],
                "summary": summarize(
                    kind, country, list(asns), list(platforms), start, ended, regions
                ),
                "config_version": "test",
            }
        )
    return out


def encoded(messages: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(m) for m in messages]
