"""The OpenAPI 3.1 document of the events API. The event schema is `schemas/event.v1.schema.json`
as loaded (OpenAPI 3.1 schemas are JSON Schema 2020-12); parameters refer into it."""

from __future__ import annotations

import copy
from typing import Any

from restrictwatch.detectors.schemas import load_schema

EVENT = "#/components/schemas/RestrictionEvent"


def _prop(name: str) -> dict[str, str]:
    return {"$ref": f"{EVENT}/properties/{name}"}


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(max_page_size: int, max_range_days: float, version: str) -> dict[str, Any]:
    bad = _json({"$ref": "#/components/schemas/Error"}, "A bad parameter, named in the answer")
    time = {"type": "string", "description": "RFC 3339 with offset, or epoch seconds"}
    event_list = {"type": "array", "items": {"$ref": EVENT}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "restrictwatch events API",
            "version": version,
            "description": "Restriction events read from the events topic. Read-only.",
        },
        "paths": {
            "/v1/events": {
                "get": {
                    "summary": "Incidents (their latest message), newest first, one page",
                    "parameters": [
                        _param("country", "ISO 3166-1 alpha-2", _prop("country")),
                        _param(
                            "region",
                            "ISO 3166-2: incidents in this region, and its country's "
                            "country-wide ones",
                            {"$ref": f"{EVENT}/properties/regions/items"},
                        ),
                        _param("asn", "an affected network", {"type": "integer", "minimum": 1}),
                        _param("platform", "an affected platform", {"type": "string"}),
                        _param("kind", "kind of the latest message", _prop("kind")),
                        _param("status", "status of the latest message", _prop("status")),
                        _param(
                            "since",
                            "incidents still going on at or after this event time"
                            " (default: until minus the default range)",
                            time,
                        ),
                        _param(
                            "until",
                            "incidents started at or before this event time (default: the"
                            f" newest message's emitted_at); until - since <= {max_range_days:g} days",
                            time,
                        ),
                        _param(
                            "limit",
                            "page size",
                            {"type": "integer", "minimum": 1, "maximum": max_page_size},
                        ),
                        _param("cursor", "next_cursor of the previous page", {"type": "string"}),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["events", "next_cursor"],
                                "properties": {
                                    "events": event_list,
                                    "next_cursor": {"type": ["string", "null"]},
                                },
                            },
                            "A page of incidents",
                        ),
                        "400": bad,
                    },
                }
            },
            "/v1/events/{event_id}": {
                "get": {
                    "summary": "One incident: its latest state and every message of its life",
                    "parameters": [
                        {
                            "name": "event_id",
                            "in": "path",
                            "required": True,
                            "schema": _prop("event_id"),
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["event", "messages"],
                                "properties": {"event": {"$ref": EVENT}, "messages": event_list},
                            },
                            "The incident",
                        ),
                        "400": bad,
                        "404": _json({"$ref": "#/components/schemas/Error"}, "No such incident"),
                    },
                }
            },
            "/v1/incidents/current": {
                "get": {
                    "summary": "Incidents open now (latest message not resolved), oldest first",
                    "parameters": [_param("country", "ISO 3166-1 alpha-2", _prop("country"))],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["incidents"],
                                "properties": {"incidents": event_list},
                            },
                            "Open incidents",
                        ),
                        "400": bad,
                    },
                }
            },
            "/v1/feed.atom": {
                "get": {
                    "summary": "An Atom feed of the latest event messages",
                    "parameters": [_param("country", "only this country", _prop("country"))],
                    "responses": {
                        "200": {
                            "description": "Atom 1.0",
                            "content": {"application/atom+xml": {"schema": {"type": "string"}}},
                        },
                        "400": bad,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {
                        "200": {"description": "up"},
                        "503": {"description": "the consumer has stopped"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition"}},
                }
            },
        },
        "components": {
            "schemas": {
                "RestrictionEvent": copy.deepcopy(load_schema("event.v1")),
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "parameter": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            }
        },
    }
