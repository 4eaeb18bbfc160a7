"""Fixes to faust-streaming (pinned) that the worker's delivery and speed depend on.

Commit. Faust commits, per partition, the end of the first run of consecutive acknowledged
offsets (`Consumer._new_offset`). Offsets its fetcher never returned are folded into that list
from a gap tree, which also holds the offset of the record that closed the gap, so an offset can
be in the list twice. Its run finder (`consecutive_numbers`) ends a run at a repeated offset:
with [5, 5, 6, 7, ...] each commit advances by one offset (robinhood/faust#625). A restarted
worker was seen doing exactly that: everything processed and acknowledged, and the commit
crawling through 2,540 records at one per commit interval. Here a repeated offset stays in its
run, so the commit goes to the end of the acknowledged prefix at once.

Hand-off. Faust's fetch loop hands each record to the topic conductor with
`wait_first(callback(message), suspend_flow.wait())`: four tasks, an `asyncio.wait` and three
cancellations per record, a quarter of a worker's time in its profile. The callback suspends
only under back-pressure (a full stream buffer, paused flow), so here it runs eagerly up to its
first suspension, as Python 3.12's eager tasks would, and mode's race takes over only then; a
record whose callback needs no waiting costs no task at all.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator, Iterable, Iterator
from typing import Any

import faust.transport.consumer
from mode.services import Service, WaitResults

_mode_wait_first = Service.wait_first


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


@types.coroutine
def resume(coro: Coroutine[Any, Any, Any], waiting_for: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine stepped once by hand, as the task that had started it would:
    what it waits for goes to the driving task, and what that task throws in (a cancel) goes
    to the coroutine."""
    pending = waiting_for
    while True:
        try:
            yield pending
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # the task's cancel: passed on, as a task would
            try:
                pending = coro.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            pending = coro.send(None)
        except StopIteration as done:
            return done.value


async def eager_wait_first(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:
    """`Service.wait_first` that first runs a leading coroutine up to its first suspension."""
    first, rest = coros[0], coros[1:]
    flow_stopped = getattr(self, "suspend_flow", None)
    if (
        not asyncio.iscoroutine(first)
        or self._stopped.is_set()
        or self._crashed.is_set()
        or (flow_stopped is not None and flow_stopped.is_set())
    ):
        return await _mode_wait_first(self, *coros, timeout=timeout)
    try:
        waiting_for = first.send(None)
    except StopIteration as done:
        _close(rest)
        return WaitResults([first], [done.value], False)
    except BaseException:
        _close(rest)
        raise
    task = asyncio.ensure_future(resume(first, waiting_for))
    return await _mode_wait_first(self, task, *rest, timeout=timeout)


def _close(coros: Iterable[Any]) -> None:
    """Close coroutines never started (a `suspend_flow.wait()` not needed after all)."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


def apply(eager_handoff: bool = True) -> None:
    """Install the commit fix, and the eager hand-off unless told not to (idempotent)."""
    consumer = faust.transport.consumer
    consumer.consecutive_numbers = consecutive_offsets  # type: ignore[attr-defined,assignment]
    wait_first = eager_wait_first if eager_handoff else _mode_wait_first
    consumer.Consumer.wait_first = wait_first  # type: ignore[method-assign]
