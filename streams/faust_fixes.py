"""Every use of faust-streaming's private parts, in one place, and a fix the worker depends on.

The worker reaches below Faust's public API in five places, each named here with the version it
was checked against (`CHECKED_VERSION`); tests/streams/test_faust_fixes.py fails when any of
them no longer holds, so an upgrade of the pin is checked, not hoped:

* `faust.streams._current_event`, the context variable of the event being processed: a timer
  writes a table key as if inside the country's partition (`current_event`);
* `Consumer._committed_offset`, the offset Faust last committed per partition (`committed_offset`);
* `ThreadDelegateConsumer._thread._ensure_consumer()`, the aiokafka consumer under Faust's, for
  when a partition was last fetched (`aiokafka_consumer`);
* `faust.transport.consumer.consecutive_numbers`, replaced below (`apply`);
* `Recovery._build_offsets`, wrapped by streams/stale_store.py.

The fix:

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

import contextlib
import inspect
import weakref
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

import faust.streams
import faust.transport.consumer
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka

CHECKED_VERSION = "0.15.3"


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


@contextlib.contextmanager
def current_event(event: Any) -> Iterator[None]:
    """Make `event` Faust's current event for the block (a table write files its key under
    the current event's partition)."""
    var: ContextVar[Any] = faust.streams._current_event
    token = var.set(weakref.ref(event))
    try:
        yield
    finally:
        var.reset(token)


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset Faust last committed for a partition, None before its first commit."""
    offset: int | None = consumer._committed_offset.get(tp)
    return offset


def aiokafka_consumer(app: Any) -> Any:
    """aiokafka's consumer under Faust's (which does not pass on its poll timestamps)."""
    return app.consumer._thread._ensure_consumer()


def unmet() -> list[str]:
    """What of the above no longer holds in the installed faust-streaming (empty: all of it)."""
    problems = []
    installed = version("faust-streaming")
    if installed != CHECKED_VERSION:
        problems.append(f"faust-streaming {installed}, checked against {CHECKED_VERSION}")
    if not isinstance(getattr(faust.streams, "_current_event", None), ContextVar):
        problems.append("faust.streams._current_event is no longer a ContextVar")
    if "_committed_offset" not in inspect.getsource(faust.transport.consumer.Consumer.__init__):
        problems.append("Consumer no longer keeps _committed_offset")
    if "_thread" not in inspect.getsource(faust.transport.consumer.ThreadDelegateConsumer.__init__):
        problems.append("ThreadDelegateConsumer no longer keeps _thread")
    if not callable(getattr(faust_aiokafka.AIOKafkaConsumerThread, "_ensure_consumer", None)):
        problems.append("AIOKafkaConsumerThread._ensure_consumer is gone")
    if not inspect.iscoroutinefunction(getattr(Recovery, "_build_offsets", None)):
        problems.append("Recovery._build_offsets is no longer a coroutine")
    source = inspect.getsource(faust.transport.consumer.Consumer._new_offset)
    if not hasattr(faust.transport.consumer, "consecutive_numbers") or (
        "consecutive_numbers" not in source
    ):
        problems.append("Consumer._new_offset no longer finds runs with consecutive_numbers")
    return problems
