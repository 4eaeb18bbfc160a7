from __future__ import annotations

from typing import NotRequired, get_origin, get_type_hints

from restrictwatch.detectors.events import summarize

T0 = 1_700_000_000.0


def test_a_summary_names_the_platforms_or_says_all_traffic() -> None:
    assert (
        summarize("platform_restriction", "PK", [], ["X", "YouTube"], T0, T0 + 7 * 3600)
        == "X and YouTube restricted in Pakistan (PK) for ~7 h"
    )
    # Country or network throttling has no platform: the whole traffic is slowed.
    assert summarize("throttling", "IR", [], [], T0, T0 + 10 * 86400).startswith(
        "All traffic throttled in Iran"
    )
    assert summarize("throttling", "NG", [29465], [], T0, None).startswith(
        "All traffic throttled on AS29465 in Nigeria (NG) since"
    )


def test_latest_messages_keep_each_incidents_highest_seq_in_order_of_first_appearance() -> None:
    from restrictwatch.detectors.events import latest_messages

    messages = [
        {"event_id": "b", "seq": 0},
        {"event_id": "a", "seq": 0},
        {"event_id": "b", "seq": 2},
        {"event_id": "b", "seq": 1},  # an older message read again after a restart
        {"event_id": "a", "seq": 0},  # a re-emission
    ]
    latest = latest_messages(messages)
    assert list(latest) == ["b", "a"]
    assert latest["b"]["seq"] == 2 and latest["a"]["seq"] == 0


def test_the_typed_event_message_is_the_event_schema() -> None:
    from restrictwatch.detectors.events import EventMessage
    from restrictwatch.detectors.schemas import load_schema

    schema = load_schema("event.v1")
    hints = get_type_hints(EventMessage, include_extras=True)
    optional = {k for k, h in hints.items() if get_origin(h) is NotRequired}
    assert set(hints) == set(schema["properties"])
    assert set(hints) - optional == set(schema["required"])
