from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from restrictwatch.detectors.config import Config, parse_config
from restrictwatch.detectors.pipeline import Pipeline
from tests.conftest import START, diurnal, reach, traffic

DAY = 86400


def feed(
    pipeline: Pipeline, lines: Iterator[bytes], allow: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for raw in lines:
        out = pipeline.process(raw)
        assert out.rejection is None or out.rejection.error_type in allow, out.rejection
        events += out.events
    return events


def country(
    days: float,
    platform_x: Callable[[float], float | None],
    make_stream: Callable[..., Iterator[bytes]],
) -> Iterator[bytes]:
    return make_stream(
        days,
        {
            "total": lambda t: diurnal(t, 100_000),
            "platform:x": platform_x,
            "platform:youtube": lambda t: diurnal(t, 20_000),
        },
    )


def test_a_block_of_weeks_stays_one_open_event(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    block = START + 10 * DAY

    def x(t: float) -> float:
        return diurnal(t, 2_000) * (0.2 if t >= block else 1.0)

    events = feed(Pipeline(config), country(10 + 28, x, make_stream))
    assert [(e["status"], e["kind"], e["platforms"]) for e in events] == [
        ("open", "platform_restriction", ["x"])
    ]
    assert events[0]["started_at"] == "2023-11-25T00:00:00Z"


def test_a_silent_source_raises_no_event(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    gap = (START + 9 * DAY, START + 11 * DAY)

    def x(t: float) -> float | None:
        return None if gap[0] <= t < gap[1] else diurnal(t, 2_000)

    def total(t: float) -> float | None:
        return None if gap[0] <= t < gap[1] else diurnal(t, 100_000)

    lines = make_stream(14, {"total": total, "platform:x": x, "platform:youtube": x})
    p = Pipeline(config)
    # After two days of silence the feed's jump ahead is accepted once three series agree.
    assert feed(p, lines, allow=("future",)) == []
    assert dict(p.totals().rejected) == {"future": 2}


def gaps(base: float, *spans: tuple[float, float]) -> Callable[[float], float | None]:
    """A diurnal series that sends nothing inside the given (start, end) day offsets."""

    def value(t: float) -> float | None:
        day = (t - START) / DAY
        return None if any(a <= day < b for a, b in spans) else diurnal(t, base)

    return value


def test_a_lone_series_keeps_every_record_across_long_pauses(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    # A platform-only feed with a month-end gap of 26 h, and later one of 3 days.
    x = gaps(2_000, (3, 3 + 26 / 24), (6, 9))
    lines = list(make_stream(11, {"platform:x": x}))
    p = Pipeline(config)
    feed(p, iter(lines))
    assert p.accepted == len(lines) and not p.totals().rejected


def test_two_series_pausing_together_lose_only_the_record_that_waits_for_the_other(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    pause = gaps(2_000, (3, 5))
    lines = list(make_stream(7, {"platform:x": pause, "platform:youtube": pause}))
    p = Pipeline(config)
    rejected = [
        (orjson.loads(raw)["ts"], out.rejection.error_type)
        for raw in lines
        if (out := p.process(raw)).rejection is not None
    ]
    # The first record after the pause waits for the other series; the rest are kept.
    assert rejected == [(START + 5 * DAY, "future")]
    assert p.accepted == len(lines) - 1


def test_a_series_long_gone_does_not_make_a_survivor_wait(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    youtube = gaps(20_000, (2, 99))
    x = gaps(2_000, (5, 5 + 26 / 24))
    lines = list(make_stream(8, {"platform:x": x, "platform:youtube": youtube, "asn:1": youtube}))
    p = Pipeline(config)
    feed(p, iter(lines))
    assert p.accepted == len(lines) and not p.totals().rejected


def test_one_bogus_far_future_record_among_live_series_closes_no_bin(config: Config) -> None:
    names = [{}, {"platform": "x"}, {"platform": "youtube"}, {"asn": 1}]
    p = Pipeline(config)
    t = START
    while t < START + DAY:
        for extra in names:
            assert p.process(traffic(t, 1000.0, **extra)).rejection is None
        t += 300
    monitor = p._monitors["PK"]
    frontier, closed = p._frontier, monitor.sources["edge-cdn"].closed_until
    for bogus in (
        traffic(t + 3 * DAY, 1000.0, platform="x"),  # a live series
        traffic(t + 3 * DAY, 1000.0, platform="signal"),  # a new one
    ):
        out = p.process(bogus)
        assert out.rejection is not None and out.rejection.error_type == "future"
    assert (p._frontier, monitor.sources["edge-cdn"].closed_until) == (frontier, closed)
    evaluated = monitor.stats.bins_evaluated
    while t < START + DAY + 7200:
        for extra in names:
            assert p.process(traffic(t, 1000.0, **extra)).rejection is None
        # One series whose clock runs two days ahead stays rejected, record after record.
        skewed = p.process(traffic(t + 2 * DAY, 1000.0, platform="telegram")).rejection
        assert skewed is not None and skewed.error_type == "future"
        t += 300
    assert monitor.stats.bins_evaluated > evaluated and monitor.stats.verdicts_too_late == 0


def test_the_wall_clock_still_bounds_a_lone_series(config: Config) -> None:
    p = Pipeline(config)
    assert p.process(traffic(START, 10, platform="x")).rejection is None
    ahead = p.process(traffic(START + 3 * DAY, 10, platform="x"), now=START + DAY).rejection
    assert ahead is not None and ahead.error_type == "future" and "wall clock" in ahead.reason
    assert (
        p.process(traffic(START + 3 * DAY, 10, platform="x"), now=START + 3 * DAY).rejection is None
    )


def test_one_series_silent_while_others_report_raises_no_event(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    def x(t: float) -> float | None:
        return None if t >= START + 8 * DAY else diurnal(t, 2_000)

    assert feed(Pipeline(config), country(12, x, make_stream)) == []


def test_replay_is_deterministic(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    def x(t: float) -> float:
        return diurnal(t, 2_000) * (0.1 if START + 8 * DAY <= t < START + 8.3 * DAY else 1.0)

    a = feed(Pipeline(config), country(9, x, make_stream))
    b = feed(Pipeline(config), country(9, x, make_stream))
    assert a == b and [e["status"] for e in a] == ["open", "resolved"]


def test_late_duplicate_and_future_records_are_rejected(config: Config) -> None:
    p = Pipeline(config)
    assert p.process(traffic(START, 10)).rejection is None
    dup = p.process(traffic(START, 10)).rejection
    assert dup is not None and dup.error_type == "duplicate"
    assert p.process(traffic(START + 3600, 10)).rejection is None  # moves the watermark past START
    late = p.process(traffic(START, 11)).rejection
    assert late is not None and late.error_type == "late" and "lateness" in late.reason
    # within the allowance: bin START+3000 is still open (watermark = 3600 - 600)
    assert p.process(traffic(START + 3000, 11, platform="x")).rejection is None
    future = p.process(traffic(START + 3 * DAY, 10)).rejection
    assert future is not None and future.error_type == "future"
    wall = p.process(traffic(START + 7200, 10), now=START).rejection
    assert wall is None
    wall_future = p.process(traffic(START + 2 * DAY, 10), now=START).rejection
    assert wall_future is not None and "wall clock" in wall_future.reason
    assert dict(p.totals().rejected) == {"duplicate": 1, "late": 1, "future": 2}


def test_reconfigure_keeps_learned_state(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    p = Pipeline(config)
    feed(p, country(5, lambda t: diurnal(t, 2_000), make_stream))
    series_before = p.totals().series
    stricter = parse_config({"version": "stricter", "thresholds": {"min_sigmas": 5}})
    p.reconfigure(stricter)
    monitor = p._monitors["PK"]
    assert p.totals().series == series_before
    assert all(s.thresholds.min_sigmas == 5 for s in monitor.series.values())
    assert monitor.book is not None and monitor.evaluated_until is not None


def test_monitor_state_round_trips(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    block = START + 6 * DAY

    def x(t: float) -> float:
        return diurnal(t, 2_000) * (0.1 if block <= t < block + DAY / 4 else 1.0)

    lines = list(country(7, x, make_stream))
    half = len(lines) // 2 + 5000  # inside the block
    straight = feed(Pipeline(config), iter(lines))

    first = Pipeline(config)
    events = feed(first, iter(lines[:half]))
    resumed = Pipeline(config)
    resumed.restore("PK", first.snapshot("PK") or b"")
    events += feed(resumed, iter(lines[half:]))
    assert events == straight


def test_probes_alone_can_show_a_block(config: Config) -> None:
    p = Pipeline(config)
    events: list[dict[str, Any]] = []
    t = START
    while t < START + 3 * DAY:
        blocked = t >= START + 2 * DAY
        for asn in (1, 2):
            ok = 2 if blocked else 39
            failures = {"dns": 38} if blocked else {"timeout": 1}
            out = p.process(reach(t, 40, ok, platform="x", asn=asn, failures=failures))
            events += out.events
        t += 300
    assert [(e["status"], e["kind"], e["method"]) for e in events] == [
        ("open", "platform_restriction", "dns")
    ]


def test_silent_probes_during_an_outage_are_said_in_the_evidence(config: Config) -> None:
    from restrictwatch.detectors.simulation.render import render
    from restrictwatch.detectors.simulation.scenarios import scenario
    from restrictwatch.streams.replay import replay

    rendered = render(scenario("ir-national-shutdown"), 1)
    events = replay(rendered.lines, config).events
    assert [(e["kind"], e["status"]) for e in events] == [
        ("network_outage", "open"),
        ("network_outage", "resolved"),
    ]
    notes = [ev for ev in events[0]["evidence"] if ev.get("note")]
    assert notes and all(n["signal"] == "reachability" and n["observed"] is None for n in notes)
    assert all("cannot report" in n["note"] for n in notes)
    assert events[-1]["evidence"] == events[0]["evidence"] or notes[0] in events[-1]["evidence"]


def test_an_outage_that_ramps_in_is_dated_from_where_the_signal_left_its_normal_band(
    config: Config, make_stream: Callable[..., Iterator[bytes]]
) -> None:
    """A power cut spreading over an hour: the total falls 6 % a bin and crosses the outage
    threshold 45 minutes in. The event starts where the first bin lay `recovered_drop`
    and `hold_factor` x `min_sigmas` below expectation (the band an open outage must regain to
    end), not where the threshold was crossed."""
    cut = START + 8 * DAY + 12 * 3600

    def factor(t: float) -> float:
        if t == cut - 1800:
            return 0.8  # a lone dip half an hour before, back in the band at once: not the start
        if t < cut:
            return 1.0
        return max(0.2, 1.0 - 0.06 * ((t - cut) // 300 + 1))  # 0.94, 0.88, ... 0.2

    events = feed(
        Pipeline(config),
        make_stream(8.75, {"total": lambda t: diurnal(t, 100_000) * factor(t)}),
    )
    opened = [e for e in events if e["status"] == "open"]
    assert [(e["kind"], e["asns"], e["platforms"]) for e in opened] == [("network_outage", [], [])]
    # Bin 3 of the ramp (0.82 of expected) is the first below the band; bin 10 (0.40), the
    # first past the outage threshold, is where the event started before.
    assert opened[0]["started_at"] == "2023-11-23T12:10:00Z"
