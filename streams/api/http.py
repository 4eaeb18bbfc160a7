"""The events API's HTTP handlers (aiohttp): read-only JSON, an Atom feed, health and metrics.

Handlers only check parameters (`query`) and read the store; queries are bounded (page size,
time window, feed length) and indexed, so they run on the event loop directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from restrictwatch.streams.api import atom, query
from restrictwatch.streams.api.consumer import EventsConsumer
from restrictwatch.streams.api.metrics import ApiMetrics
from restrictwatch.streams.api.openapi import openapi_document
from restrictwatch.streams.api.settings import ApiSettings
from restrictwatch.streams.api.store import EventStore

log = logging.getLogger("restrictwatch.api")

STORE = web.AppKey("store", EventStore)
SETTINGS = web.AppKey("settings", ApiSettings)
METRICS = web.AppKey("metrics", ApiMetrics)
CONSUMER = web.AppKey("consumer", EventsConsumer)
OPENAPI = web.AppKey("openapi", bytes)


def _version() -> str:
    try:
        return package_version("restrictwatch")
    except PackageNotFoundError:
        return "0"


def json_response(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


def _limits(s: ApiSettings) -> query.Limits:
    return query.Limits(
        page_size=min(s.api_page_size, s.api_max_page_size),
        max_page_size=s.api_max_page_size,
        max_range_days=s.api_max_range_days,
        default_range_days=min(s.api_default_range_days, s.api_max_range_days),
    )


async def list_events(request: web.Request) -> web.Response:
    store = request.app[STORE]
    newest = store.newest_emitted_at()
    q = query.event_query(
        request.query.items(),
        _limits(request.app[SETTINGS]),
        newest if newest is not None else time.time(),
    )
    events, cursor = store.events(q)
    return json_response({"events": events, "next_cursor": cursor})


async def get_event(request: web.Request) -> web.Response:
    query.single_values(request.query.items(), ())
    event_id = query.event_id(request.match_info["event_id"])
    store = request.app[STORE]
    latest = store.latest(event_id)
    if latest is None:
        return json_response(
            {"error": "not_found", "message": f"no event {event_id} (yet)"}, status=404
        )
    return json_response({"event": latest, "messages": store.lifecycle(event_id)})


async def current_incidents(request: web.Request) -> web.Response:
    q = query.single_values(request.query.items(), ("country",))
    country = query.country(q["country"]) if "country" in q else None
    return json_response({"incidents": request.app[STORE].current(country)})


async def feed(request: web.Request) -> web.Response:
    q = query.single_values(request.query.items(), ("country",))
    country = query.country(q["country"]) if "country" in q else None
    messages = request.app[STORE].recent_messages(country, request.app[SETTINGS].api_feed_entries)
    base = f"{request.scheme}://{request.host}"
    body = atom.atom_feed(messages, base, str(request.url), country)
    return web.Response(body=body, content_type=atom.CONTENT_TYPE, charset="utf-8")


async def healthz(request: web.Request) -> web.Response:
    store = request.app[STORE]
    consumer = request.app.get(CONSUMER)
    doc: dict[str, Any] = {"status": "ok", "stored": store.counts()}
    if consumer is not None:
        state = consumer.state
        doc["consumer"] = {
            "running": consumer.alive(),
            "connected": state.connected,
            "partitions": state.partitions,
            "offsets": {
                str(p): o for p, o in store.offsets(request.app[SETTINGS].events_topic).items()
            },
            "last_error": state.last_error,
        }
        if state.started and not consumer.alive():
            doc["status"] = "consumer stopped"
            return json_response(doc, status=503)
    return json_response(doc)


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


@web.middleware
async def errors_and_metrics(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bad parameters become 400 with the parameter named; every answer is counted by route."""
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    response: web.StreamResponse
    try:
        response = await handler(request)
    except query.BadParameter as exc:
        response = json_response(exc.as_json(), status=400)
    except web.HTTPException as exc:
        response = json_response(
            {"error": exc.reason.lower().replace(" ", "_"), "message": exc.text or exc.reason},
            status=exc.status,
        )
    metrics = request.app[METRICS]
    metrics.requests.labels(route, str(response.status)).inc()
    metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
    return response


def make_app(
    settings: ApiSettings,
    metrics: ApiMetrics,
    consumer: EventsConsumer | None = None,
) -> web.Application:
    """The API over the store at `settings.api_db`; with a consumer, started and stopped with it."""
    app = web.Application(middlewares=[errors_and_metrics])
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[OPENAPI] = orjson.dumps(
        openapi_document(settings.api_max_page_size, settings.api_max_range_days, _version())
    )
    if consumer is not None:
        app[CONSUMER] = consumer

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = EventStore(settings.api_db)
        metrics.watch_store(lambda: app[STORE])
        if consumer is not None:
            consumer.start()
        yield
        if consumer is not None:
            consumer.close()
        app[STORE].close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/v1/events", list_events)
    app.router.add_get("/v1/events/{event_id}", get_event)
    app.router.add_get("/v1/incidents/current", current_incidents)
    app.router.add_get("/v1/feed.atom", feed)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
    return app


def run(settings: ApiSettings, registry: CollectorRegistry) -> None:
    """Serve until SIGINT or SIGTERM."""
    metrics = ApiMetrics(registry)
    consumer = EventsConsumer(settings, metrics)
    app = make_app(settings, metrics, consumer)
    log.info(
        "events API on http://%s:%d, events from %s into %s",
        settings.api_host,
        settings.api_port,
        settings.events_topic,
        settings.api_db,
    )
    web.run_app(app, host=settings.api_host, port=settings.api_port, access_log=None, print=None)
