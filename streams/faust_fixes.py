"""Every use of faust-streaming's private parts, in one place, and the two fixes the worker
depends on.

The worker reaches below Faust's public API in five places, each named here with the version it
was checked against (`CHECKED_VERSION`); tests/streams/test_faust_fixes.py fails when any of
them no longer holds, so an upgrade of the pin is checked, not hoped:

* `faust.streams._current_event`, the context variable of the event being processed: a timer
  writes a table key as if inside the country's partition (`current_event`);
* `Consumer._committed_offset`, the offset Faust last committed per partition (`committed_offset`);
* `ThreadDelegateConsumer._thread._ensure_consumer()`, the aiokafka consumer under Faust's, for
  when a partition was last fetched (`aiokafka_consumer`);
* `faust.transport.consumer.consecutive_numbers`, replaced below (`apply`);
* `Recovery._build_offsets` and `tp_to_table`, and the rocksdb store's `_dbs`, `_key_index` and
  `partition_path`, for a stale local store (`apply_stale_store`, below).

The commit fix (`apply`):

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
import logging
import shutil
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

import faust.streams
import faust.transport.consumer
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

CHECKED_VERSION = "0.15.3"
log = logging.getLogger("restrictwatch.worker")


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
    """Make Faust's consumer find acknowledged runs with `consecutive_offsets`, and recovery
    rebuild a stale local store (idempotent)."""
    apply_stale_store()
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
    if "tp_to_table" not in inspect.getsource(Recovery.__init__):
        problems.append("Recovery no longer keeps tp_to_table")
    store_init = inspect.getsource(RocksDBStore.__init__)
    for name in ("_dbs", "_key_index"):
        if name not in store_init:
            problems.append(f"the rocksdb Store no longer keeps {name}")
    if not callable(getattr(RocksDBStore, "partition_path", None)):
        problems.append("the rocksdb Store has no partition_path")
    source = inspect.getsource(faust.transport.consumer.Consumer._new_offset)
    if not hasattr(faust.transport.consumer, "consecutive_numbers") or (
        "consecutive_numbers" not in source
    ):
        problems.append("Consumer._new_offset no longer finds runs with consecutive_numbers")
    return problems


# A stale local store ------------------------------------------------------------------------
# A local table store ahead of its changelog is stale: wipe it and rebuild it from the changelog.
#
# Faust's rocksdb store remembers the last changelog offset it applied. When the broker's topics
# are reset (`deploy/kafka/kafka.sh reset`) or the state directory is used with another cluster,
# that offset is ahead of the changelog's end, and Faust stops the worker with ConsistencyError
# ("The persisted offset for changelog topic partition ... is higher than the last offset") on
# every start: a crash loop. The changelog is the source of truth, so the worker says so in one
# line, deletes the stale partition stores and reads them again from the changelog, as for a new
# worker. faust-streaming is pinned; the hook is on `Recovery._build_offsets`, which computes
# where reading each changelog partition starts, just before Faust's own check.


def is_stale(persisted: int | None, end: int | None) -> bool:
    """Whether a store that applied changelog offset `persisted` is ahead of a changelog whose
    next offset is `end` (None: empty); a store with no offset is new, never stale."""
    return persisted is not None and persisted >= (end or 0)


def stale_partitions(
    offsets: Mapping[TP, int | None], ends: Mapping[TP, int | None], tps: Iterable[TP]
) -> list[TP]:
    """The changelog partitions of `tps` whose local store is ahead of the changelog."""
    return sorted(tp for tp in tps if is_stale(offsets.get(tp), ends.get(tp)))


def wipe_partition(store: Any, partition: int) -> None:
    """Close and delete the local rocksdb store of one partition; it reopens empty when used."""
    if not isinstance(store, RocksDBStore):
        return  # the memory store keeps no offsets: never stale
    db = store._dbs.pop(partition, None)
    if db is not None:
        db.close()
    shutil.rmtree(store.partition_path(partition), ignore_errors=True)
    for key in [k for k, p in store._key_index.items() if p == partition]:
        store._key_index.pop(key, None)


def apply_stale_store() -> None:
    """Make recovery wipe and rebuild stale partition stores instead of failing (idempotent)."""
    if getattr(Recovery, "_rw_stale_store", False):
        return
    original = Recovery._build_offsets

    async def _build_offsets(
        self: Recovery, consumer: Any, tps: set[TP], destination: Any, title: str
    ) -> None:
        if tps:
            ends = await consumer.highwaters(*tps)
            stale = stale_partitions(destination, ends, tps)
            if stale:
                log.warning(
                    "local table store ahead of its changelog (%s): the broker's topics were "
                    "reset or this state directory belongs to another cluster; wiping the "
                    "store of %s and rebuilding it from the changelog",
                    ", ".join(
                        f"{tp.topic}[{tp.partition}] applied offset {destination[tp]}, "
                        f"changelog ends at {ends.get(tp) or 0}"
                        for tp in stale
                    ),
                    "partition " + ", ".join(str(tp.partition) for tp in stale),
                )
                for tp in stale:
                    table: Any = self.tp_to_table[tp]
                    wipe_partition(table.data, tp.partition)
                    destination[tp] = None  # as for a store never written: read from the start
        await original(self, consumer, tps, destination, title)

    Recovery._build_offsets = _build_offsets  # type: ignore[method-assign]
    Recovery._rw_stale_store = True  # type: ignore[attr-defined]
