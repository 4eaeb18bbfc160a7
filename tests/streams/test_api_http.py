"""The events API over real HTTP (aiohttp's test server on loopback), its store filled directly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from restrictwatch.detectors.events import iso
from restrictwatch.detectors.schemas import load_schema
from restrictwatch.streams.api.consumer import EventsConsumer
from restrictwatch.streams.api.http import make_app
from restrictwatch.streams.api.metrics import ApiMetrics
from restrictwatch.streams.api.settings import ApiSettings
from restrictwatch.streams.api.store import EventStore, RawMessage
from tests.api_events import encoded, incident
from tests.conftest import START

DAY = 86400.0
Client = Callable[[TestClient[Any, Any]], Awaitable[None]]


@pytest.fixture
def filled(tmp_path: Path) -> tuple[ApiSettings, list[list[dict[str, Any]]]]:
    settings = ApiSettings(api_db=tmp_path / "events.sqlite3", api_max_page_size=50)
    incidents = [
        incident("PK", START, platforms=("x", "youtube")),
        incident("PK", START + DAY, kind="network_outage", resolved=False),
        incident(
            "IR",
            START + 2 * DAY,
            kind="throttling",
            platforms=("instagram",),
            updates=0,
            resolved=False,
        ),
    ]
    store = EventStore(settings.api_db)
    values = [v for messages in incidents for v in encoded(messages)]
    store.ingest(settings.events_topic, [RawMessage(0, i, v) for i, v in enumerate(values)])
    store.close()
    return settings, incidents


def serve(settings: ApiSettings, body: Client) -> CollectorRegistry:
    registry = CollectorRegistry()

    async def go() -> None:
        app = make_app(settings, ApiMetrics(registry))
        async with TestClient(TestServer(app)) as client:
            await body(client)

    asyncio.run(go())
    return registry


def test_events_pages_and_lifecycle(filled: tuple[ApiSettings, list[list[dict[str, Any]]]]) -> None:
    settings, (pk, outage, ir) = filled

    async def body(client: TestClient[Any, Any]) -> None:
        r = await client.get("/v1/events", params={"limit": "2"})
        assert r.status == 200
        first = await r.json()
        assert first["events"] == [ir[-1], outage[-1]]
        r = await client.get("/v1/events", params={"limit": "2", "cursor": first["next_cursor"]})
        assert await r.json() == {"events": [pk[-1]], "next_cursor": None}
        r = await client.get("/v1/events", params={"country": "PK", "status": "resolved"})
        assert (await r.json())["events"] == [pk[-1]]
        r = await client.get("/v1/events", params={"platform": "youtube", "since": iso(START)})
        assert (await r.json())["events"] == [pk[-1]]
        r = await client.get(f"/v1/events/{pk[0]['event_id']}")
        assert await r.json() == {"event": pk[-1], "messages": pk}
        r = await client.get("/v1/incidents/current")
        assert await r.json() == {"incidents": [outage[-1], ir[-1]]}
        r = await client.get("/v1/incidents/current", params={"country": "IR"})
        assert await r.json() == {"incidents": [ir[-1]]}

    serve(settings, body)


def test_bad_requests_answer_400_naming_the_parameter(
    filled: tuple[ApiSettings, list[list[dict[str, Any]]]],
) -> None:
    settings, _ = filled

    async def body(client: TestClient[Any, Any]) -> None:
        for path, params, parameter in [
            ("/v1/events", {"country": "Pakistan"}, "country"),
            ("/v1/events", {"limit": "51"}, "limit"),
            ("/v1/events", {"since": "2000-01-01T00:00:00Z"}, "since"),
            ("/v1/events", {"cursor": "garbage"}, "cursor"),
            ("/v1/events", {"sort": "asc"}, "sort"),
            ("/v1/events/rw-nope", {}, "event_id"),
            ("/v1/incidents/current", {"kind": "throttling"}, "kind"),
            ("/v1/feed.atom", {"country": "pk"}, "country"),
        ]:
            r = await client.get(path, params=params)
            assert r.status == 400, (path, params)
            doc = await r.json()
            assert doc["error"] == "bad_parameter" and doc["parameter"] == parameter, doc
            assert doc["message"]
        r = await client.get("/v1/events/rw-PK-20231217T1500Z-00000000")
        assert r.status == 404 and (await r.json())["error"] == "not_found"
        r = await client.post("/v1/events")
        assert r.status == 405
        r = await client.get("/v2/anything")
        assert r.status == 404 and (await r.json())["error"] == "not_found"

    registry = serve(settings, body)
    assert (
        registry.get_sample_value("rw_api_requests_total", {"route": "/v1/events", "code": "400"})
        == 5
    )


def test_the_atom_feed_parses(filled: tuple[ApiSettings, list[list[dict[str, Any]]]]) -> None:
    settings, (pk, outage, ir) = filled

    async def body(client: TestClient[Any, Any]) -> None:
        r = await client.get("/v1/feed.atom")
        assert r.status == 200 and r.content_type == "application/atom+xml"
        parsed = feedparser.parse(await r.read())
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.version == "atom10"
        messages = pk + outage + ir
        assert len(parsed.entries) == len(messages)
        newest = parsed.entries[0]
        assert newest.title == f"Opened: {ir[0]['summary']}"
        assert newest.links[0].href.endswith(f"/v1/events/{ir[0]['event_id']}")
        assert len({e.id for e in parsed.entries}) == len(messages)
        r = await client.get("/v1/feed.atom", params={"country": "IR"})
        only = feedparser.parse(await r.read())
        assert not only.bozo and [e.title for e in only.entries] == [newest.title]
        assert "IR" in only.feed.title

    serve(settings, body)


def test_an_empty_store_still_gives_a_valid_feed(tmp_path: Path) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        parsed = feedparser.parse(await (await client.get("/v1/feed.atom")).read())
        assert not parsed.bozo and parsed.entries == []
        r = await client.get("/v1/events")
        assert await r.json() == {"events": [], "next_cursor": None}

    serve(ApiSettings(api_db=tmp_path / "empty.sqlite3"), body)


def test_openapi_health_and_metrics(filled: tuple[ApiSettings, list[list[dict[str, Any]]]]) -> None:
    settings, _ = filled

    async def body(client: TestClient[Any, Any]) -> None:
        doc = await (await client.get("/openapi.json")).json()
        assert doc["openapi"].startswith("3.1")
        assert doc["components"]["schemas"]["RestrictionEvent"] == load_schema("event.v1")
        assert set(doc["paths"]) >= {
            "/v1/events",
            "/v1/events/{event_id}",
            "/v1/incidents/current",
            "/v1/feed.atom",
            "/healthz",
            "/metrics",
        }
        r = await client.get("/healthz")
        assert r.status == 200
        assert (await r.json())["stored"] == {"messages": 6, "events": 3}
        text = await (await client.get("/metrics")).text()
        assert 'rw_api_incidents_open{country="PK",kind="network_outage"} 1.0' in text
        assert 'rw_api_incidents_open{country="IR",kind="throttling"} 1.0' in text
        assert "rw_api_stored_messages 6.0" in text

    serve(settings, body)


def test_health_fails_once_the_consumer_has_stopped(tmp_path: Path) -> None:
    settings = ApiSettings(api_db=tmp_path / "events.sqlite3", bootstrap_servers="127.0.0.1:1")
    registry = CollectorRegistry()
    stopped = threading.Event()
    stopped.set()  # the consumer thread ends at once, as if it had died
    consumer = EventsConsumer(settings, ApiMetrics(registry), stopped)

    async def go() -> None:
        app = make_app(settings, ApiMetrics(CollectorRegistry()), consumer)
        async with TestClient(TestServer(app)) as client:
            consumer.thread.join(10)
            r = await client.get("/healthz")
            assert r.status == 503
            doc = await r.json()
            assert doc["status"] == "consumer stopped" and doc["consumer"]["running"] is False

    asyncio.run(go())
