"""When a bin's watermark passed, from what was sent and when."""

from __future__ import annotations

import orjson

from bench.latency import epoch, interleave, split, triggers
from restrictwatch.detectors.config import Config
from restrictwatch.detectors.pipeline import Pipeline
from tests.conftest import START, traffic
from tests.streams.test_handler import incident_lines


def test_each_live_event_is_triggered_by_a_record_past_its_bins_watermark(config: Config) -> None:
    lines = incident_lines(days=9, block_day=8)  # platform x blocked for 6 h on day 8
    warm, live = lines[: 3 * 288 * 7], lines[3 * 288 * 7 :]  # the last two days live
    trigger = triggers(warm, live, config)
    pipeline = Pipeline(config)
    emitted = {(e["event_id"], e["seq"]): e for raw in lines for e in pipeline.process(raw).events}
    assert {seq for _, seq in trigger} >= {0, 1}  # the incident opens and goes on live
    for key, i in trigger.items():
        bin_end = epoch(emitted[key]["emitted_at"])
        # every source reports every 5 minutes: the first record a lateness past the bin's end
        assert epoch(orjson.loads(live[i])["ts"]) == bin_end + config.lateness_seconds


def test_feeds_interleave_in_their_own_order_and_end_together() -> None:
    a = [b"a1", b"a2", b"a3", b"a4"]
    b = [b"b1", b"b2"]
    assert interleave([a, b]) == [b"a1", b"b1", b"a2", b"a3", b"b2", b"a4"]


def test_the_live_part_is_the_last_days_of_event_time() -> None:
    lines = [traffic(START + 86400 * d, 1.0) for d in range(10)]
    warm, live = split(lines, live_days=3)
    assert warm == lines[:6] and live == lines[6:]  # from 3 days before the last record


def test_records_go_as_produce_sends_them_each_message_due_with_the_line_that_closes_it(
    config: Config,
) -> None:
    from bench.latency import carriers, in_send_order, plan
    from restrictwatch.streams.settings import WorkerSettings

    settings = WorkerSettings()
    pk = [traffic(START + 60 * i, 1.0, country="PK") for i in range(7)]  # bins of 5 records
    ir = [traffic(START + 60 * i, 2.0, country="IR") for i in range(7)]
    lines = [line for pair in zip(pk, ir, strict=True) for line in pair]
    messages = plan(settings, lines, 3, config)
    assert [(m.due, m.key, m.records) for m in messages] == [
        (6, b"PK", [0, 2, 4]),  # full at 3: the next record of PK opens the next one
        (7, b"IR", [1, 3, 5]),
        (10, b"PK", [6, 8]),  # the next bin's first record of PK closes it
        (11, b"IR", [7, 9]),
        (13, b"PK", [10, 12]),  # what is open at the end goes with the last line
        (13, b"IR", [11, 13]),
    ]
    assert messages[0].value == b"[" + b",".join([pk[0], pk[1], pk[2]]) + b"]"
    sent = in_send_order(lines, messages)
    assert sorted(sent) == sorted(lines) and [r for r in sent if b'"PK"' in r] == pk
    assert carriers(messages) == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert all(m.due >= max(m.records) for m in messages)  # never before its records are read
    alone = plan(settings, lines, 1, config)
    assert [(m.due, m.records, m.value) for m in alone] == [
        (i, [i], line) for i, line in enumerate(lines)
    ]


def test_committed_offsets_count_the_records_of_the_messages_before_them(config: Config) -> None:
    from kafka import TopicPartition

    from bench.latency import Sent, plan, record_prefix
    from bench.worker_perf import records_before
    from restrictwatch.streams.settings import WorkerSettings

    lines = [traffic(START + 60 * i, 1.0) for i in range(12)]  # 3 bins, PK only
    messages = plan(WorkerSettings(), lines, 4, config)
    assert [len(m.records) for m in messages] == [4, 1, 4, 1, 2]
    tp = TopicPartition("rw.traffic.v1", 3)
    warm, live = messages[:2], messages[2:]
    prefix = record_prefix(
        [
            (warm, Sent([0.0, 0.0], [(tp, 0), (tp, 1)], 1.0)),
            (live, Sent([0.0] * 3, [(tp, 2), (tp, 3), (tp, 4)], 1.0)),
        ]
    )
    assert prefix == {tp: [0, 4, 5, 9, 10, 12]}
    assert records_before(prefix, {tp: 3}) == 9  # offsets 0, 1 and 2 committed


def test_in_batches_each_live_event_is_still_triggered_a_lateness_past_its_bin(
    config: Config,
) -> None:
    from bench.latency import in_send_order, plan
    from restrictwatch.streams.settings import WorkerSettings

    lines = incident_lines(days=9, block_day=8)
    warm, live = lines[: 3 * 288 * 7], lines[3 * 288 * 7 :]
    settings = WorkerSettings()
    warm_messages, live_messages = (
        plan(settings, warm, 100, config),
        plan(settings, live, 100, config),
    )
    assert max(len(m.records) for m in live_messages) > 1  # batches, not one record each
    sent = in_send_order(live, live_messages)
    trigger = triggers(in_send_order(warm, warm_messages), sent, config)
    pipeline = Pipeline(config)
    emitted = {(e["event_id"], e["seq"]): e for raw in lines for e in pipeline.process(raw).events}
    assert {seq for _, seq in trigger} >= {0, 1}  # the incident opens and goes on live
    for key, i in trigger.items():
        bin_end = epoch(emitted[key]["emitted_at"])
        assert epoch(orjson.loads(sent[i])["ts"]) == bin_end + config.lateness_seconds
