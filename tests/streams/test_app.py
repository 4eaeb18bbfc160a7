"""The Faust wiring, without a broker: raw bytes everywhere, state co-partitioned with the inputs."""

from __future__ import annotations

from typing import Any

from faust.types.enums import ProcessingGuarantee

from restrictwatch.streams.app import STATE_TABLE, create_app
from restrictwatch.streams.handler import Checkpoint
from restrictwatch.streams.settings import load_settings


def test_the_agent_reads_both_inputs_as_raw_bytes_one_record_at_a_time() -> None:
    app = create_app(load_settings(store="memory://", app_id="rw-unit", partitions=6))
    (agent,) = app.agents.values()
    channel = agent.channel
    assert channel.topics == ("rw.traffic.v1", "rw.reachability.v1")
    assert (channel.key_serializer, channel.value_serializer) == ("raw", "raw")
    assert agent.concurrency == 1  # faust-streaming #606
    guarantee: object = app.conf.processing_guarantee
    assert guarantee == ProcessingGuarantee.AT_LEAST_ONCE
    # Records wait for their checkpoint to be acknowledged: a stop must not wait for those acks.
    assert app.conf.stream_wait_empty is False


def test_state_table_is_raw_and_follows_the_partition_of_the_records() -> None:
    app = create_app(load_settings(store="memory://", app_id="rw-unit", partitions=6))
    table: Any = app.tables[STATE_TABLE]  # faust's CollectionT leaves out what is checked here
    assert (table.key_serializer, table.value_serializer) == ("raw", "raw")
    assert table.changelog_topic.get_topic_name() == "rw-unit-rw-country-state-changelog"
    assert table.partitions == 6
    assert not table.use_partitioner  # the current event's partition, whatever the producer did
    # A checkpoint (zlib, not UTF-8) goes through the store unchanged: once, JSON decoding of
    # restored state crashed a restarted worker.
    data = Checkpoint({("rw.traffic.v1", 0): (9, 0)}, b"\x80\x05monitor").encode()
    store = table._new_store()
    assert store._decode_value(store._encode_value(data)) == data


def test_the_handler_is_reachable_for_metrics() -> None:
    app = create_app(load_settings(store="memory://", app_id="rw-unit"))
    handler = app.rw_handler  # type: ignore[attr-defined]
    assert handler.topics == ("rw.traffic.v1", "rw.reachability.v1")
    assert handler.pipeline.countries() == []


def test_one_log_line_per_event_message(caplog: Any) -> None:
    from restrictwatch.streams.app import log_event

    event = {
        "event_id": "rw-PK-20231217T1500Z-0e338062",
        "seq": 1,
        "status": "resolved",
        "kind": "platform_restriction",
        "country": "PK",
        "summary": "X restricted in Pakistan (PK) for ~7 h",
    }
    with caplog.at_level("INFO", logger="restrictwatch.worker"):
        log_event(event)
    (record,) = caplog.records
    assert record.getMessage() == (
        "event resolved: rw-PK-20231217T1500Z-0e338062 platform_restriction PK: "
        "X restricted in Pakistan (PK) for ~7 h"
    )
    fields = {k: getattr(record, k) for k in ("event_id", "seq", "status", "kind", "country")}
    assert fields == {k: event[k] for k in fields}


def test_the_assignment_line_names_partitions_by_topic() -> None:
    from faust.types import TP

    from restrictwatch.streams.app import Readiness, one_line

    readiness = Readiness()
    assert readiness.partitions() == ""
    readiness.assigned = {TP("rw.traffic.v1", 2), TP("rw.traffic.v1", 0), TP("rw.reach", 1)}
    assert readiness.partitions() == "rw.reach[1] rw.traffic.v1[0,2]"
    assert one_line("a.yaml: invalid configuration\n  x.y: bad\n\n  z: worse\n") == (
        "a.yaml: invalid configuration; x.y: bad; z: worse"
    )
