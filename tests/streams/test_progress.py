"""Progress of long commands: a bar on a terminal, and not one byte of it anywhere else."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from restrictwatch.streams import kafka_io
from restrictwatch.streams.cli import main
from restrictwatch.streams.kafka_io import Produced
from restrictwatch.streams.progress import Progress, count_lines, event_time_of, tracked


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


LINES = [
    b'{"signal":"traffic","ts":"2023-12-17T15:05:00Z","country":"PK","value":1.0,"source":"s"}',
    b"not json",
    b'{"signal":"traffic","ts":"2023-12-17T15:10:00Z","country":"PK","value":1.0,"source":"s"}',
]


def test_on_a_terminal_the_bar_shows_records_rate_time_left_and_event_time() -> None:
    tty = Tty()
    ticks = iter(range(100))
    with Progress("sent", total=3, stream=tty, clock=lambda: float(next(ticks))) as progress:
        assert progress.shown
        assert list(tracked(LINES, progress)) == LINES
        progress.bar.refresh()
        shown = tty.getvalue()
    assert "sent" in shown and "100%" in shown and "records/s" in shown
    assert "event time 2023-12-17T15:10Z" in shown
    assert "<00:00" in shown  # the time left, from the total


def test_off_a_terminal_there_is_no_bar_and_nothing_is_written() -> None:
    pipe = io.StringIO()
    with Progress("sent", total=3, stream=pipe) as progress:
        assert not progress.shown
        assert list(tracked(LINES, progress)) == LINES
        progress.advance(event_ts=1.7e9)
    assert pipe.getvalue() == ""


def test_replay_prints_only_its_summary_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"\n".join(LINES) + b"\n")
    assert main(["replay", str(data), "--out", str(tmp_path / "events.jsonl")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("replay summary\n")
    assert "\r" not in err and "\x1b" not in err and "replayed" not in err


def test_produce_prints_only_its_summary_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"\n".join(LINES) + b"\n")

    def produce_file(
        settings: Any, path: str, speedup: Any, progress: Progress, batch: int
    ) -> Produced:
        for line in LINES:  # what the real one does per record, without a broker
            progress.advance(event_ts=event_time_of(line))
        return Produced(sent=len(LINES))

    monkeypatch.setattr(kafka_io, "produce_file", produce_file)
    assert main(["produce", str(data), "--speedup", "600"]) == 0
    assert capsys.readouterr().err == "sent 3 records\n"


def test_lines_are_counted_for_the_total(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a\nb\nc")
    assert count_lines(str(path)) == 3
    path.write_bytes(b"a\nb\n")
    assert count_lines(str(path)) == 2
    path.write_bytes(b"")
    assert count_lines(str(path)) == 0
    assert count_lines("-") is None
    assert count_lines(str(tmp_path / "missing")) is None


def test_the_event_time_of_a_line_that_has_none_is_none() -> None:
    assert event_time_of(LINES[0]) == 1702825500.0
    assert event_time_of(b"not json") is None
    assert event_time_of(b"[1]") is None
    assert event_time_of(b'{"ts": "yesterday"}') is None
