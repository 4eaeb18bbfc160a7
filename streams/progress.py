"""A progress bar for long commands (`produce`, `replay`) on a terminal, and nothing elsewhere.

tqdm draws it on stderr: records done, their rate and, for a file, the share done and the time
left; the event time reached beside it. When stderr is not a terminal (a log file, a pipe, a
test) no bar is made at all, so nothing of it reaches a log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from restrictwatch.detectors.records import parse_ts

# The event time beside the bar is read from a line at most this often.
POSTFIX_SECONDS = 0.25


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


def count_lines(path: str) -> int | None:
    """Lines in a file (a last line without newline counts); None for stdin or what cannot be
    read (the bar then shows no total and no time left)."""
    if path == "-":
        return None
    count, last = 0, b"\n"
    try:
        with Path(path).open("rb") as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    return count + (last != b"\n")


def event_time_of(line: bytes) -> float | None:
    """The `ts` of a record line, if it has one."""
    try:
        doc = orjson.loads(line)
        ts = doc.get("ts") if isinstance(doc, dict) else None
        return parse_ts(ts) if isinstance(ts, str | int | float) else None
    except (orjson.JSONDecodeError, ValueError, TypeError):
        return None


def iso_minute(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(ts))


class Progress:
    """`with Progress("sent", total) as p: p.advance(line)` per record; a no-op off a terminal."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.bar: Any = None
        self.newest: float | None = None
        self._next_postfix = 0.0
        if is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=what,
                unit=" records",
                unit_scale=True,
                file=self.stream,
                dynamic_ncols=True,
                mininterval=POSTFIX_SECONDS,
                leave=False,  # the command's own summary line follows
            )

    @property
    def shown(self) -> bool:
        return self.bar is not None

    def advance(self, line: bytes | None = None, event_ts: float | None = None) -> None:
        """One record done; its line (or its event time) moves the event time reached."""
        if self.bar is None:
            return
        self.bar.update(1)
        now = self.clock()
        if now < self._next_postfix:
            return
        self._next_postfix = now + POSTFIX_SECONDS
        ts = event_ts if event_ts is not None else event_time_of(line) if line else None
        if ts is not None and (self.newest is None or ts > self.newest):
            self.newest = ts
        if self.newest is not None:
            self.bar.set_postfix_str(f"event time {iso_minute(self.newest)}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def tracked(lines: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    """`lines`, advancing `progress` as each is taken."""
    if not progress.shown:
        yield from lines
        return
    for line in lines:
        yield line
        progress.advance(line)
