"""The Kafka command-line tools without a broker: routing, pacing, current incidents, arguments."""

from __future__ import annotations

from typing import Any

import pytest

from restrictwatch.streams.cli import build_parser
from restrictwatch.streams.kafka_io import (
    KafkaToolError,
    Pacer,
    Produced,
    connect,
    current_incidents,
    event_of,
    route,
)
from restrictwatch.streams.settings import WorkerSettings
from tests.conftest import START, reach, traffic

SETTINGS = WorkerSettings(traffic_topic="in.traffic", reachability_topic="in.reach")


def test_records_are_routed_by_signal_and_keyed_by_country() -> None:
    assert route(SETTINGS, traffic(START, 1.0, country="IR")) == ("in.traffic", b"IR", START)
    assert route(SETTINGS, reach(START, 40, 39, country="PK")) == ("in.reach", b"PK", START)
    rfc3339 = b'{"signal": "reachability", "country": "TR", "ts": "2023-11-15T00:05:00+00:00"}'
    assert route(SETTINGS, rfc3339) == ("in.reach", b"TR", START + 300)


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"", b"[1, 2]", b'"PK"', b"\xff\xfe", b'{"signal": "traffic", "country": 7}'],
)
def test_what_cannot_be_routed_goes_unkeyed_to_traffic_for_the_worker_to_dead_letter(
    raw: bytes,
) -> None:
    topic, key, _ = route(SETTINGS, raw)
    assert (topic, key) == ("in.traffic", None)


def test_an_unknown_signal_goes_to_traffic_and_a_bad_ts_is_not_paced() -> None:
    raw = b'{"signal": "dns", "country": "PK", "ts": "yesterday"}'
    assert route(SETTINGS, raw) == ("in.traffic", b"PK", None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_speedup_paces_records_at_a_multiple_of_their_event_time() -> None:
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    for ts in (START, START + 300, START + 300, START + 600, None, START + 1200):
        pacer.wait_for(ts)
    assert clock.slept == [0.5, 0.5, 1.0]  # 5 min of data per 0.5 s; no wait for equal ts


def test_pacing_does_not_wait_for_time_already_spent() -> None:
    clock = FakeClock()
    pacer = Pacer(60, clock=clock, sleep=clock.sleep)
    pacer.wait_for(START)
    clock.now += 7  # sending took longer than the 5 s the next record is due after
    pacer.wait_for(START + 300)
    pacer.wait_for(START + 600)
    assert clock.slept == [3.0]


def test_without_speedup_nothing_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(None, clock=clock, sleep=clock.sleep)
    for ts in (START, START + 86400):
        pacer.wait_for(ts)
    assert clock.slept == []


def message(event_id: str, seq: int, status: str) -> dict[str, Any]:
    return {"event_id": event_id, "seq": seq, "status": status}


def test_current_incidents_are_the_latest_message_of_each_unresolved_one() -> None:
    events = [
        message("rw-PK-1", 0, "open"),
        message("rw-IR-1", 0, "open"),
        message("rw-PK-1", 1, "update"),
        message("rw-IR-1", 1, "resolved"),
        message("rw-TR-1", 0, "open"),
        message("rw-PK-1", 1, "update"),  # re-emitted after a restart
    ]
    assert current_incidents(events) == [
        message("rw-PK-1", 1, "update"),
        message("rw-TR-1", 0, "open"),
    ]
    assert current_incidents([]) == []


def test_the_kafka_commands_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["produce", "pk.jsonl", "--speedup", "600"])
    assert (args.input, args.speedup) == ("pk.jsonl", 600.0)
    assert parser.parse_args(["produce", "-"]).speedup is None
    args = parser.parse_args(["tail", "--current", "--idle", "2"])
    assert (args.current, args.follow, args.idle) == (True, False, 2.0)
    assert parser.parse_args(["topics", "create"]).action == "create"
    assert parser.parse_args(["worker"]).loglevel == "info"


@pytest.mark.parametrize("value", [b"not json", b"\xff\xfe", b"[1, 2]", b'"open"', b"", None])
def test_a_record_that_is_not_an_event_message_is_none(value: bytes | None) -> None:
    assert event_of(value) is None


def test_an_event_message_is_its_json_object() -> None:
    assert event_of(b'{"event_id": "rw-PK-a", "seq": 0}') == {"event_id": "rw-PK-a", "seq": 0}


def test_deadletters_filters_by_reason_code_and_source_topic() -> None:
    args = build_parser().parse_args(
        ["deadletters", "--reason", "json", "--reason", "schema", "--source-topic", "a"]
    )
    assert (args.reason, args.source_topic, args.follow, args.json) == (
        ["json", "schema"],
        ["a"],
        False,
        False,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["deadletters", "--reason", "no-such-code"])


