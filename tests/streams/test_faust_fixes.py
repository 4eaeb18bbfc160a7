"""The fixes to Faust: its commit of acknowledged offsets (on Faust's own `_new_offset`) and the
eager per-record hand-off (on a mode service, racing a suspended flow as Faust's fetcher does)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree
from mode import Service

from streams import faust_fixes
from streams.faust_fixes import consecutive_offsets, eager_wait_first

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


class Fetcher(Service):
    """What the hand-off needs of Faust's consumer: a mode service with a flow that can stop."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


def test_a_callback_that_needs_no_waiting_runs_in_the_fetcher_s_own_task() -> None:
    async def main() -> None:
        fetcher = Fetcher()
        ran_in: list[Any] = []

        async def callback() -> str:
            ran_in.append(asyncio.current_task())
            return "done"

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a never-awaited suspend_flow.wait() would warn
            result = await eager_wait_first(fetcher, callback(), fetcher.suspend_flow.wait())
            gc.collect()
        assert ran_in == [asyncio.current_task()]  # no task of its own
        assert result.results == ["done"] and not result.stopped

    asyncio.run(main())


def test_a_callback_that_waits_goes_on_in_a_task_until_it_is_done() -> None:
    async def main() -> None:
        fetcher = Fetcher()
        steps: list[str] = []

        async def callback() -> str:
            steps.append("before")
            await asyncio.sleep(0)  # a bare yield
            room = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.01, room.set_result, "room")
            got = await room  # a future, as a full buffer's put waits for one
            steps.append(got)
            return "done"

        result = await eager_wait_first(fetcher, callback(), fetcher.suspend_flow.wait())
        assert steps == ["before", "room"]
        assert result.results == ["done"] and not result.stopped

    asyncio.run(main())


def test_a_suspended_flow_cancels_a_waiting_callback_as_before() -> None:
    async def main() -> None:
        fetcher = Fetcher()
        never = asyncio.get_running_loop().create_future()
        seen: list[str] = []

        async def callback() -> None:
            try:
                await never
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.01, fetcher.suspend_flow.set)
        result = await eager_wait_first(fetcher, callback(), fetcher.suspend_flow.wait())
        await asyncio.sleep(0)  # the cancel reaches the callback on the loop's next turn
        assert result.results == [True] and not result.stopped  # the flow stopped first
        assert seen == ["cancelled"] and never.cancelled()

    asyncio.run(main())


def test_an_error_after_waiting_reaches_the_fetcher() -> None:
    async def main() -> None:
        fetcher = Fetcher()

        async def callback() -> None:
            await asyncio.sleep(0.01)
            raise ValueError("bad record")

        with pytest.raises(ValueError, match="bad record"):
            await eager_wait_first(fetcher, callback(), fetcher.suspend_flow.wait())

    asyncio.run(main())


def test_the_eager_hand_off_is_installed_on_faust_s_consumer_and_can_be_left_out() -> None:
    faust_fixes.apply(eager_handoff=False)
    assert Consumer.wait_first is Service.wait_first
    faust_fixes.apply()
    assert Consumer.wait_first is eager_wait_first
