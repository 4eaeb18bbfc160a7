"""`restrictwatch api` on the real broker: a worker's events in the API as published, a SIGKILL
mid-stream that loses and doubles nothing, an Atom feed a feed library reads, 400s, and garbage
on the events topic skipped and counted."""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import feedparser
import orjson
import pytest
from kafka import KafkaProducer

from restrictwatch.detectors.records import Rejection
from restrictwatch.streams.api.store import decode_event
from restrictwatch.streams.kafka_io import current_incidents
from tests.api_events import encoded, incident
from tests.conftest import START
from tests.integration.api_process import Api, free_port
from tests.integration.workers import Deployment, pk_lines, resolved


@pytest.fixture
def api(deployment: Deployment) -> Iterator[Api]:
    a = Api(deployment, deployment.tmp / "api" / "events.sqlite3", free_port())
    yield a
    a.stop()


def send(deployment: Deployment, values: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=deployment.bootstrap, acks="all", linger_ms=5)
    for key, value in values:
        producer.send(deployment.settings().events_topic, key=key, value=value)
    producer.flush()
    producer.close()


def keyed(messages: list[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
    return [(m["event_id"].encode(), v) for m, v in zip(messages, encoded(messages), strict=True)]


def lifecycles(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        out.setdefault(m["event_id"], []).append(m)
    return {k: sorted(v, key=lambda m: m["seq"]) for k, v in out.items()}


def events_in(messages: list[Any]) -> list[dict[str, Any]]:
    """The valid event messages among what the events topic holds."""
    out = []
    for m in messages:
        event = decode_event(m.value)
        if not isinstance(event, Rejection):
            out.append(event)
    return out


def metric(api: Api, name: str, **labels: str) -> float:
    text = api.get("/metrics")[1].decode()
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {want} in /metrics")


def test_a_workers_events_appear_as_published_and_garbage_is_skipped(
    deployment: Deployment, api: Api
) -> None:
    api.start()
    # Garbage first: the consumer must go past it to reach the worker's events.
    send(deployment, [(None, b"{not json"), (b"rw-x", b'{"schema": "restrictwatch.event.v1"}')])
    deployment.start_worker()
    deployment.produce(pk_lines())
    done = resolved()
    published = events_in(deployment.read("events", lambda ms: done(events_in(ms)), timeout=300))
    assert [e["status"] for e in published] == ["open", "resolved"]
    api.wait(lambda: api.stored() == len(published), "the worker's events")

    (event_id,) = {e["event_id"] for e in published}
    assert api.json(f"/v1/events/{event_id}") == {"event": published[-1], "messages": published}
    listed = api.json("/v1/events", country="PK", since="2023-12-17T00:00:00Z")
    assert listed == {"events": [published[-1]], "next_cursor": None}
    assert api.json("/v1/events", kind="network_outage")["events"] == []
    assert api.json("/v1/incidents/current")["incidents"] == current_incidents(published) == []

    status, body = api.get("/v1/feed.atom", country="PK")
    assert status == 200
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    assert [e.title.split(":")[0] for e in feed.entries] == ["Resolved", "Opened"]
    assert feed.entries[0].summary.startswith(published[-1]["summary"])

    for path, params, parameter in [
        ("/v1/events", {"country": "Pakistan"}, "country"),
        ("/v1/events", {"limit": "100000"}, "limit"),
        ("/v1/events", {"since": "last week"}, "since"),
        ("/v1/events", {"since": "2000-01-01T00:00:00Z", "until": "2023-12-18T00:00:00Z"}, "since"),
        ("/v1/events/not-an-id", {}, "event_id"),
        ("/v1/feed.atom", {"country": "??"}, "country"),
    ]:
        status, body = api.get(path, **params)
        assert status == 400, (path, params, body)
        assert orjson.loads(body)["parameter"] == parameter

    assert metric(api, "rw_api_rejected_messages_total", reason="json") == 1
    assert metric(api, "rw_api_rejected_messages_total", reason="schema") == 1
    assert metric(api, "rw_api_messages_total", outcome="stored") == len(published)
    assert "skipped" in api.log() and "offset 0 (json)" in api.log()
    health = api.json("/healthz")
    assert health["consumer"]["running"] and health["consumer"]["connected"]
    assert sum(health["consumer"]["offsets"].values()) == len(published) + 2


def test_killed_mid_stream_and_restarted_the_api_loses_and_doubles_nothing(
    deployment: Deployment, api: Api
) -> None:
    countries = ["PK", "IR", "RU", "TR", "ET", "IN", "MM", "SY"]
    incidents = [
        incident(
            countries[i % len(countries)], START + i * 3600, updates=i % 3, resolved=i % 4 != 0
        )
        for i in range(240)
    ]
    messages = [m for ms in incidents for m in ms]
    # Small transactions, and the stream still being produced while the API is killed.
    api.start(RW_API_POLL_RECORDS="7")

    def produce() -> None:
        for i in range(0, len(incidents), 10):
            send(deployment, [kv for ms in incidents[i : i + 10] for kv in keyed(ms)])

    producer = threading.Thread(target=produce)
    producer.start()
    api.wait(lambda: api.stored() >= 50, "the first messages")
    api.kill(signal.SIGKILL)
    killed_with = sqlite3.connect(api.db).execute("SELECT count(*) FROM messages").fetchone()[0]
    assert 50 <= killed_with < len(messages)  # really mid-stream
    api.start(RW_API_POLL_RECORDS="7")
    producer.join()
    api.wait(lambda: api.stored() == len(messages), "every message after the restart")

    # The restart resumed at the stored offsets: nothing read twice, nothing skipped.
    assert metric(api, "rw_api_messages_total", outcome="duplicate") == 0
    assert metric(api, "rw_api_messages_total", outcome="stored") == len(messages) - killed_with
    db = sqlite3.connect(api.db)
    offsets = dict(db.execute("SELECT partition, next_offset FROM offsets").fetchall())
    assert sum(offsets.values()) == len(messages)
    rows = db.execute('SELECT event_id, seq, body, partition, "offset" FROM messages').fetchall()
    assert len(rows) == len({(r[0], r[1]) for r in rows}) == len(messages)
    assert len({(r[3], r[4]) for r in rows}) == len(messages)
    expected = lifecycles(messages)
    for event_id, lifecycle in expected.items():
        assert api.json(f"/v1/events/{event_id}")["messages"] == lifecycle
    current = api.json("/v1/incidents/current")["incidents"]
    assert sorted(current, key=lambda e: e["event_id"]) == sorted(
        current_incidents(messages), key=lambda e: e["event_id"]
    )
    # Every incident once over the pages, whatever the page size.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "37", "since": "2023-11-01T00:00:00Z", "until": "2023-12-31T00:00:00Z"}
        page = api.json("/v1/events", **params, **({"cursor": cursor} if cursor else {}))
        seen += [e["event_id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected)
