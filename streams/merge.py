"""The merge of a partition's input topics by event time, as pure decisions (no clock, no I/O).

Like Kafka Streams' task synchronisation: the topic whose next record is oldest goes first, and a
topic with nothing queued may hold the others back while it can still bring something older.
How long: up to `MAX_WAIT_SECONDS` while it has a backlog on the broker, or while releasing would
put the other topic further ahead than the allowed lateness and no fetch since the short wait ran
out has shown it caught up (far enough ahead, the core would judge a source silent that is only
lagging in this consumer); for `merge_idle` otherwise (a little behind, the core takes the skew
in its stride, and a topic still caught up after the short wait is silent at its source, which
the core judges as `replay` does). streams/handler.py keeps the queues and the clocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from math import inf

# The longest the merge waits for a topic that has a backlog, or is far behind (a topic that
# never delivers must not stop the other for ever).
MAX_WAIT_SECONDS = 30.0


class Wait(Enum):
    WAIT = "wait"  # hold the head back
    GO = "go"  # release it
    GIVE_UP = "give_up"  # release it after the long wait ran out (worth a warning, once)


def first_topic(heads: Mapping[str, float], order: Sequence[str]) -> str:
    """The topic whose queued head is oldest; on a tie, the one first in `order`."""
    return min((t for t in order if t in heads), key=lambda t: heads[t])


def topics_behind(
    order: Sequence[str], heads: Mapping[str, float], newest: Mapping[str, float], head: float
) -> list[str]:
    """Topics with nothing queued that could still bring a record older than `head`: their
    newest record is older (each source keeps its own order, so one already past it cannot)."""
    return [t for t in order if t not in heads and newest.get(t, -inf) < head]


def wait_for(
    lead: float, waited: float, backlog: bool | None, merge_idle: float, lateness: float
) -> Wait:
    """Whether to go on waiting for an empty topic `lead` seconds of event time behind the head.

    `waited`: seconds since the waiting began; `backlog`: the broker holds more of it (True), a
    fetch after the short wait showed none (False), or nothing says (None).
    """
    far = lead > lateness
    if backlog is False or (backlog is None and not far):
        return Wait.WAIT if waited < merge_idle else Wait.GO
    if waited < MAX_WAIT_SECONDS:
        return Wait.WAIT
    return Wait.GIVE_UP
