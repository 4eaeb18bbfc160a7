"""The worker's per-record logic, without Faust: decode, merge the input topics by event time,
run the core pipeline, and decide when state is checkpointed and offsets may be acknowledged.

Kept apart from the Faust wiring so it can be tested record by record.

Ordering. Traffic and reachability arrive on two topics keyed by country; a consumer may fetch
hours of one before the other. Like Kafka Streams' task synchronisation, each partition's two
queues are merged by event time, and a queue that stays empty for `merge_idle_seconds` of wall
time stops holding the other back. Each source keeps its own order, so the core sees what
`replay` sees.

Delivery. A record's offset is acknowledged only after the state that includes it has been
checkpointed (per evaluated bin, every N records, or on a timer); the commit flushes the
producer first. After a crash the worker re-reads from the last commit onto the last checkpoint:
records already in that checkpoint are skipped by offset, the rest are re-processed and
re-emit byte-identical events.
"""

from __future__ import annotations

import logging
import pickle
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detectors.config import Config
from detectors.monitor import CountryMonitor
from detectors.pipeline import Pipeline
from detectors.records import Rejection, Sample, decode_sample

TP = tuple[str, int]
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
    events: list[dict[str, Any]] = field(default_factory=list)
    dead: list[tuple[Inbound, Rejection]] = field(default_factory=list)
    checkpoints: dict[str, bytes] = field(default_factory=dict)
    acks: list[Any] = field(default_factory=list)
    processed: list[tuple[Inbound, float]] = field(default_factory=list)  # (record, event ts)

    def extend(self, other: Output) -> None:
        self.events += other.events
        self.dead += other.dead
        self.checkpoints.update(other.checkpoints)
        self.acks += other.acks
        self.processed += other.processed


@dataclass(slots=True)
class PartitionQueues:
    queues: dict[str, deque[tuple[Inbound, Sample]]]
    empty_since: dict[str, float]


