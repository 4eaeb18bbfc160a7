"""A local table store ahead of its changelog is stale: wipe it and rebuild it from the changelog.

Faust's rocksdb store remembers the last changelog offset it applied. When the broker's topics
are reset (`deploy/kafka/kafka.sh reset`) or the state directory is used with another cluster,
that offset is ahead of the changelog's end, and Faust stops the worker with ConsistencyError
("The persisted offset for changelog topic partition ... is higher than the last offset") on
every start: a crash loop. The changelog is the source of truth, so the worker says so in one
line, deletes the stale partition stores and reads them again from the changelog, as for a new
worker. faust-streaming is pinned; the hook is on `Recovery._build_offsets`, which computes
where reading each changelog partition starts, just before Faust's own check.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from typing import Any

from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.recovery import Recovery
from faust.types import TP

log = logging.getLogger("restrictwatch.worker")


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


def apply() -> None:
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
