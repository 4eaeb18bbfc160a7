"""The events API's parameter checks: every problem names its parameter."""

from __future__ import annotations

import pytest

from restrictwatch.detectors.schemas import load_schema
from restrictwatch.streams.api import query

LIMITS = query.Limits(page_size=100, max_page_size=1000, max_range_days=366, default_range_days=30)
NEWEST = 1_702_857_600.0  # 2023-12-18T00:00:00Z
DAY = 86400.0


def check(**params: str) -> query.EventQuery:
    return query.event_query(params.items(), LIMITS, NEWEST)


def test_defaults_are_a_bounded_window_ending_at_the_newest_message() -> None:
    q = check()
    assert (q.since, q.until, q.limit) == (NEWEST - 30 * DAY, NEWEST, 100)
    q = check(since="2023-12-17T15:00:00+05:00", until="1702857600", limit="7")
    assert (q.since, q.until, q.limit) == (1_702_807_200.0, NEWEST, 7)


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({"country": "pk"}, "country", "ISO 3166-1"),
        ({"country": "PAK"}, "country", "ISO 3166-1"),
        ({"region": "Balochistan"}, "region", "ISO 3166-2"),
        ({"asn": "AS17557"}, "asn", "not an integer"),
        ({"asn": "0"}, "asn", "out of range"),
        ({"platform": "x" * 65}, "platform", "1 to 64"),
        ({"kind": "outage"}, "kind", "network_outage"),
        ({"status": "closed"}, "status", "open, update, resolved"),
        ({"since": "yesterday"}, "since", "RFC 3339"),
        ({"since": "2023-12-17T00:00:00"}, "since", "no UTC offset"),
        ({"until": "nan"}, "until", "not a time"),
        ({"since": "2023-12-20T00:00:00Z"}, "until", "before since"),
        ({"since": "2020-01-01T00:00:00Z"}, "since", "longer than 366 days"),
        ({"limit": "0"}, "limit", "out of range"),
        ({"limit": "1001"}, "limit", "from 1 to 1000"),
        ({"limit": "ten"}, "limit", "not an integer"),
        ({"cursor": "!!!"}, "cursor", "next_cursor"),
        ({"cursor": "WzEsMl0"}, "cursor", "next_cursor"),  # [1,2]: JSON, but not a cursor
        ({"colour": "red"}, "colour", "unknown parameter"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, str], parameter: str, words: str) -> None:
    with pytest.raises(query.BadParameter) as raised:
        check(**params)
    assert raised.value.parameter == parameter
    assert words in raised.value.message
    assert raised.value.as_json()["parameter"] == parameter


def test_a_repeated_parameter_is_refused() -> None:
    with pytest.raises(query.BadParameter, match="country: given more than once"):
        query.event_query([("country", "PK"), ("country", "IR")], LIMITS, NEWEST)


def test_cursors_round_trip() -> None:
    cursor = query.encode_cursor(1_702_825_800.0, "rw-PK-20231217T1500Z-0e338062")
    assert check(cursor=cursor).after == (1_702_825_800.0, "rw-PK-20231217T1500Z-0e338062")


def test_allowed_values_come_from_the_event_schema() -> None:
    props = load_schema("event.v1")["properties"]
    assert query.kinds() == props["kind"]["enum"]
    assert query.statuses() == props["status"]["enum"]
    assert query.event_id("rw-PK-20231217T1500Z-0e338062")
    with pytest.raises(query.BadParameter, match="event_id"):
        query.event_id("rw-PK-1")
