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
