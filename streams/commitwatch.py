"""Finds input partitions whose committed offset can no longer advance, so the worker can read
them again from the commit.

Faust commits the end of each partition's acknowledged prefix. A record that its consumer read
but never delivered to the agent is never acknowledged, and the commit stops in front of it for
good: after a rebalance, a batch fetched before the seek to the committed offsets can still be
delivered, move Faust's read offset past records not yet read again, and those are then dropped
as already read. Nothing is lost (the records stay on the broker and the state holds what was
processed), but the commit, and with it the lag every dashboard shows, is stuck, and a restart
would process everything since again. Seeking back to the commit delivers those records again;
what a checkpoint already holds is skipped by offset, so re-reading is always safe.

A partition is stuck when, for `stall_seconds` without its commit moving:
- the commit is not past a record the worker has acknowledged with a checkpoint (the acks
  cannot be committed: a record in front of them was never acknowledged), or
- the worker has acknowledged everything it received, yet the broker holds more, and nothing
  more has come (records past it were skipped).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """What the consumer and the worker know of one input partition, offsets as Kafka's."""

    committed: int | None  # the next offset a restarted consumer would read
    acked_through: int | None  # every record up to here was acknowledged with a checkpoint
    received: int | None  # the newest record delivered to the worker
    highwater: int | None  # the offset the next record produced will get


@dataclass
class CommitWatch:
    stall_seconds: float
    _stuck_since: dict[Hashable, tuple[tuple[int | None, ...], float]] = field(default_factory=dict)

    def check(self, partition: Hashable, progress: PartitionProgress, now: float) -> bool:
        """Whether `partition` has been stuck for `stall_seconds`: then read it from the commit."""
        signature = self._stuck(progress)
        if signature is None:
            self._stuck_since.pop(partition, None)
            return False
        seen = self._stuck_since.get(partition)
        if seen is None or seen[0] != signature:
            self._stuck_since[partition] = (signature, now)
            return False
        if now - seen[1] < self.stall_seconds:
            return False
        del self._stuck_since[partition]
        return True

    def forget_all(self) -> None:
        self._stuck_since.clear()

    @staticmethod
    def _stuck(p: PartitionProgress) -> tuple[int | None, ...] | None:
        """What must stay unchanged for the partition to be stuck, or None if it is not."""
        if p.committed is None or p.acked_through is None:
            return None  # nothing committed or acknowledged yet: nothing to compare
        if p.committed <= p.acked_through:
            return (p.committed,)  # new records may keep coming; the commit must move
        all_acked = p.received == p.acked_through
        if all_acked and p.highwater is not None and p.acked_through + 1 < p.highwater:
            return (p.committed, p.received)  # more on the broker, and none of it comes
        return None
