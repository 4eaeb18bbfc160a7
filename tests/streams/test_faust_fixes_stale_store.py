"""A local store ahead of its changelog is found, wiped and read again from the start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.tables.recovery import Recovery
from faust.types import TP

from restrictwatch.streams import faust_fixes
from restrictwatch.streams.faust_fixes import is_stale, stale_partitions, wipe_partition

CHANGELOG = "rw-unit-rw-country-state-changelog"


def test_a_store_is_stale_when_it_applied_an_offset_the_changelog_does_not_have() -> None:
    assert is_stale(2332, None)  # the changelog is new and empty
    assert is_stale(0, 0)
    assert is_stale(10, 10)  # end 10: offsets 0..9 exist
    assert not is_stale(9, 10)
    assert not is_stale(None, 0)  # never written: a new store
    assert not is_stale(None, 500)
    tps = [TP(CHANGELOG, p) for p in range(3)]
    offsets = {tps[0]: 40, tps[1]: 2, tps[2]: None}
    assert stale_partitions(offsets, {tps[0]: 0, tps[1]: 3, tps[2]: 0}, tps) == [tps[0]]


@pytest.fixture
def rocksdb_table(tmp_path: Path) -> Any:
    app = faust.App("rw-unit", store="rocksdb://", datadir=str(tmp_path / "rw-unit"))
    return app.Table(
        "rw-country-state", default=None, partitions=2, key_type=bytes, value_type=bytes
    )


def test_wiping_a_partition_deletes_its_store_and_leaves_the_other(rocksdb_table: Any) -> None:
    store = rocksdb_table.data
    for partition in (0, 1):
        store._db_for_partition(partition).put(b"PK", b"old state")
        store.set_persisted_offset(TP(CHANGELOG, partition), 2332)
    store._key_index[b"PK"] = 0
    wipe_partition(store, 0)
    assert not store.partition_path(0).exists()
    assert b"PK" not in store._key_index
    assert store.persisted_offset(TP(CHANGELOG, 0)) is None  # reopened empty
    assert store._db_for_partition(0).get(b"PK") is None
    assert store.persisted_offset(TP(CHANGELOG, 1)) == 2332
    assert store._db_for_partition(1).get(b"PK") == b"old state"


def test_a_memory_store_is_left_alone() -> None:
    app = faust.App("rw-unit", store="memory://")
    table = app.Table("t", default=None, partitions=1)
    wipe_partition(table.data, 0)  # nothing to do, no error


class FakeConsumer:
    def __init__(self, ends: dict[TP, int | None]) -> None:
        self.ends = ends

    async def highwaters(self, *tps: TP) -> dict[TP, int | None]:
        return {tp: self.ends[tp] for tp in tps}

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int | None]:
        return {tp: 0 for tp in tps}


def test_recovery_wipes_stale_partitions_and_reads_them_from_the_start(
    rocksdb_table: Any, caplog: pytest.LogCaptureFixture
) -> None:
    faust_fixes.apply_stale_store()
    faust_fixes.apply_stale_store()  # idempotent
    store = rocksdb_table.data
    tps = {TP(CHANGELOG, 0), TP(CHANGELOG, 1)}
    for tp in tps:
        store._db_for_partition(tp.partition).put(b"k", b"v")
    recovery: Any = object.__new__(Recovery)  # only what _build_offsets reads
    recovery.tp_to_table = {tp: rocksdb_table for tp in tps}
    recovery.log = logging.getLogger("faust.test")
    destination: Any = {TP(CHANGELOG, 0): 2332, TP(CHANGELOG, 1): 4}
    consumer = FakeConsumer({TP(CHANGELOG, 0): 0, TP(CHANGELOG, 1): 5})
    with caplog.at_level(logging.WARNING, "restrictwatch.worker"):
        asyncio.run(Recovery._build_offsets(recovery, consumer, tps, destination, "active"))
    # Faust's own arithmetic then starts the wiped one at earliest - 1 = -1: the beginning.
    assert destination == {TP(CHANGELOG, 0): -1, TP(CHANGELOG, 1): 4}
    assert store._db_for_partition(0).get(b"k") is None
    assert store._db_for_partition(1).get(b"k") == b"v"
    lines = [r.getMessage() for r in caplog.records if r.name == "restrictwatch.worker"]
    assert lines == [
        f"local table store ahead of its changelog ({CHANGELOG}[0] applied offset 2332, "
        "changelog ends at 0): the broker's topics were reset or this state directory belongs "
        "to another cluster; wiping the store of partition 0 and rebuilding it from the changelog"
    ]
