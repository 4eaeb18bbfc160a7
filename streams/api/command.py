"""`restrictwatch api`: serve the events topic over HTTP (settings from RW_* variables)."""

from __future__ import annotations

import argparse
from typing import Any

from restrictwatch.streams import logs


def cmd_api(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry, disable_created_metrics
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    from restrictwatch.streams.api.http import run
    from restrictwatch.streams.api.settings import load_api_settings

    overrides: dict[str, Any] = {}
    if args.db is not None:
        overrides["api_db"] = args.db
    if args.host is not None:
        overrides["api_host"] = args.host
    if args.port is not None:
        overrides["api_port"] = args.port
    settings = load_api_settings(**overrides)
    logs.configure(args.loglevel, logs.format_of(args))
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    run(settings, registry)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "api", help="serve the events topic over HTTP from a SQLite copy (read-only)"
    )
    p.add_argument("--db", help="SQLite file (default: RW_API_DB, state/events.sqlite3)")
    p.add_argument("--host", help="address to bind (default: RW_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: RW_API_PORT, 8080)")
    logs.add_arguments(p)
    p.set_defaults(func=cmd_api)
