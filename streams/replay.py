"""Offline replay: a JSON-lines file through the same pipeline the worker runs; a line is one
record or a batch of them (a JSON array), as a message of the input topics is.

This is the one-process replay; `parallel_replay` spreads the countries over processes and gives
the same files.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.events import EventMessage, keep_latest
from restrictwatch.detectors.pipeline import Outcome, Pipeline
from restrictwatch.detectors.records import Rejection
from restrictwatch.detectors.view import Totals
from restrictwatch.streams.display import table


@dataclass
class ReplayResult:
    """What a replay did. `events` holds every message only in the one-process replay (the
    report and the backtests read them); the summary needs no more than their count and each
    incident's latest message, which every replay keeps."""

    lines: int = 0
    events: list[EventMessage] = field(default_factory=list)
    dead_letters: int = 0
    seconds: float = 0.0
    pipeline: Pipeline | None = None
    totals: Totals | None = None  # the core's totals when no one pipeline holds them
    event_count: int = 0
    latest: dict[str, Any] = field(default_factory=dict)
    # In processes: records the far-future guard judged, or one process would have, against
    # another newest record than one process's (`parallel_replay`), and the first one's line.
    judged_apart: int = 0
    first_judged_apart: int | None = None

    def count_event(self, event: EventMessage, keep: bool = True) -> None:
        self.event_count += 1
        keep_latest(self.latest, event)
        if keep:
            self.events.append(event)

    def core_totals(self) -> Totals:
        if self.totals is not None:
            return self.totals
        assert self.pipeline is not None
        return self.pipeline.totals()


def dead_letter(line_no: int, raw: bytes, rejection: Rejection) -> dict[str, Any]:
    """The file form of a dead letter (schemas/deadletter.v1.schema.json)."""
    entry: dict[str, Any] = {
        "error_type": rejection.error_type,
        "reason": rejection.reason,
        "stage": rejection.stage,
        "line": line_no,
        "original_b64": base64.b64encode(raw).decode("ascii"),
    }
    if rejection.index is not None:
        entry["index"] = rejection.index
    with contextlib.suppress(UnicodeDecodeError):
        entry["original"] = raw.decode("utf-8")
    return entry


def read_lines(source: IO[bytes]) -> Iterator[bytes]:
    for line in source:
        yield line[:-1] if line.endswith(b"\n") else line


def replay(
    lines: Iterable[bytes],
    config: Config,
    events_out: IO[bytes] | None = None,
    dead_out: IO[bytes] | None = None,
    observe: Callable[[Pipeline, Outcome], None] | None = None,
) -> ReplayResult:
    """Run every line through the pipeline; write events and dead letters as they happen.

    `observe`, if given, sees the pipeline and each record's outcome, with the readings of the
    bins the record closed (the report's recorder uses them).
    """
    pipeline = Pipeline(config, keep_readings=observe is not None)
    result = ReplayResult(pipeline=pipeline)
    started = time.perf_counter()
    for result.lines, raw in enumerate(lines, start=1):
        for outcome in pipeline.process_message(raw):
            if observe is not None:
                observe(pipeline, outcome)
            if outcome.rejection is not None:
                result.dead_letters += 1
                if dead_out is not None:
                    dead_out.write(
                        orjson.dumps(dead_letter(result.lines, raw, outcome.rejection)) + b"\n"
                    )
                continue
            for event in outcome.events:
                result.count_event(event)
                if events_out is not None:
                    events_out.write(orjson.dumps(event) + b"\n")
    result.seconds = time.perf_counter() - started
    return result


def summary_table(result: ReplayResult) -> str:
    t = result.core_totals()
    rate = result.lines / result.seconds if result.seconds > 0 else 0.0
    rows = [
        ("records read", f"{result.lines}"),
        ("records used", f"{t.accepted}"),
        ("dead letters", f"{result.dead_letters}"),
    ]
    rows += [(f"  {reason}", f"{n}") for reason, n in sorted(t.rejected.items())]
    rows += [
        ("countries", f"{t.countries}"),
        ("series", f"{t.series}"),
        ("  still warming up", f"{t.warming_series}"),
        ("event messages", f"{result.event_count}"),
    ]
    rows += [(f"  {k}", f"{n}") for k, n in sorted(t.emitted.items())]
    rows += [
        ("incidents still open", f"{t.open_incidents}"),
        ("elapsed", f"{result.seconds:.2f} s ({rate:,.0f} records/s)"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = ["replay summary", "-" * (width + 24), table(rows)]
    incidents = result.latest
    if incidents:
        lines += ["", "incidents (latest message each):"]
        lines += [
            f"  {e['event_id']}  {e['status']:<8} {e['kind']:<20} {e['summary']}"
            for e in incidents.values()
        ]
    return "\n".join(lines)


def open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")