class RecordHandler:
    def __init__(
        self,
        config: Config,
        topics: tuple[str, ...],
        load_state: Callable[[str], bytes | None],
        merge_idle_seconds: float = 1.0,
        checkpoint_every_records: int = 5000,
        checkpoint_interval_seconds: float = 1.0,
        backlog: Callable[[str, int, int], bool] | None = None,
    ) -> None:
        self.pipeline = Pipeline(config)
        self.topics = topics
        self.load_state = load_state
        self.merge_idle = merge_idle_seconds
        self.checkpoint_every = checkpoint_every_records
        self.checkpoint_interval = checkpoint_interval_seconds
        # backlog(topic, partition, last offset received): more is waiting on the broker.
        self.backlog = backlog or (lambda topic, partition, last: False)
        self.received: dict[TP, int] = {}
        self.partitions: dict[int, PartitionQueues] = {}
        self.offsets: dict[str, dict[TP, int]] = {}
        self.partition_of: dict[str, int] = {}
        self.dirty: set[str] = set()
        self.unacked: list[Any] = []
        self.since_checkpoint = 0
        self.last_checkpoint = 0.0
        self.skipped = 0
        self.released_alone = 0
        self.checkpoint_count = 0
        self.checkpoint_bytes = 0

    # -- intake -------------------------------------------------------------------------------

    def receive(self, inbound: Inbound, now: float) -> Output:
        out = Output()
        self.received[(inbound.topic, inbound.partition)] = inbound.offset
        decoded = decode_sample(inbound.value, self.pipeline.config.max_record_bytes)
        if isinstance(decoded, Rejection):
            self._dead(out, inbound, decoded)
            return out
        country = decoded.key.country
        if inbound.key is not None and inbound.key != country.encode():
            self._dead(
                out,
                inbound,
                Rejection(
                    "wrong_key",
                    f"message key {inbound.key!r} is not the record's country {country!r}",
                    "validate",
                ),
            )
            return out
        limit = self.pipeline.config.max_future_seconds
        if decoded.ts > now + limit:
            # Rejected before the merge: a far-future record at the head of its queue would hold
            # the other topic back for ever.
            self._dead(
                out,
                inbound,
                Rejection(
                    "future",
                    f"ts {decoded.ts:.0f} is more than {limit} s ahead of the wall clock",
                    "validate",
                ),
            )
            return out
        self._ensure_loaded(country, inbound.partition)
        tp = (inbound.topic, inbound.partition)
        if inbound.offset <= self.offsets[country].get(tp, -1):
            self.skipped += 1  # already inside the checkpointed state
            self.unacked.append(inbound.token)
            return out
        part = self._queues(inbound.partition, now)
        queue = part.queues.setdefault(inbound.topic, deque())
        queue.append((inbound, decoded))
        out.extend(self._drain(inbound.partition, now))
        return out

    def tick(self, now: float) -> Output:
        """Release what waited long enough, and checkpoint on the timer."""
        out = Output()
        for partition in list(self.partitions):
            out.extend(self._drain(partition, now))
        if self.unacked and now - self.last_checkpoint >= self.checkpoint_interval:
            out.extend(self.checkpoint(now))
        return out

    def revoke(self, partitions: set[int]) -> None:
        """Forget partitions another worker now owns; their unacknowledged records go with them."""
        for p in partitions:
            self.partitions.pop(p, None)
        gone = [c for c, p in self.partition_of.items() if p in partitions]
        for country in gone:
            self.pipeline.monitors.pop(country, None)
            self.offsets.pop(country, None)
            self.partition_of.pop(country, None)
            self.dirty.discard(country)

    # -- processing ---------------------------------------------------------------------------

    def _queues(self, partition: int, now: float) -> PartitionQueues:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = PartitionQueues(
                {t: deque() for t in self.topics}, dict.fromkeys(self.topics, now)
            )
        return part

    def _drain(self, partition: int, now: float) -> Output:
        out = Output()
        part = self.partitions.get(partition)
        if part is None:
            return out
        while True:
            ready = [t for t, q in part.queues.items() if q]
            if not ready:
                break
            waiting = [
                t
                for t, q in part.queues.items()
                if not q and now - part.empty_since[t] < self.merge_idle
            ]
            if waiting:
                break  # the other topic may still bring earlier records
            topic = min(ready, key=lambda t: part.queues[t][0][1].ts)
            if len(ready) < len(part.queues):
                self.released_alone += 1
                if self.released_alone <= 3 or self.released_alone % 10000 == 0:
                    log.info(
                        "partition %d: %s goes on alone (%d times so far; received %s)",
                        partition,
                        topic,
                        self.released_alone,
                        self.received,
                    )
            inbound, sample = part.queues[topic].popleft()
            if not part.queues[topic]:
                part.empty_since[topic] = now
            out.extend(self._process(inbound, sample, now))
        return out

    def _may_bring_more(
        self, topic: str, partition: int, part: PartitionQueues, now: float
    ) -> bool:
        """An empty queue holds the others back while its topic has a backlog on the broker, or
        for `merge_idle` seconds when we cannot tell (a consumer may fetch hours of one topic
        before the first batch of the other)."""
        if self.backlog(topic, partition, self.received.get((topic, partition), -1)):
            return True
        return now - part.empty_since[topic] < self.merge_idle

    def _process(self, inbound: Inbound, sample: Sample, now: float) -> Output:
        out = Output()
        country = sample.key.country
        monitor_before = self.pipeline.monitors.get(country)
        evaluated_before = monitor_before.evaluated_until if monitor_before else None
        result = self.pipeline.process_sample(sample, now)
        if result.rejection is not None:
            self._dead(out, inbound, result.rejection)
        else:
            out.processed.append((inbound, sample.ts))
            self.unacked.append(inbound.token)
        self.offsets[country][(inbound.topic, inbound.partition)] = inbound.offset
        self.dirty.add(country)
        self.since_checkpoint += 1
        out.events += result.events
        monitor = self.pipeline.monitors.get(country)
        bin_evaluated = monitor is not None and monitor.evaluated_until != evaluated_before
        if result.events or bin_evaluated or self.since_checkpoint >= self.checkpoint_every:
            out.extend(self.checkpoint(now))
        return out

    def _dead(self, out: Output, inbound: Inbound, rejection: Rejection) -> None:
        out.dead.append((inbound, rejection))
        self.unacked.append(inbound.token)

    # -- state --------------------------------------------------------------------------------

    def _ensure_loaded(self, country: str, partition: int) -> None:
        self.partition_of[country] = partition
        if country in self.offsets:
            return
        data = self.load_state(country)
        if data is None:
            self.offsets[country] = {}
            return
        saved = pickle.loads(data)
        self.offsets[country] = saved["offsets"]
        self.pipeline.monitors[country] = CountryMonitor.from_bytes(
            saved["monitor"], self.pipeline.config
        )

    def checkpoint(self, now: float) -> Output:
        """State of every changed country, and the acknowledgements it makes safe."""
        out = Output()
        for country in self.dirty:
            monitor = self.pipeline.monitors.get(country)
            if monitor is None:
                continue
            data = pickle.dumps(
                {"offsets": dict(self.offsets[country]), "monitor": monitor.to_bytes()},
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            out.checkpoints[country] = data
            self.checkpoint_bytes += len(data)
        self.checkpoint_count += 1
        self.dirty.clear()
        out.acks, self.unacked = self.unacked, []
        self.since_checkpoint = 0
        self.last_checkpoint = now
        return out

    def reconfigure(self, config: Config) -> None:
        self.pipeline.reconfigure(config)
