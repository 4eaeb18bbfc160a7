from __future__ import annotations

import base64
import io
import itertools
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.config import Config, load_config
from restrictwatch.detectors.schemas import validator
from restrictwatch.detectors.simulation.render import side_by_side
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.parallel_replay import (
    Merge,
    Processes,
    ReplayProcessError,
    Worker,
    destination,
    every_core,
    replay_in_processes,
    spread,
)
from restrictwatch.streams.replay import ReplayResult, replay, summary_table
from tests.catalogue import good_stream, stateless, with_bad_records
from tests.conftest import START, traffic


def test_catalogue_is_large_enough() -> None:
    assert len(stateless(0)) + 3 >= 25
    assert len({b.name for b in stateless(0)}) == len(stateless(0))


def test_every_bad_record_is_dead_lettered_with_its_reason_and_nothing_else_changes(
    config: Config,
) -> None:
    good = good_stream()
    mixed, bad = with_bad_records(good)
    clean = replay(good, config)
    dead = io.BytesIO()
    dirty = replay(mixed, config, dead_out=dead)
    letters = [orjson.loads(line) for line in dead.getvalue().splitlines()]
    assert [(d["error_type"]) for d in letters] == [b.error_type for b in bad], [
        (b.name, d["reason"]) for b, d in zip(bad, letters, strict=False)
    ]
    for b, d in zip(bad, letters, strict=True):
        assert d["reason"], b.name
        import base64

        assert base64.b64decode(d["original_b64"]) == b.raw
    assert clean.events and dirty.events == clean.events
    assert [e["status"] for e in clean.events] == ["open", "resolved"]
    assert dirty.pipeline is not None and sum(dirty.pipeline.totals().rejected.values()) == len(bad)


def test_a_batch_line_is_replayed_record_by_record_and_a_bad_record_says_its_index() -> None:
    good = [traffic(START + i * 300, 1000.0) for i in range(3)]
    bad = good[0].replace(b'"PK"', b'"XX"')
    line = b"[" + b",".join([good[0], bad, good[1], good[2]]) + b"]"
    dead = io.BytesIO()
    result = replay([line], load_config(), dead_out=dead)
    (letter,) = [orjson.loads(x) for x in dead.getvalue().splitlines()]
    assert (letter["error_type"], letter["index"], letter["line"]) == ("unknown_country", 1, 1)
    assert letter["original"].encode() == line  # the whole message, and which record of it
    validator("deadletter.v1")(letter)
    assert result.pipeline is not None and result.pipeline.totals().accepted == 3


# in several processes ---------------------------------------------------------------------

FEED = (
    "tr-nationwide-throttling-hourly",
    "ng-network-throttling-hourly",
    "iq-exam-shutdowns-hourly",
)


@dataclass
class Replayed:
    events: bytes
    dead: bytes
    result: ReplayResult


def replayed(lines: list[bytes], config: Config, workers: int) -> Replayed:
    """A replay's files and result: in one process (`replay`) for 1, else in processes."""
    events, dead = io.BytesIO(), io.BytesIO()
    if workers == 1:
        result = replay(lines, config, events, dead)
    else:
        result = replay_in_processes(lines, config, workers, events, dead)
    return Replayed(events.getvalue(), dead.getvalue(), result)


def assert_same_replay(one: Replayed, many: Replayed) -> None:
    """Byte for byte the same files, and the same counts in the summary."""
    assert many.events == one.events
    assert many.dead == one.dead
    a, b = one.result, many.result
    assert (b.lines, b.dead_letters, b.event_count) == (a.lines, a.dead_letters, a.event_count)
    assert b.core_totals() == a.core_totals()
    assert list(b.latest.items()) == list(a.latest.items())
    assert _without_elapsed(summary_table(b)) == _without_elapsed(summary_table(a))


def _without_elapsed(table: str) -> list[str]:
    return [line for line in table.splitlines() if not line.startswith("elapsed")]


@pytest.fixture(scope="module")
def feed() -> list[bytes]:
    return side_by_side([scenario(name) for name in FEED]).lines


@pytest.fixture(scope="module")
def feed_in_one(feed: list[bytes]) -> Replayed:
    return replayed(feed, load_config(), 1)


