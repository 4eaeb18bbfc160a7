"""Settings and metrics of the events API."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.streams.api.metrics import ApiMetrics
from restrictwatch.streams.api.settings import load_api_settings
from restrictwatch.streams.api.store import EventStore, RawMessage
from tests.api_events import encoded, incident


def test_defaults_bind_loopback_and_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = load_api_settings()
    assert (s.api_host, s.api_port) == ("127.0.0.1", 8080)
    monkeypatch.setenv("RW_API_PORT", "0")
    with pytest.raises(ConfigError, match="invalid api settings: RW_API_PORT"):
        load_api_settings()
    monkeypatch.setenv("RW_API_PORT", "9000")
    monkeypatch.setenv("RW_API_DB", "/tmp/elsewhere.sqlite3")
    assert load_api_settings().api_port == 9000


def test_rejected_messages_and_open_incidents_are_counted() -> None:
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    store = EventStore(":memory:")
    metrics.watch_store(lambda: store)
    assert registry.get_sample_value("rw_api_rejected_messages_total", {"reason": "json"}) == 0
    values = [b"{oops", *encoded(incident("PK", resolved=False)), b'{"schema": 1}']
    metrics.ingested(store.ingest("t", [RawMessage(0, i, v) for i, v in enumerate(values)]))
    assert registry.get_sample_value("rw_api_rejected_messages_total", {"reason": "json"}) == 1
    assert registry.get_sample_value("rw_api_rejected_messages_total", {"reason": "schema"}) == 1
    assert registry.get_sample_value("rw_api_messages_total", {"outcome": "stored"}) == 2
    assert registry.get_sample_value("rw_api_messages_total", {"outcome": "rejected"}) == 2
    open_pk = {"country": "PK", "kind": "platform_restriction"}
    assert registry.get_sample_value("rw_api_incidents_open", open_pk) == 1
    assert registry.get_sample_value("rw_api_stored_messages") == 2
