"""A fix to faust-streaming (pinned) that the worker's at-least-once delivery depends on.

Faust commits, per partition, the end of the first run of consecutive acknowledged offsets
(`Consumer._new_offset`). Offsets its fetcher never returned are folded into that list from a
gap tree, which also holds the offset of the record that closed the gap, so an offset can be in
the list twice. Its run finder (`consecutive_numbers`) ends a run at a repeated offset: with
[5, 5, 6, 7, ...] each commit advances by one offset (robinhood/faust#625). A restarted worker
was seen doing exactly that: everything processed and acknowledged, and the commit crawling
through 2,540 records at one per commit interval. Here a repeated offset stays in its run, so
the commit goes to the end of the acknowledged prefix at once; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import faust.transport.consumer


def consecutive_offsets(offsets: Iterable[int]) -> Iterator[list[int]]:
    """Runs of consecutive sorted offsets; an offset seen again belongs to the run it repeats."""
    run: list[int] = []
    for offset in offsets:
        if run and offset > run[-1] + 1:
            yield run
            run = []
        run.append(offset)
    if run:
        yield run


def apply() -> None:
    """Make Faust's consumer find acknowledged runs with `consecutive_offsets` (idempotent)."""
    faust.transport.consumer.consecutive_numbers = consecutive_offsets  # type: ignore[attr-defined,assignment]