@pytest.mark.parametrize("workers", [2, 3])
def test_processes_write_one_process_s_files_on_a_feed_of_countries(
    feed: list[bytes], feed_in_one: Replayed, workers: int
) -> None:
    many = replayed(feed, load_config(), workers)
    assert feed_in_one.result.event_count > 20  # something to compare: the feed's incidents
    assert_same_replay(feed_in_one, many)
    assert many.result.judged_apart == 0
    assert many.result.core_totals().countries == len(FEED)


def two_countries() -> list[bytes]:
    """The catalogue's good stream, for Pakistan and for Kenya, side by side."""
    pk = good_stream()
    return [line for p in pk for line in (p, p.replace(b'"PK"', b'"KE"'))]


def test_processes_write_one_process_s_files_with_the_bad_record_catalogue_mixed_in(
    config: Config,
) -> None:
    mixed, bad = with_bad_records(two_countries())
    one = replayed(mixed, config, 1)
    many = replayed(mixed, config, 2)
    assert one.result.dead_letters == len(bad)
    assert_same_replay(one, many)
    # The two records years and days ahead of everything are the far-future guard's: counted.
    assert many.result.judged_apart == 2


def batched(lines: list[bytes]) -> list[bytes]:
    """Each country's records of one time as one batch line, as a collector would send them."""

    def country_and_time(line: bytes) -> tuple[str, str]:
        doc = orjson.loads(line)
        return doc["country"], doc["ts"]

    return [
        b"[" + b",".join(group) + b"]"
        for _, group in itertools.groupby(lines, key=country_and_time)
    ]


def test_processes_write_one_process_s_files_on_batch_lines_also_mixing_countries(
    feed: list[bytes], config: Config
) -> None:
    lines = batched(feed[:20_000])
    first = {}
    for line in lines[:300]:
        record = orjson.loads(line)[0]
        first.setdefault(record["country"], orjson.dumps(record))
    nowhere = orjson.dumps({**orjson.loads(first["NG"]), "region": "NG-ZZ"})
    # Batches that break the batch schema's rule of one country are judged record by record, each
    # by its country's process (one without a country by the parent), in the batch's order: here
    # Iraq's and Turkey's first records again (late by now), a scalar, a region that is not one.
    lines[500] = b"[" + b",".join([lines[500][1:-1], lines[501][1:-1]]) + b"]"
    lines.insert(900, b"[" + b",".join([first["TR"], b"42", nowhere, first["IQ"]]) + b"]")
    one = replayed(lines, config, 1)
    many = replayed(lines, config, 3)
    letters = [orjson.loads(d) for d in one.dead.splitlines() if orjson.loads(d)["line"] == 901]
    assert [d["index"] for d in letters] == [0, 1, 2, 3]
    assert len(lines) < 20_000 and one.result.event_count > 0
    assert_same_replay(one, many)


def test_a_country_resuming_after_a_pause_longer_than_the_future_limit_is_flagged(
    config: Config,
) -> None:
    """The documented difference: each process has its own newest record. Kenya pauses for 30 h
    (longer than max_future_seconds) while Pakistan goes on: one process sees no jump, Kenya's
    own process sees one and holds its resumption until enough series confirm it."""
    pause = (START + 3 * 86400, START + 3 * 86400 + 30 * 3600)
    lines = []
    for p in good_stream(days=5):
        lines.append(p)
        ts = orjson.loads(p)["ts"]
        if not pause[0] <= ts < pause[1]:
            lines.append(p.replace(b'"PK"', b'"KE"'))
    one = replayed(lines, config, 1)
    many = replayed(lines, config, 2)
    assert one.result.judged_apart == 0 and not one.dead
    assert many.result.judged_apart >= 1
    held = [orjson.loads(d) for d in many.dead.splitlines()]
    assert held and {d["error_type"] for d in held} == {"future"}
    assert all(b'"KE"' in base64.b64decode(d["original_b64"]) for d in held)
    # Kenya alone: its process is the one process, the jump is judged alike and not counted.
    alone = [line for line in lines if b'"KE"' in line]
    one, many = replayed(alone, config, 1), replayed(alone, config, 2)
    assert one.dead and many.result.judged_apart == 0
    assert_same_replay(one, many)


