"""Query parameters of the events API, checked before any SQL runs.

Allowed values come from `schemas/event.v1.schema.json` (country and event_id patterns, kind and
status enums), so the API accepts exactly what the contract can hold. Every problem is a
`BadParameter` naming the parameter, which the HTTP layer answers with 400.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson

from restrictwatch.detectors.exceptions import RestrictwatchError
from restrictwatch.detectors.records import parse_ts
from restrictwatch.detectors.schemas import load_schema

DAY = 86400.0
MAX_PLATFORM_CHARS = 64
EVENT_FILTERS = ("country", "region", "asn", "platform", "kind", "status", "since", "until")
EVENTS_PARAMETERS = (*EVENT_FILTERS, "limit", "cursor")


class BadParameter(RestrictwatchError):
    """A query parameter the API cannot use; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message

    def as_json(self) -> dict[str, str]:
        return {"error": "bad_parameter", "parameter": self.parameter, "message": self.message}


@cache
def event_properties() -> dict[str, Any]:
    props: dict[str, Any] = load_schema("event.v1")["properties"]
    return props


def kinds() -> list[str]:
    return list(event_properties()["kind"]["enum"])


def statuses() -> list[str]:
    return list(event_properties()["status"]["enum"])


@cache
def _pattern(field: str) -> re.Pattern[str]:
    return re.compile(event_properties()[field]["pattern"])


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds an operator sets (RW_API_*): page sizes and the longest time window."""

    page_size: int = 100
    max_page_size: int = 1000
    max_range_days: float = 366
    default_range_days: float = 30


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A checked `GET /v1/events` query: filters on each incident's latest state, one page."""

    since: float
    until: float
    limit: int
    country: str | None = None
    region: str | None = None
    asn: int | None = None
    platform: str | None = None
    kind: str | None = None
    status: str | None = None
    after: tuple[float, str] | None = None  # (detected_at, event_id) of the last row seen


def single_values(pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """Query pairs as a dict; an unknown or repeated parameter is a BadParameter."""
    known = set(allowed)
    out: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            raise BadParameter(name, f"unknown parameter (known: {', '.join(sorted(known))})")
        if name in out:
            raise BadParameter(name, "given more than once")
        out[name] = value
    return out


def country(value: str, parameter: str = "country") -> str:
    if not _pattern("country").fullmatch(value):
        raise BadParameter(parameter, f"{value!r} is not an ISO 3166-1 alpha-2 code such as PK")
    return value


def region(value: str) -> str:
    if not re.fullmatch(event_properties()["regions"]["items"]["pattern"], value):
        raise BadParameter("region", f"{value!r} is not an ISO 3166-2 code such as PK-BA")
    return value


def event_id(value: str) -> str:
    if not _pattern("event_id").fullmatch(value):
        raise BadParameter(
            "event_id", f"{value!r} is not an event id such as rw-PK-20231217T1500Z-0e338062"
        )
    return value


def timestamp(value: str, parameter: str) -> float:
    """Epoch seconds from RFC 3339 with an offset (or Z), or epoch seconds."""
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number in (float("inf"), float("-inf")):
            raise BadParameter(parameter, f"{value!r} is not a time")
        return parse_ts(number)
    try:
        naive = datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        raise BadParameter(
            parameter, f"{value!r} is not RFC 3339 (2023-12-17T15:00:00Z) or epoch seconds"
        ) from None
    if naive:
        raise BadParameter(parameter, f"{value!r} has no UTC offset: end it with Z or +hh:mm")
    return parse_ts(value)


def _integer(value: str, parameter: str, low: int, high: int | None = None) -> int:
    try:
        n = int(value)
    except ValueError:
        raise BadParameter(parameter, f"{value!r} is not an integer") from None
    if n < low or (high is not None and n > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise BadParameter(parameter, f"{n} is out of range: must be {bound}")
    return n


def _choice(value: str, parameter: str, choices: list[str]) -> str:
    if value not in choices:
        raise BadParameter(parameter, f"{value!r} is not one of {', '.join(choices)}")
    return value


def encode_cursor(detected_at: float, event_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([detected_at, event_id])).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        detected_at, eid = orjson.loads(raw)
        if isinstance(detected_at, bool) or not isinstance(detected_at, int | float):
            raise TypeError
        if not isinstance(eid, str):
            raise TypeError
    except (binascii.Error, ValueError, TypeError):
        raise BadParameter(
            "cursor", "not a cursor this API gave out (pass next_cursor unchanged)"
        ) from None
    return float(detected_at), eid


def event_query(pairs: Iterable[tuple[str, str]], limits: Limits, newest: float) -> EventQuery:
    """Check a `GET /v1/events` query. The window is on event time: an incident matches if it
    overlaps [since, until]. `until` defaults to `newest` (the latest emitted_at stored, so old
    data replayed today is browsable), `since` to `until` minus the default range."""
    q = single_values(pairs, EVENTS_PARAMETERS)
    until = timestamp(q["until"], "until") if "until" in q else newest
    since = (
        timestamp(q["since"], "since") if "since" in q else until - limits.default_range_days * DAY
    )
    if since > until:
        raise BadParameter("until", "is before since")
    if until - since > limits.max_range_days * DAY:
        raise BadParameter(
            "since",
            f"the window since..until is longer than {limits.max_range_days:g} days: narrow it",
        )
    platform = q.get("platform")
    if platform is not None and not 0 < len(platform) <= MAX_PLATFORM_CHARS:
        raise BadParameter("platform", f"must be 1 to {MAX_PLATFORM_CHARS} characters")
    return EventQuery(
        since=since,
        until=until,
        limit=_integer(q["limit"], "limit", 1, limits.max_page_size)
        if "limit" in q
        else limits.page_size,
        country=country(q["country"]) if "country" in q else None,
        region=region(q["region"]) if "region" in q else None,
        asn=_integer(q["asn"], "asn", 1, 2**32 - 1) if "asn" in q else None,
        platform=platform,
        kind=_choice(q["kind"], "kind", kinds()) if "kind" in q else None,
        status=_choice(q["status"], "status", statuses()) if "status" in q else None,
        after=decode_cursor(q["cursor"]) if "cursor" in q else None,
    )
