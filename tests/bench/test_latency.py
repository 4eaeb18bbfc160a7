"""When a bin's watermark passed, from what was sent and when."""

from __future__ import annotations

import pytest

from bench.latency import interleave, split, watermark_clock
from detectors.records import Sample, decode_sample
from tests.conftest import START, reach, traffic


def sample(raw: bytes) -> Sample:
    decoded = decode_sample(raw, 1 << 20)
    assert isinstance(decoded, Sample)
    return decoded


def test_the_watermark_passes_with_the_last_source_to_close_the_bin() -> None:
    sent = []
    for n in range(10):
        t = START + 300 * n
        sent.append((sample(traffic(t, 100.0)), 1000.0 + n))  # traffic first ...
        sent.append((sample(reach(t, 40, 40)), 1000.5 + n))  # ... probes half a second later
    passed = watermark_clock(sent, lateness=600, silence=3600)
    # the bin ending at START+900 closes at ts START+1500 (n=5) for both sources
    assert passed("PK", START + 900) == 1005.5


def test_a_source_silent_past_the_bin_does_not_hold_it() -> None:
    sent = [(sample(traffic(START + 300 * n, 100.0)), float(n)) for n in range(30)]
    sent += [(sample(reach(START, 40, 40)), 0.1)]  # the probes stop after the first bin
    passed = watermark_clock(sent, lateness=600, silence=3600)
    assert passed("PK", START + 900) == 5.0
    with pytest.raises(ValueError):
        passed("PK", START + 300 * 40)  # nothing closed it: the feed ended


def test_feeds_interleave_in_their_own_order_and_end_together() -> None:
    a = [b"a1", b"a2", b"a3", b"a4"]
    b = [b"b1", b"b2"]
    assert interleave([a, b]) == [b"a1", b"b1", b"a2", b"a3", b"b2", b"a4"]


def test_the_live_part_is_the_last_days_of_event_time() -> None:
    lines = [traffic(START + 86400 * d, 1.0) for d in range(10)]
    warm, live = split(lines, live_days=3)
    assert warm == lines[:6] and live == lines[6:]  # from 3 days before the last record
