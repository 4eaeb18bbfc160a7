"""The fix to Faust's commit of acknowledged offsets, on Faust's own `_new_offset`."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from restrictwatch.streams import faust_fixes
from restrictwatch.streams.faust_fixes import consecutive_offsets

PARTITION = TP("rw.traffic.v1", 0)


def faust_consumer(acked: list[int], committed: int | None, gaps: list[tuple[int, int]]) -> Any:
    """The state `_new_offset` reads, as Faust keeps it."""
    gap = IntervalTree()
    for begin, end in gaps:
        gap.addi(begin, end)
    return SimpleNamespace(
        _acked=defaultdict(list, {PARTITION: list(acked)}),
        _acked_index=defaultdict(set, {PARTITION: set(acked)}),
        _gap=defaultdict(IntervalTree, {PARTITION: gap}),
        _committed_offset=defaultdict(lambda: None, {PARTITION: committed}),
    )


def test_runs_keep_repeated_offsets_and_break_at_holes() -> None:
    assert list(consecutive_offsets([5, 5, 6, 7, 7, 9, 10, 12])) == [[5, 5, 6, 7, 7], [9, 10], [12]]
    assert list(consecutive_offsets([])) == []


def test_a_gap_overlapping_acknowledged_offsets_no_longer_makes_the_commit_crawl() -> None:
    """The gap tree holds the offset that closed the gap, which was acknowledged as well."""
    faust_fixes.apply()
    consumer = faust_consumer(list(range(103, 200)), committed=100, gaps=[(100, 104)])
    new_offset = Consumer._new_offset(consumer, PARTITION)  # type: ignore[arg-type]
    assert new_offset == 200
    assert consumer._acked[PARTITION] == []


def test_the_commit_still_stops_at_a_hole() -> None:
    faust_fixes.apply()
    consumer = faust_consumer([100, 101, 102, 105, 106], committed=100, gaps=[])
    assert Consumer._new_offset(consumer, PARTITION) == 103  # type: ignore[arg-type]
    assert Consumer._new_offset(consumer, PARTITION) is None  # type: ignore[arg-type]


def test_every_private_part_of_faust_used_still_holds_in_the_installed_version() -> None:
    # When this fails after an upgrade of the pin, check each part named in
    # streams/faust_fixes.py against the new version, then move CHECKED_VERSION.
    assert faust_fixes.unmet() == []
