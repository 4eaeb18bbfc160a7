"""When a partition's commit is taken for stuck."""

from __future__ import annotations

from restrictwatch.streams.commitwatch import CommitWatch, PartitionProgress

TP = ("rw.traffic.v1", 0)


def test_a_commit_in_front_of_acknowledged_records_is_stuck_once_it_stopped_long_enough() -> None:
    watch = CommitWatch(stall_seconds=30)
    stuck = PartitionProgress(committed=100, acked_through=500, received=520, highwater=600)
    assert not watch.check(TP, stuck, 0)
    assert not watch.check(TP, stuck, 29)
    # new records keep coming: the commit is what must move
    assert watch.check(TP, PartitionProgress(100, 700, 720, 800), 31)
    assert not watch.check(TP, stuck, 32)  # watched afresh after a verdict


def test_a_commit_that_moves_is_not_stuck() -> None:
    watch = CommitWatch(stall_seconds=30)
    for t in range(0, 100, 5):
        progress = PartitionProgress(
            committed=100 + t, acked_through=200 + t, received=210 + t, highwater=300 + t
        )
        assert not watch.check(TP, progress, t)


def test_records_on_the_broker_that_never_come_are_stuck() -> None:
    watch = CommitWatch(stall_seconds=30)
    # all received is acknowledged and committed; 50 more wait on the broker, and none comes
    tail = PartitionProgress(committed=501, acked_through=500, received=500, highwater=550)
    assert not watch.check(TP, tail, 0)
    assert watch.check(TP, tail, 30)


def test_caught_up_waiting_in_the_merge_or_nothing_known_yet_is_not_stuck() -> None:
    watch = CommitWatch(stall_seconds=30)
    cases = [
        PartitionProgress(committed=501, acked_through=500, received=500, highwater=501),
        PartitionProgress(committed=501, acked_through=500, received=540, highwater=550),
        PartitionProgress(committed=None, acked_through=500, received=500, highwater=550),
        PartitionProgress(committed=100, acked_through=None, received=None, highwater=550),
    ]
    for progress in cases:
        assert not watch.check(TP, progress, 0)
        assert not watch.check(TP, progress, 100)


def test_a_rebalance_forgets_what_was_watched() -> None:
    watch = CommitWatch(stall_seconds=30)
    stuck = PartitionProgress(committed=100, acked_through=500, received=520, highwater=600)
    watch.check(TP, stuck, 0)
    watch.forget_all()
    assert not watch.check(TP, stuck, 40)
