"""The vocabulary's enums and the schemas list the same words."""

from __future__ import annotations

from restrictwatch.detectors.schemas import load_schema
from restrictwatch.detectors.vocabulary import Kind, Signal, Status


def test_kinds_and_statuses_are_the_event_schema_s() -> None:
    props = load_schema("event.v1")["properties"]
    assert props["kind"]["enum"] == [k.value for k in Kind]
    assert props["status"]["enum"] == [s.value for s in Status]


def test_signals_are_the_record_schemas() -> None:
    assert [load_schema(f"{s.value}.v1")["properties"]["signal"]["const"] for s in Signal] == [
        s.value for s in Signal
    ]
