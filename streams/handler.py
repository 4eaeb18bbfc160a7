"""The worker's per-record logic, without Faust: decode, merge the input topics by event time,
run the core pipeline, and decide when state is checkpointed and offsets may be acknowledged.

Kept apart from the Faust wiring so it can be tested record by record.

Partitions. Both input topics are keyed by country and co-partitioned, and the state table uses
the same partitions: partition p of the table holds the countries whose records come on
partition p. Everything below is kept per partition, so a partition can be checkpointed, revoked
and restored on its own.

Ordering. A consumer may fetch hours of one topic before the other. Like Kafka Streams' task
synchronisation, each partition's two queues are merged by event time (the decisions are
streams/merge.py's; the queues and wait clocks are kept here). "Caught up" must be seen by a
fetch response at least `merge_idle_seconds` after the waiting began: a highwater from an older
fetch (the consumer skips partitions while others' records wait to be consumed) cannot tell a
topic still being produced from a silent source. Each source keeps its own order, so the core
sees what `replay` sees.

Delivery (at least once). A record's offset is acknowledged only after a checkpoint of its
partition holds the state it changed (when one is due, and its bytes: streams/checkpoints.py);
a large state is checkpointed less often than a small one, within a share of the time. Faust
flushes the producer
(events, dead letters, changelog) before it commits offsets, so after a crash the worker re-reads
from the last commit onto the last checkpoint that reached the changelog: records that
checkpoint already holds are skipped by offset, the rest are processed again and re-emit
byte-identical events (the core is deterministic), which consumers dedupe on (event_id, seq).
A dead letter may be sent twice.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from math import inf
from typing import Any

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.events import EventMessage
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.records import Rejection, Sample, decode_message
from restrictwatch.detectors.state import StateError
from restrictwatch.streams import merge
from restrictwatch.streams.checkpoints import TP, Checkpoint, CheckpointPolicy, Checkpoints

log = logging.getLogger("restrictwatch.worker")


@dataclass(slots=True)
class Inbound:
    """One consumed record and the token that acknowledges it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    token: Any = None


@dataclass(slots=True)
class Output:
    """What handling records produced, in the order it must be published."""

    events: list[EventMessage] = field(default_factory=list)
    dead: list[tuple[Inbound, Rejection]] = field(default_factory=list)
    checkpoints: list[tuple[str, bytes]] = field(default_factory=list)  # (country, state)
    acks: list[Any] = field(default_factory=list)
    processed: list[tuple[Inbound, float]] = field(default_factory=list)  # (record, event ts)
    records: int = 0  # records the message received carried (a batch: several)


@dataclass(slots=True)
class PartitionState:
    """The merge queues and checkpoint bookkeeping of one input partition."""

    # (message, record, its index in a batch; None for a message of one record)
    queues: dict[str, deque[tuple[Inbound, Sample, int | None]]]
    last_checkpoint: float
    newest: dict[str, float] = field(default_factory=dict)  # newest event time per topic
    waiting_since: dict[str, float] = field(default_factory=dict)  # wall time the merge began
    # waiting for a topic (a topic that brings a record is no longer waited for)
    countries: set[str] = field(default_factory=set)
    dirty: set[str] = field(default_factory=set)
    unacked: list[Inbound] = field(default_factory=list)  # processed, skipped or dead
    # Records of a message still in the merge, by id(message): it is done (and may be
    # acknowledged) once the last of them is processed.
    left: dict[int, int] = field(default_factory=dict)
    since_checkpoint: int = 0
    bin_evaluated: bool = False
    gave_up: set[str] = field(default_factory=set)  # topics whose backlog stopped holding
    pause: float = 0.0  # seconds the next checkpoint waits after the last one


@dataclass(slots=True)
class HandlerStats:
    received: int = 0
    skipped: int = 0  # records already inside a restored checkpoint
    released_alone: int = 0  # records merged while the other topic's queue was empty
    longest_wait: float = 0.0  # seconds the merge held a head back for the other topic, at most
    restored: int = 0  # countries loaded from the table
    unreadable: int = 0  # countries whose checkpoint could not be read: started afresh
    checkpoints: int = 0
    checkpoint_bytes: int = 0
    checkpoint_seconds: float = 0.0  # spent encoding checkpoints


def _why_waited(lead: float, lateness: float, nothing_yet: bool) -> str:
    if nothing_yet:
        return "nothing received from it"
    return f"{lead:.0f} s behind" if lead > lateness else "it has a backlog"


def backlog_seen(end: int | None, fetched_at: float | None, last: int, since: float) -> bool | None:
    """Whether records past offset `last` wait on the broker, from the partition's highwater
    `end` and the wall time of the fetch response that reported it: True (a backlog: records
    never leave the log, so an old highwater is as good as new), False (none, seen at or after
    `since`), or None (cannot tell: no highwater, or one older than `since`)."""
    if end is None:
        return None
    if last + 1 < end:
        return True
    return False if fetched_at is not None and fetched_at >= since else None


