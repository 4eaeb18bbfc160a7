"""Settings of `restrictwatch api`: the worker's Kafka settings plus where to keep and serve events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from restrictwatch.streams.settings import WorkerSettings, load_settings_as


class ApiSettings(WorkerSettings):
    api_db: Path = Field(
        default=Path("state/events.sqlite3"), description="SQLite file holding the events"
    )
    api_host: str = Field(default="127.0.0.1", description="0.0.0.0 to serve other machines")
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_page_size: int = Field(default=100, ge=1, le=10000, description="default page size")
    api_max_page_size: int = Field(default=1000, ge=1, le=10000)
    api_max_range_days: float = Field(
        default=366, gt=0, description="longest since..until window one query may ask for"
    )
    api_default_range_days: float = Field(
        default=30, gt=0, description="window when a query gives neither since nor until"
    )
    api_feed_entries: int = Field(default=50, ge=1, le=1000)
    api_poll_records: int = Field(
        default=500, ge=1, le=100000, description="most messages stored in one transaction"
    )


def load_api_settings(**overrides: Any) -> ApiSettings:
    return load_settings_as(ApiSettings, "api", **overrides)