def test_a_failing_process_is_an_error_that_names_it_and_leaves_no_process(
    config: Config,
) -> None:
    lines: list[Any] = [traffic(START, 1.0), traffic(START, 1.0, country="KE").decode()]
    with pytest.raises(ReplayProcessError, match=r"replay process \d of 2 \(countries KE\) failed"):
        replay_in_processes(lines, config, 2)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    ("line", "to"),
    [
        (traffic(START, 1.0, country="IR"), "IR"),
        (b"not json", None),
        (b'{"signal":"traffic"}', None),
        (b'{"country":["PK"]}', None),
        (b"[" + traffic(START, 1.0) + b",42," + traffic(START + 300, 1.0) + b"]", "PK"),
        (b"[42]", None),
        (b"[]", None),
        (b"[" + b",".join([traffic(START, 1.0)] * 13_000) + b"]", None),  # over 1 MiB: too large
    ],
)
def test_a_line_goes_to_its_country_and_one_without_to_the_parent(line: bytes, to: Any) -> None:
    assert destination(line) == to


def test_a_batch_mixing_countries_goes_record_by_record() -> None:
    pk, ir = traffic(START, 1.0), traffic(START, 2.0, country="IR")
    assert destination(b"[" + pk + b",null," + ir + b"]") == [
        ("PK", b"[" + pk + b"]", 0),
        (None, b"[null]", 1),
        ("IR", b"[" + ir + b"]", 2),
    ]


def test_countries_are_spread_heaviest_first_to_the_least_loaded_process() -> None:
    weights = Counter({"PK": 60, "IR": 40, "KE": 30, "TR": 20, "ET": 5})
    assert spread(weights, 2) == {"PK": 0, "IR": 1, "KE": 1, "TR": 0, "ET": 1}
    assert spread(Counter({"PK": 1}), 4) == {"PK": 0}


def test_replay_uses_every_core_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from restrictwatch.streams.cli import build_parser
    from restrictwatch.streams.offline import replay_processes

    parse = build_parser().parse_args
    assert replay_processes(parse(["replay", "f"])) == os.cpu_count() == every_core()
    assert replay_processes(parse(["replay", "f", "--workers", "3"])) == 3
    assert replay_processes(parse(["replay", "f", "--report", "d"])) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert replay_processes(parse(["replay", "f"])) == 7
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert every_core() == 1


def test_a_country_first_seen_later_goes_to_the_process_with_the_least_work_now(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kenya reports alone for a long while; Pakistan, busier, starts later on its own process;
    Turkey, later still, goes with Kenya, whose process has less to do now, though it has done
    more so far."""
    chunks: dict[int, list[Any]] = {}

    def start(self: Processes) -> Worker:
        number = len(self.workers)
        tasks = SimpleNamespace(put=chunks.setdefault(number, []).append)
        self.workers.append(Worker(number, None, tasks, None))  # type: ignore[arg-type]
        return self.workers[-1]

    monkeypatch.setattr(Processes, "start", start)

    def receive(self: Processes, block: bool) -> None:  # every chunk sent is done at once
        for w in self.workers:
            w.in_flight.clear()

    monkeypatch.setattr(Processes, "receive", receive)
    merge = Merge(float(config.max_future_seconds), None, None, ReplayResult())
    processes = Processes(config, 2, merge)
    line_no = 0

    def bins(n: int, per_country: dict[str, int]) -> None:
        nonlocal line_no
        for _ in range(n):
            for country, records in per_country.items():
                for _record in range(records):
                    line_no += 1
                    processes.route(line_no, b"x", country)  # a byte each: its weight

    bins(6000, {"KE": 2})  # 12,000 lines
    bins(2500, {"KE": 2, "PK": 6})  # 20,000 lines, Pakistan's 15,000 fewer than Kenya's 17,000
    bins(100, {"KE": 2, "PK": 6, "TR": 2})
    assert {c: w.number for c, w in processes.home.items()} == {"KE": 0, "PK": 1, "TR": 0}
    for w in processes.workers:
        processes.send(w)
    assert sum(len(chunk) for c in chunks.values() for chunk in c) == line_no
