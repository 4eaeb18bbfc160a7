"""Checkpoints of a partition's countries: when one is due, and its bytes.

A checkpoint stores, per country, the core's snapshot (`Pipeline.snapshot`, data in the format of
detectors/state.py) and the last offset of each input topic-partition folded into it. Its bytes:
`CHECKPOINT_MAGIC`, the length of the offsets' JSON (4 bytes, big-endian), that JSON (a list of
[topic, partition, offset, index]: the last record folded in, by its message's offset and its
place in that message's batch, 0 for a message of one record), then the snapshot. Version 1 was a pickle: refused, as any
unreadable checkpoint is (the handler then starts the country afresh).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import orjson

from restrictwatch.detectors.state import StateError

TP = tuple[str, int]
CheckpointPolicy = Literal["bin", "record", "interval"]
CHECKPOINT_MAGIC = b"rw-checkpoint-2:"


@dataclass(frozen=True, slots=True)
class Checkpoints:
    """When a partition's state is written: after every record (`record`), after any evaluated
    bin (`bin`), or only every N records and on the timer (`interval`); except per record, never
    sooner than the pause that keeps checkpoints within `max_share` of the time."""

    policy: CheckpointPolicy = "bin"
    every_records: int = 5000
    interval_seconds: float = 1.0
    max_share: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.max_share <= 1:
            raise ValueError(f"checkpoint_max_share must be in (0, 1], not {self.max_share}")

    def due(self, *, elapsed: float, pause: float, records: int, bin_evaluated: bool) -> bool:
        """For a partition with something to save: `elapsed` seconds since its last checkpoint,
        `records` processed since, and whether a bin was evaluated since."""
        if self.policy == "record":
            return True  # also acks of records that went no further than the merge
        if elapsed < pause:
            return False
        if records >= self.every_records:
            return True
        if self.policy == "bin" and bin_evaluated:
            return True
        return elapsed >= self.interval_seconds

    def pause_after(self, cost: float) -> float:
        """How long to wait after a checkpoint that took `cost` seconds: checkpoints then take
        at most `max_share` of the time."""
        return cost * (1 / self.max_share - 1)


@dataclass(slots=True)
class Checkpoint:
    """One country's state as the table holds it: the core's snapshot, and per input
    topic-partition the (offset, index in its batch) of the last record folded into it."""

    offsets: dict[TP, tuple[int, int]]
    state: bytes

    def encode(self) -> bytes:
        rows = [[t, p, o, i] for (t, p), (o, i) in sorted(self.offsets.items())]
        offsets = orjson.dumps(rows)
        return CHECKPOINT_MAGIC + struct.pack(">I", len(offsets)) + offsets + self.state

    @classmethod
    def decode(cls, data: bytes) -> Checkpoint:
        if not data.startswith(CHECKPOINT_MAGIC):
            raise StateError(f"not a restrictwatch checkpoint (starts {bytes(data[:16])!r})")
        head = len(CHECKPOINT_MAGIC)
        try:
            (size,) = struct.unpack_from(">I", data, head)
            rows = orjson.loads(data[head + 4 : head + 4 + size])
            offsets = {(str(t), int(p)): (int(o), int(i)) for t, p, o, i in rows}
        except (struct.error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
            raise StateError(f"unreadable checkpoint offsets: {exc}") from None
        return cls(offsets, data[head + 4 + size :])