class RecordHandler:
    """Records in, events, dead letters, checkpoints and acknowledgements out."""

    def __init__(
        self,
        config: Config,
        topics: tuple[str, ...],
        load_state: Callable[[str], bytes | None],
        *,
        policy: CheckpointPolicy = "bin",
        merge_idle_seconds: float = 1.0,
        checkpoint_every_records: int = 5000,
        checkpoint_interval_seconds: float = 1.0,
        checkpoint_max_share: float = 0.1,
        backlog: Callable[[str, int, int, float], bool | None] | None = None,
        cost_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.pipeline = Pipeline(config)
        self.topics = topics
        self.load_state = load_state
        self.checkpoints = Checkpoints(
            policy, checkpoint_every_records, checkpoint_interval_seconds, checkpoint_max_share
        )
        self.merge_idle = merge_idle_seconds
        self.cost_clock = cost_clock  # times the encoding of a checkpoint
        # backlog(topic, partition, last offset received, since): more is waiting on the broker
        # (True), a fetch response at or after wall time `since` showed none (False), or the
        # consumer cannot tell (None).
        self.backlog = backlog or (lambda topic, partition, last, since: None)
        self.received: dict[TP, int] = {}
        self.partitions: dict[int, PartitionState] = {}
        self.offsets: dict[str, dict[TP, tuple[int, int]]] = {}  # country -> (offset, index in its
        # batch) of the last record folded in, per TP
        self.partition_of: dict[str, int] = {}  # country -> the partition its records come on
        # Per input topic-partition: every record up to this offset was acknowledged with a
        # checkpoint (as of the partition's last one).
        self.acked_through: dict[TP, int] = {}
        self.stats = HandlerStats()

    # -- intake -------------------------------------------------------------------------------

    def receive(self, inbound: Inbound, now: float) -> Output:
        """Take one consumed record; whatever it releases is processed, and its partition is
        checkpointed when due. Called with the record's event as Faust's current event."""
        out = Output()
        part = self._partition(inbound.partition, now)
        self.received[(inbound.topic, inbound.partition)] = inbound.offset
        self.stats.received += 1
        admitted = self._admit(inbound, part, now, out)
        if not admitted:
            part.unacked.append(inbound)  # dead or skipped, every record of it
        else:
            part.left[id(inbound)] = len(admitted)
            queue = part.queues[inbound.topic]
            for index, sample in admitted:
                queue.append((inbound, sample, index))
            newest = max(s.ts for _, s in admitted)
            part.newest[inbound.topic] = max(part.newest.get(inbound.topic, -inf), newest)
            part.waiting_since.pop(inbound.topic, None)
            part.gave_up.discard(inbound.topic)
            self._drain(inbound.partition, part, now, out)
        if self._checkpoint_due(part, now):
            self._checkpoint(inbound.partition, part, now, out)
        return out

    def tick(self, now: float) -> Output:
        """Release what waited long enough for the other topic; checkpoint partitions gone quiet.

        The caller must write a partition's checkpoints as if inside that partition's stream.
        """
        out = Output()
        for partition, part in list(self.partitions.items()):
            self._drain(partition, part, now, out)
            if self._checkpoint_due(part, now):
                self._checkpoint(partition, part, now, out)
        return out

    def revoke(self, partitions: set[int]) -> None:
        """Forget partitions: their state is reloaded from the table if they come back, and
        their unacknowledged records are read again from the last commit by whoever owns them."""
        for p in partitions:
            part = self.partitions.pop(p, None)
            if part is None:
                continue
            self.pipeline.forget(part.countries)
            for country in part.countries:
                self.offsets.pop(country, None)
                self.partition_of.pop(country, None)
        for tp in [tp for tp in self.received if tp[1] in partitions]:
            del self.received[tp]
            self.acked_through.pop(tp, None)

    def progress(self) -> str:
        """One line for the log: what came in, what waits in the merge, what was saved."""
        waiting = {
            p: {t: len(q) for t, q in part.queues.items()}
            for p, part in self.partitions.items()
            if any(part.queues.values())
        }
        s = self.stats
        return (
            f"{s.received} records received, {self.pipeline.accepted} used, "
            f"{sum(self.pipeline.totals().rejected.values())} rejected, {s.skipped} skipped as already "
            f"checkpointed, {s.released_alone} merged without the other topic; longest wait for "
            f"a topic {s.longest_wait:.1f} s; waiting in the merge: {waiting or 'none'}; "
            f"{s.checkpoints} checkpoints ({s.checkpoint_bytes:,} "
            f"bytes, {s.checkpoint_seconds:.1f} s), {s.restored} countries restored"
        )

    def reconfigure(self, config: Config) -> None:
        """A new detector config for every country, keeping all learned state."""
        self.pipeline.reconfigure(config)

    # -- processing ---------------------------------------------------------------------------

    def _partition(self, partition: int, now: float) -> PartitionState:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = PartitionState(
                {t: deque() for t in self.topics}, now
            )
        return part

    def _admit(
        self, inbound: Inbound, part: PartitionState, now: float, out: Output
    ) -> list[tuple[int | None, Sample]]:
        """Decode and check a message's records before the merge: those that go on, with their
        index in the batch (None for a message of one record); the others are dead letters or
        were folded into a restored checkpoint already."""
        decoded = decode_message(inbound.value, self.pipeline.config.max_record_bytes)
        out.records += len(decoded)
        batch = inbound.value.lstrip().startswith(b"[")
        admitted: list[tuple[int | None, Sample]] = []
        for i, d in enumerate(decoded):
            index = i if batch else None
            rejection = d if isinstance(d, Rejection) else self._refused(inbound, d, now)
            if rejection is not None:
                if index is not None and rejection.index is None:
                    rejection = replace(rejection, index=index)
                out.dead.append((inbound, rejection))
                continue
            assert not isinstance(d, Rejection)
            country = d.key.country
            self._ensure_loaded(country, inbound.partition, part)
            if self._already_folded(country, inbound, index):
                self.stats.skipped += 1
                continue
            admitted.append((index, d))
        return admitted

    def _refused(self, inbound: Inbound, sample: Sample, now: float) -> Rejection | None:
        """Why a decoded record may not go on: the wrong key or partition, or from the future."""
        country = sample.key.country
        if inbound.key != country.encode():
            # The key decides the partition, and the partition decides who holds the state.
            return Rejection(
                "wrong_key",
                f"message key {inbound.key!r} is not the record's country {country!r}",
                "validate",
            )
        home = self.partition_of.get(country)
        if home is not None and home != inbound.partition:
            return Rejection(
                "wrong_key",
                f"{country} records come on partition {home}, this one on partition "
                f"{inbound.partition}: every producer must partition by the country key "
                "with the same (murmur2) partitioner",
                "validate",
            )
        return self.pipeline.ahead_of_clock(sample.ts, now)

    def _already_folded(self, country: str, inbound: Inbound, index: int | None) -> bool:
        folded = self.offsets[country].get((inbound.topic, inbound.partition), (-1, 0))
        return (inbound.offset, index or 0) <= folded

    def _drain(self, partition: int, part: PartitionState, now: float, out: Output) -> None:
        while True:
            heads = {t: q[0][1].ts for t, q in part.queues.items() if q}
            if not heads:
                return
            topic = merge.first_topic(heads, self.topics)
            head = heads[topic]
            behind = merge.topics_behind(self.topics, heads, part.newest, head)
            if any(self._may_bring_more(t, head, partition, part, now) for t in behind):
                return
            if behind:
                self._released_alone(partition, topic, behind)
            inbound, sample, index = part.queues[topic].popleft()
            self._process(inbound, sample, index, part, now, out)
            if self.checkpoints.policy == "record":
                self._checkpoint(partition, part, now, out)

    def _may_bring_more(
        self, topic: str, head: float, partition: int, part: PartitionState, now: float
    ) -> bool:
        """Whether the merge should go on waiting for `topic` before releasing `head`
        (`merge.wait_for`). The wait counts from when it began; a topic that delivers a record
        is waited for afresh."""
        since = part.waiting_since.setdefault(topic, now)
        newest = part.newest.get(topic)
        # Nothing from the topic yet (a start, a restart, a partition just assigned): how far
        # behind it is cannot be known, so it is waited for as one far behind until a fetch shows
        # it caught up. Taken as level with the head, a restarted worker whose first probe fetch
        # came late could run traffic hours ahead, and the core would judge the probe feed silent.
        lead = head - newest if newest is not None else inf
        last = self.received.get((topic, partition), -1)
        backlog = self.backlog(topic, partition, last, since + self.merge_idle)
        lateness = self.pipeline.config.lateness_seconds
        decision = merge.wait_for(lead, now - since, backlog, self.merge_idle, lateness)
        self.stats.longest_wait = max(self.stats.longest_wait, now - since)
        if decision is merge.Wait.WAIT:
            return True
        if decision is merge.Wait.GIVE_UP and topic not in part.gave_up:
            part.gave_up.add(topic)
            log.warning(
                "partition %d: went on without %s after waiting %.0f s (%s)",
                partition,
                topic,
                now - since,
                _why_waited(lead, lateness, newest is None),
            )
        return False

    def _released_alone(self, partition: int, topic: str, behind: list[str]) -> None:
        self.stats.released_alone += 1
        n = self.stats.released_alone
        if n in (1, 10, 100, 1000) or not n % 10000:
            log.info(
                "partition %d: %s goes on without %s (%d records so far)",
                partition,
                topic,
                ", ".join(behind),
                n,
            )

    def _process(
        self,
        inbound: Inbound,
        sample: Sample,
        index: int | None,
        part: PartitionState,
        now: float,
        out: Output,
    ) -> None:
        country = sample.key.country
        left = part.left.pop(id(inbound)) - 1
        if left:
            part.left[id(inbound)] = left
        else:
            part.unacked.append(inbound)  # its last record: the message is done
        if self._already_folded(country, inbound, index):
            # Delivered again while its first copy waited in the queue (after a rebalance).
            self.stats.skipped += 1
            return
        result = self.pipeline.process_sample(sample, now)
        if result.rejection is not None:
            rejection = result.rejection
            out.dead.append(
                (inbound, rejection if index is None else replace(rejection, index=index))
            )
        else:
            out.processed.append((inbound, sample.ts))
        self.offsets[country][(inbound.topic, inbound.partition)] = (inbound.offset, index or 0)
        part.dirty.add(country)
        part.since_checkpoint += 1
        if result.events:
            out.events += result.events
        if result.events or result.advanced:
            part.bin_evaluated = True

    # -- state --------------------------------------------------------------------------------

    def _ensure_loaded(self, country: str, partition: int, part: PartitionState) -> None:
        if country in self.offsets:
            return
        self.partition_of[country] = partition
        part.countries.add(country)
        data = self.load_state(country)
        if data is None:
            self.offsets[country] = {}
            return
        try:
            checkpoint = Checkpoint.decode(data)
            self.pipeline.restore(country, checkpoint.state)
        except StateError as exc:
            # The documented fallback: the country starts afresh (it warms up again, as on a
            # new deployment) from the committed offsets, and says so loudly; the worker goes on.
            self.stats.unreadable += 1
            self.offsets[country] = {}
            log.error(
                "checkpoint of %s unreadable, starting it afresh: %s",
                country,
                exc,
                extra={"country": country, "reason": str(exc)},
            )
            return
        self.offsets[country] = checkpoint.offsets
        self.stats.restored += 1

    @staticmethod
    def _split_acks(part: PartitionState) -> tuple[list[Inbound], list[Inbound]]:
        """(may be acknowledged now, must wait): a record waits while a record of its own
        topic-partition before it is still in the merge. Faust commits over a single
        unacknowledged offset in front of acknowledged ones (faust-streaming #606), so a dead
        letter acked while an earlier record waits would lose that record in a crash."""
        heads = {topic: queue[0][0].offset for topic, queue in part.queues.items() if queue}
        ready: list[Inbound] = []
        held: list[Inbound] = []
        for inbound in part.unacked:
            head = heads.get(inbound.topic)
            (ready if head is None or inbound.offset < head else held).append(inbound)
        return ready, held

    def _mark_acked(self, partition: int, part: PartitionState) -> None:
        """Everything received is acknowledged now, but what still waits in the merge."""
        for topic, queue in part.queues.items():
            tp = (topic, partition)
            if queue:
                self.acked_through[tp] = queue[0][0].offset - 1
            elif tp in self.received:
                self.acked_through[tp] = self.received[tp]

    def _checkpoint_due(self, part: PartitionState, now: float) -> bool:
        if not part.dirty and not (part.unacked and self._split_acks(part)[0]):
            return False  # nothing changed, and no acknowledgement waits for a checkpoint
        return self.checkpoints.due(
            elapsed=now - part.last_checkpoint,
            pause=part.pause,
            records=part.since_checkpoint,
            bin_evaluated=part.bin_evaluated,
        )

    def _checkpoint(self, partition: int, part: PartitionState, now: float, out: Output) -> None:
        """The state of every changed country of one partition, and the acks it makes safe."""
        started = self.cost_clock()
        for country in part.dirty:
            snapshot = self.pipeline.snapshot(country)
            if snapshot is None:
                continue  # only rejections so far: nothing learned, nothing to keep
            data = Checkpoint(dict(self.offsets[country]), snapshot).encode()
            out.checkpoints.append((country, data))
            self.stats.checkpoint_bytes += len(data)
        self.stats.checkpoints += 1
        ready, part.unacked = self._split_acks(part)
        out.acks += [inbound.token for inbound in ready]
        self._mark_acked(partition, part)
        part.dirty = set()
        part.since_checkpoint = 0
        part.bin_evaluated = False
        part.last_checkpoint = now
        cost = self.cost_clock() - started
        part.pause = self.checkpoints.pause_after(cost)
        self.stats.checkpoint_seconds += cost
