"""Restriction event messages: the public contract in `schemas/event.v1.schema.json`."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

import pycountry

from restrictwatch.detectors.vocabulary import OUTAGE, THROTTLING

SCHEMA_ID = "restrictwatch.event.v1"


class EventMessage(TypedDict):
    """One message of a restriction event, as schemas/event.v1.schema.json defines it (checked
    field by field in tests/detectors/test_events.py)."""

    schema: str
    event_id: str
    seq: int
    status: str  # vocabulary.Status
    kind: str  # vocabulary.Kind
    country: str
    regions: NotRequired[list[str]]
    asns: list[int]
    platforms: list[str]
    started_at: str
    detected_at: str
    ended_at: str | None
    emitted_at: str
    severity: float
    peak_severity: NotRequired[float]
    confidence: float
    method: NotRequired[str | None]
    evidence: list[dict[str, Any]]
    summary: str
    config_version: str


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event_id(country: str, started_at: float, seed: str) -> str:
    """Deterministic from what defines the incident, so a replay or a restart gives the same id."""
    digest = hashlib.sha1(f"{country}|{started_at:.0f}|{seed}".encode()).hexdigest()[:8]
    stamp = datetime.fromtimestamp(started_at, UTC).strftime("%Y%m%dT%H%MZ")
    return f"rw-{country}-{stamp}-{digest}"


def country_name(code: str) -> str:
    c = pycountry.countries.get(alpha_2=code)
    if c is None:
        return code
    return str(getattr(c, "common_name", None) or c.name)


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def format_duration(seconds: float) -> str:
    if seconds < 3600:
        return f"~{round(seconds / 60)} min"
    hours = seconds / 3600
    if hours < 48:
        return f"~{round(hours * 2) / 2:g} h"
    return f"~{round(hours / 24 * 2) / 2:g} days"


@functools.cache
def region_name(code: str) -> str:
    for s in pycountry.subdivisions:
        if s.code == code:
            return str(s.name)
    return code


# More regions than this are counted, not named: a sentence is not a list.
MAX_NAMED_REGIONS = 3


def summarize(
    kind: str,
    country: str,
    asns: list[int],
    platform_names: list[str],
    started_at: float,
    ended_at: float | None,
    regions: Sequence[str] = (),
) -> str:
    """One human sentence, e.g. 'X, Facebook, Instagram and YouTube restricted in Pakistan (PK) for
    ~7 h' or 'Network outage in Balochistan, Pakistan (PK) since …'."""
    where = f"in {country_name(country)} ({country})"
    if len(regions) > MAX_NAMED_REGIONS:
        where = f"in {len(regions)} regions of {country_name(country)} ({country})"
    elif regions:
        where = (
            f"in {_join([region_name(r) for r in regions])}, {country_name(country)} ({country})"
        )
    if asns:
        where = "on " + ", ".join(f"AS{a}" for a in asns) + " " + where
    when = (
        f"for {format_duration(ended_at - started_at)}"
        if ended_at is not None
        else f"since {iso(started_at)}"
    )
    if kind == OUTAGE:
        return f"Network outage {where} {when}"
    verb = "throttled" if kind == THROTTLING else "restricted"
    # No platform: the whole traffic of the country or of its networks (network throttling).
    what = _join(platform_names) if platform_names else "All traffic"
    return f"{what} {verb} {where} {when}"


def latest_messages(messages: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Each incident's latest state: its message with the highest seq (a re-emitted one is equal),
    by event_id in the order incidents first appear."""
    latest: dict[str, Mapping[str, Any]] = {}
    for m in messages:
        keep_latest(latest, m)
    return latest


def keep_latest(latest: dict[str, Mapping[str, Any]], message: Mapping[str, Any]) -> None:
    """One message into `latest_messages`' dict: for whoever reads messages one at a time and
    keeps only the latest of each incident."""
    seen = latest.get(message["event_id"])
    if seen is None or message["seq"] >= seen["seq"]:
        latest[message["event_id"]] = message