class FlakyBroker:
    """A client factory that fails `failures` times as kafka-python does with no broker."""

    def __init__(self, clock: FakeClock, failures: int, error: Exception | None = None) -> None:
        self.clock = clock
        self.failures = failures
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **options: Any) -> str:
        from kafka.errors import KafkaTimeoutError

        self.calls.append(options)
        if self.error is not None:
            raise self.error
        if len(self.calls) <= self.failures:
            self.clock.now += options["bootstrap_timeout_ms"] / 1000  # bootstrap waits it out
            raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:1']")
        return "client"


def test_connect_retries_with_backoff_and_says_one_line_per_failed_try() -> None:
    clock = FakeClock()
    broker = FlakyBroker(clock, failures=3)
    said: list[str] = []
    settings = WorkerSettings(bootstrap_servers="127.0.0.1:1", connect_timeout_seconds=60)
    assert connect(settings, broker, said.append, clock, clock.sleep) == "client"
    assert clock.slept == [1.0, 2.0, 4.0]
    assert [c["bootstrap_timeout_ms"] for c in broker.calls] == [1000, 2000, 4000, 5000]
    assert broker.calls[0]["bootstrap_servers"] == ["127.0.0.1:1"]
    assert len(said) == 3
    assert said[0] == (
        "Kafka at 127.0.0.1:1 not reachable (try 1: KafkaTimeoutError: Unable to bootstrap "
        "from ['127.0.0.1:1']); next try in 1.0 s"
    )


def test_connect_gives_up_after_the_configured_time_with_one_error() -> None:
    clock = FakeClock()
    broker = FlakyBroker(clock, failures=1000)
    said: list[str] = []
    settings = WorkerSettings(bootstrap_servers="127.0.0.1:1", connect_timeout_seconds=100)
    with pytest.raises(KafkaToolError) as caught:
        connect(settings, broker, said.append, clock, clock.sleep)
    assert str(caught.value).startswith(
        f"cannot reach Kafka at 127.0.0.1:1 (gave up after {len(broker.calls)} tries in 100 s"
    )
    assert clock.now - 100.0 <= 100 + 5  # never more than one try past the deadline
    assert max(clock.slept) == 15.0  # the backoff is capped
    assert len(said) == len(broker.calls) - 1


def test_connect_does_not_retry_what_waiting_cannot_mend() -> None:
    from kafka.errors import KafkaConfigurationError

    clock = FakeClock()
    broker = FlakyBroker(clock, failures=0, error=KafkaConfigurationError("bad ssl_cafile"))
    with pytest.raises(KafkaToolError, match=r"cannot use Kafka at 127\.0\.0\.1:9092: "):
        connect(WorkerSettings(), broker, [].append, clock, clock.sleep)
    assert len(broker.calls) == 1 and clock.slept == []


def test_a_zero_connect_timeout_tries_once() -> None:
    clock = FakeClock()
    broker = FlakyBroker(clock, failures=5)
    with pytest.raises(KafkaToolError, match=r"gave up after 1 try in 0 s"):
        connect(WorkerSettings(connect_timeout_seconds=0), broker, [].append, clock, clock.sleep)


def test_the_produce_summary_names_the_lines_skipped_as_too_large() -> None:
    assert Produced(5).summary() == "sent 5 records"
    assert Produced(3, [(9, 2_000_000), (2, 300)]).summary() == (
        "sent 3 records; skipped 2 too large for the broker (MessageSizeTooLargeError): "
        "line 2 (300 bytes), 9 (2000000 bytes)"
    )
    many = Produced(0, [(n, 10) for n in range(1, 13)]).summary()
    assert many.endswith(
        "line 1 (10 bytes), 2 (10 bytes), 3 (10 bytes), 4 (10 bytes), 5 (10 bytes), 6 (10 bytes), 7 (10 bytes), 8 (10 bytes), 9 (10 bytes), 10 (10 bytes) and 2 more"
    )


def test_records_are_batched_per_topic_country_and_bin_in_their_order() -> None:
    from restrictwatch.streams.kafka_io import Batcher, batch_bytes

    b = Batcher(size=3, bin_seconds=300)
    assert b.add("t", b"PK", 0.0, 1, b"a") == []
    assert b.add("t", b"IR", 10.0, 2, b"x") == []  # another country: its own batch
    assert b.add("t", b"PK", 60.0, 3, b"b") == []
    assert b.add("t", b"PK", 299.0, 4, b"c") == []
    assert b.add("t", b"PK", 299.0, 5, b"d") == [("t", b"PK", [(1, b"a"), (3, b"b"), (4, b"c")])]
    assert b.add("t", b"PK", 300.0, 6, b"e") == [("t", b"PK", [(5, b"d")])]  # the next bin
    assert b.flush() == [("t", b"PK", [(6, b"e")]), ("t", b"IR", [(2, b"x")])]
    assert batch_bytes([(1, b"{}"), (2, b"{}")]) == b"[{},{}]"
    assert batch_bytes([(1, b"{}")]) == b"{}"  # a batch of one goes out as the record
