"""The events API's store: what the topic holds, once, and the offsets in the same transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from restrictwatch.streams.api import query
from restrictwatch.streams.api.store import EventStore, RawMessage
from tests.api_events import encoded, incident
from tests.conftest import START

DAY = 86400.0
LIMITS = query.Limits(page_size=2, max_page_size=10, max_range_days=366, default_range_days=30)


def batch(values: list[bytes], partition: int = 0, first: int = 0) -> list[RawMessage]:
    return [RawMessage(partition, first + i, v) for i, v in enumerate(values)]


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "events.sqlite3")


def q(store: EventStore, **params: str) -> query.EventQuery:
    newest = store.newest_emitted_at()
    assert newest is not None
    return query.event_query(params.items(), LIMITS, newest)


def test_messages_are_stored_as_sent_and_the_latest_state_follows_seq(store: EventStore) -> None:
    messages = incident(updates=2)
    result = store.ingest("events", batch(encoded(messages)))
    assert result.outcomes == {"stored": 4}
    event_id = messages[0]["event_id"]
    assert store.lifecycle(event_id) == messages
    assert store.latest(event_id) == messages[-1]
    assert store.offsets("events") == {0: 4}
    assert store.current() == []


def test_re_reading_never_doubles_or_changes_a_row(store: EventStore, tmp_path: Path) -> None:
    messages = incident(updates=1)
    store.ingest("events", batch(encoded(messages)))
    again = store.ingest("events", batch(encoded(messages)))
    assert again.outcomes == {"duplicate": 3}
    # A re-emitted open with other content (it should not happen) leaves the stored row alone.
    changed = {**messages[0], "summary": "something else"}
    conflict = store.ingest("events", batch([orjson.dumps(changed)], first=3))
    assert conflict.outcomes == {"conflict": 1}
    assert store.lifecycle(messages[0]["event_id"]) == messages
    assert store.counts() == {"messages": 3, "events": 1}
    # An old seq arriving after a newer one does not roll the latest state back.
    late = incident(country="IR", updates=1, resolved=False)
    store.ingest("events", batch(encoded([late[1], late[0]]), first=4))
    assert store.latest(late[0]["event_id"]) == late[1]


def test_bad_messages_are_rejected_with_a_reason_and_their_offsets_consumed(
    store: EventStore,
) -> None:
    good = encoded(incident())
    bad_time = {**incident(country="IR")[0], "started_at": "yesterday"}  # formats do not validate
    huge_seq = orjson.dumps(incident(country="TR")[0]).replace(b'"seq":0', b'"seq":' + b"9" * 20)
    values = [
        b"{not json",
        b"",
        None,
        b"\xff\xfe",
        b'{"schema": "restrictwatch.event.v1"}',
        b"[1]",
        orjson.dumps(bad_time),
        huge_seq,
    ]
    result = store.ingest("events", batch([*values, *good]))
    assert result.outcomes == {"rejected": 8, "stored": 3}
    assert [r.error_type for _, r in result.rejections] == [
        "json",
        "empty",
        "empty",
        "encoding",
        "schema",
        "schema",
        "invalid_value",
        "invalid_value",
    ]
    assert "is a required property" in result.rejections[4][1].reason
    assert store.offsets("events") == {0: 11}


def test_offsets_and_rows_commit_together(store: EventStore, tmp_path: Path) -> None:
    """A batch that fails half-way leaves neither its rows nor its offsets behind."""
    first, second = incident(), incident(country="IR")
    store.ingest("events", batch(encoded(first), partition=1))
    store._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON offsets BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.ingest("events", batch(encoded(second), partition=2))
    store._db.execute("DROP TRIGGER boom")
    assert store.counts() == {"messages": 3, "events": 1}
    assert store.offsets("events") == {1: 3}
    reopened = EventStore(tmp_path / "events.sqlite3")
    assert reopened.offsets("events") == {1: 3}
    assert reopened.lifecycle(first[0]["event_id"]) == first


def test_offsets_are_per_partition_and_never_go_back(store: EventStore) -> None:
    a, b = incident(), incident(country="IR")
    store.ingest("events", batch(encoded(a), partition=0, first=10))
    store.ingest("events", batch(encoded(b), partition=3, first=0))
    store.ingest("events", batch(encoded(a), partition=0, first=0))
    assert store.offsets("events") == {0: 13, 3: 3}
    assert store.offsets("other") == {}


def test_filters_select_on_the_latest_state(store: EventStore) -> None:
    pk_x = incident("PK", START, platforms=("x", "youtube"), asns=(17557,))
    pk_outage = incident("PK", START + DAY, kind="network_outage", updates=0, resolved=False)
    ir = incident("IR", START + 2 * DAY, kind="throttling", platforms=("instagram",))
    balochistan = incident("PK", START + 3 * DAY, kind="network_outage", regions=("PK-BA",))
    for n, messages in enumerate((pk_x, pk_outage, ir, balochistan)):
        store.ingest("events", batch(encoded(messages), first=10 * n))

    def ids(**params: str) -> list[str]:
        events, _ = store.events(q(store, **{"limit": "10", **params}))
        return [e["event_id"] for e in events]

    pk_x_id, outage_id, ir_id = pk_x[0]["event_id"], pk_outage[0]["event_id"], ir[0]["event_id"]
    ba_id = balochistan[0]["event_id"]
    assert ids() == [ba_id, ir_id, outage_id, pk_x_id]  # newest first
    assert ids(country="PK") == [ba_id, outage_id, pk_x_id]
    # A region's own incidents, and its country's country-wide ones, which cover it too.
    assert ids(region="PK-BA") == [ba_id, outage_id, pk_x_id]
    assert ids(region="PK-SD") == [outage_id, pk_x_id]
    assert ids(region="IR-07") == [ir_id]
    assert ids(asn="17557") == [pk_x_id]
    assert ids(asn="3") == []
    assert ids(platform="youtube") == [pk_x_id]
    assert ids(kind="throttling") == [ir_id]
    assert ids(status="open") == [outage_id]
    assert ids(status="resolved") == [ba_id, ir_id, pk_x_id]
    assert ids(status="update") == []
    # The window: an incident overlapping [since, until] matches; an open one runs on.
    from restrictwatch.detectors.events import iso

    assert ids(since=iso(START + 5 * DAY), until=iso(START + 6 * DAY)) == [outage_id]
    assert ids(since=iso(START - DAY), until=iso(START + 0.5 * DAY)) == [pk_x_id]
    assert ids(until=str(START - 1), since=str(START - DAY)) == []
    assert store.current() == [pk_outage[-1]]
    assert store.current("IR") == []
    assert list(store.open_counts()) == [("PK", "network_outage", 1)]


def test_cursor_pages_cover_everything_once(store: EventStore) -> None:
    everything = []
    for i in range(7):
        messages = incident("PK" if i % 2 else "IR", START + i * 3600)
        everything.append(messages[-1])
        store.ingest("events", batch(encoded(messages), first=10 * i))
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        events, cursor = store.events(q(store, **params))
        seen += events
        pages += 1
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(everything, key=lambda e: e["detected_at"], reverse=True)
    # A new message of a listed incident does not move it between pages.
    events, cursor = store.events(q(store, limit="3"))
    update = {**everything[-1], "seq": 3, "status": "update"}
    store.ingest("events", batch([orjson.dumps(update)], first=100))
    rest, _ = store.events(q(store, limit="10", cursor=cursor or ""))
    assert [e["event_id"] for e in events + rest] == [e["event_id"] for e in seen]


def test_the_feed_lists_the_newest_messages(store: EventStore) -> None:
    pk, ir = incident("PK", START), incident("IR", START + 600)
    store.ingest("events", batch(encoded(pk) + encoded(ir)))
    newest = store.recent_messages(None, 4)
    assert len(newest) == 4 and newest[0] == ir[-1]
    assert store.recent_messages("PK", 10) == pk[::-1]


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    EventStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="schema 99"):
        EventStore(path)
