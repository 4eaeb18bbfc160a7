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


def test_a_batch_is_closed_before_its_key_and_value_would_pass_its_topics_cap() -> None:
    from restrictwatch.streams.kafka_io import Batcher, batch_bytes

    record = b"x" * 10
    # b"PK" and "[" + 3 records with their "," or "]" take 2 + 1 + 3 * 11 = 36 bytes
    b = Batcher(size=100, bin_seconds=300, caps={"small": 36})
    for n in range(1, 4):
        assert b.add("small", b"PK", 0.0, n, record) == []
        assert b.add("other", b"PK", 0.0, n, record) == []  # no cap named: BATCH_MAX_BYTES
    closed = b.add("small", b"PK", 0.0, 4, record)
    assert closed == [("small", b"PK", [(1, record), (2, record), (3, record)])]
    assert len(b"PK" + batch_bytes(closed[0][2])) == 36
    assert b.add("other", b"PK", 0.0, 4, record) == []
    assert b.flush() == [
        ("small", b"PK", [(4, record)]),
        ("other", b"PK", [(n, record) for n in range(1, 5)]),
    ]


def test_a_record_larger_than_the_cap_goes_alone_and_the_others_keep_their_order() -> None:
    from restrictwatch.streams.kafka_io import Batcher

    b = Batcher(size=100, bin_seconds=300, caps={"t": 30})
    assert b.add("t", b"PK", 0.0, 1, b"a") == []
    assert b.add("t", b"PK", 0.0, 2, b"L" * 50) == [("t", b"PK", [(1, b"a")])]
    assert b.add("t", b"PK", 0.0, 3, b"b") == [("t", b"PK", [(2, b"L" * 50)])]
    assert b.add("t", b"PK", 0.0, 4, b"c") == []
    assert b.flush() == [("t", b"PK", [(3, b"b"), (4, b"c")])]


def test_caps_are_the_smaller_limit_less_the_record_framing_and_default_where_unknown() -> None:
    from restrictwatch.streams.kafka_io import (
        BATCH_MAX_BYTES,
        RECORD_FRAMING_BYTES,
        batch_caps,
        producer_batch_bytes,
    )

    limits: dict[str, int | None] = {"small": 20_000, "default": 1_048_588, "unread": None}
    assert batch_caps(limits, max_request_bytes=1_048_576) == {
        "small": 20_000 - RECORD_FRAMING_BYTES,
        "default": 1_048_576 - RECORD_FRAMING_BYTES,  # the producer's request limit is smaller
        "unread": BATCH_MAX_BYTES,
    }
    assert producer_batch_bytes(limits, 1_048_576) == 20_000
    assert producer_batch_bytes({"unread": None}, 1_048_576) == 256 * 1024  # as before
    assert producer_batch_bytes({"t": 1_048_588}, 100_000) == 100_000


@pytest.mark.parametrize("value_bytes", [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152])
def test_the_framing_is_at_least_what_kafka_python_reserves_for_a_record_batch_of_one(
    value_bytes: int,
) -> None:
    from kafka.record.default_records import DefaultRecordBatchBuilder

    from restrictwatch.streams.kafka_io import RECORD_FRAMING_BYTES

    key, value = b"PK", b"x" * value_bytes
    estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, [])
    assert estimate <= RECORD_FRAMING_BYTES + len(key) + len(value)
    builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 2**31 - 1)
    assert builder.append(0, 1_700_000_000_000, key, value, []) is not None
    assert len(builder.build()) <= RECORD_FRAMING_BYTES + len(key) + len(value)  # as sent


def test_max_message_bytes_is_read_from_a_describe_configs_answer() -> None:
    from restrictwatch.streams.kafka_io import message_limits

    described = {
        "topic": {
            "in.traffic": {"max.message.bytes": {"value": "20000", "config_source": "TOPIC"}},
            "in.reach": {},  # not allowed to describe it, or no such topic: no configs
        }
    }
    assert message_limits(described, ["in.traffic", "in.reach", "in.other"]) == {
        "in.traffic": 20_000,
        "in.reach": None,
        "in.other": None,
    }
    assert message_limits({}, ["in.traffic"]) == {"in.traffic": None}


def test_one_line_names_the_topics_whose_limit_could_not_be_read() -> None:
    from restrictwatch.streams.kafka_io import unknown_limits_line

    assert unknown_limits_line({"a": 20_000, "b": 1_048_588}) is None
    assert unknown_limits_line({"a": None, "b": 1_048_588, "c": None}) == (
        "cannot read max.message.bytes of a, c (no permission to describe topic configs, or no "
        "such topic yet): batches to it are capped at 900000 bytes, which a smaller limit "
        "refuses whole"
    )
    assert "(ClusterAuthorizationFailedError)" in (
        unknown_limits_line({"a": None}, "ClusterAuthorizationFailedError") or ""
    )


def test_per_line_usable_records_are_batched_and_the_rest_go_alone_at_once() -> None:
    from restrictwatch.streams.kafka_io import Batcher, messages_per_line

    a, b = traffic(START, 1.0, country="PK"), traffic(START + 60, 2.0, country="PK")
    later = traffic(START + 300, 3.0, country="PK")
    already = b"[" + a + b"]"
    out = list(
        messages_per_line(SETTINGS, [a, b"{bad\n", already, b, later], Batcher(10, 300), 65536)
    )
    assert out == [
        (START, []),
        (None, [("in.traffic", None, [(2, b"{bad")])]),  # its newline cut off
        (START, [("in.traffic", b"PK", [(3, already)])]),  # a batch already: alone
        (START + 60, []),
        (START + 300, [("in.traffic", b"PK", [(1, a), (4, b)])]),  # the next bin closes it
    ]
    alone = list(messages_per_line(SETTINGS, [a, b], Batcher(1, 300), 65536))
    assert [messages for _, messages in alone] == [
        [("in.traffic", b"PK", [(1, a)])],
        [("in.traffic", b"PK", [(2, b)])],
    ]
