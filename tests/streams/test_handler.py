"""The worker's record handler, record by record, against a small in-memory model of Kafka.

The model keeps each topic-partition as a list, acknowledgements as Faust counts them (the
committed offset is the end of the acknowledged prefix) and the state table as a dict, and
fetches the two input topics in uneven batches, as a real consumer may.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.config import Config, load_config, parse_config
from restrictwatch.detectors.records import Rejection
from restrictwatch.detectors.view import CountryView
from restrictwatch.streams.handler import (
    Checkpoint,
    CheckpointPolicy,
    Inbound,
    Output,
    RecordHandler,
    StateError,
    backlog_seen,
)
from restrictwatch.streams.kafka_io import Batcher, _route, batch_bytes
from restrictwatch.streams.merge import MAX_WAIT_SECONDS
from restrictwatch.streams.replay import replay
from restrictwatch.streams.settings import WorkerSettings
from tests.catalogue import stateless
from tests.conftest import START, diurnal, reach, traffic

DAY = 86400
SETTINGS = WorkerSettings()
TOPICS = (SETTINGS.traffic_topic, SETTINGS.reachability_topic)
TRAFFIC, REACH = TOPICS
TP = tuple[str, int]


def incident_lines(country: str = "PK", days: float = 9, block_day: float = 8) -> list[bytes]:
    """Total and platform traffic plus probes of one country; platform x blocked for 6 h."""
    block = (START + block_day * DAY, START + (block_day + 0.25) * DAY)
    out: list[bytes] = []
    t = START
    while t < START + days * DAY:
        blocked = block[0] <= t < block[1]
        out.append(traffic(t, diurnal(t, 100_000), country=country))
        out.append(
            traffic(t, diurnal(t, 5_000) * (0.1 if blocked else 1.0), platform="x", country=country)
        )
        out.append(reach(t, 40, 3 if blocked else 39, platform="x", country=country))
        t += 300
    return out


@dataclass(eq=False)
class Token:
    broker: Broker
    tp: TP
    offset: int

    def ack(self) -> None:
        self.broker.acked[self.tp].add(self.offset)


@dataclass
class Broker:
    """Input topics as lists, Faust's acknowledgement bookkeeping, and the state table."""

    partitions: int = 1
    logs: dict[TP, list[tuple[bytes | None, bytes]]] = field(default_factory=dict)
    acked: dict[TP, set[int]] = field(default_factory=dict)
    committed: dict[TP, int] = field(default_factory=dict)
    table: dict[str, bytes] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    dead: list[tuple[Inbound, Rejection]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for topic in TOPICS:
            for p in range(self.partitions):
                self.logs[(topic, p)] = []
                self.acked[(topic, p)] = set()
                self.committed[(topic, p)] = 0

    def partition_for(self, key: bytes | None) -> int:
        return 0 if key is None else zlib.crc32(key) % self.partitions

    def produce(self, lines: list[bytes]) -> None:
        for raw in lines:
            topic, key, _ = _route(SETTINGS, raw)
            self.logs[(topic, self.partition_for(key))].append((key, raw))

    def commit(self) -> None:
        """What Faust commits: the end of each partition's acknowledged prefix."""
        for tp, done in self.acked.items():
            n = self.committed[tp]
            while n in done:
                n += 1
            self.committed[tp] = n

    def publish(self, out: Output) -> None:
        self.events += out.events
        self.dead += out.dead
        self.table.update(dict(out.checkpoints))
        for token in out.acks:
            token.ack()

    def backlog(self, topic: str, partition: int, last: int, since: float) -> bool:
        return last + 1 < len(self.logs[(topic, partition)])  # always freshly fetched


@dataclass
class Consumer:
    """Fetches from the committed offsets in uneven batches, one partition's topics at a time."""

    broker: Broker
    handler: RecordHandler
    batch: dict[str, int] = field(default_factory=lambda: {TRAFFIC: 97, REACH: 613})
    clock: float = field(default_factory=time.time)
    position: dict[TP, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = dict(self.broker.committed)

    def run(self, limit: int | None = None) -> int:
        """Deliver up to `limit` records (all by default); returns how many were delivered."""
        delivered = 0
        while limit is None or delivered < limit:
            progressed = False
            for (topic, p), log in self.broker.logs.items():
                start = self.position[(topic, p)]
                end = min(len(log), start + self.batch[topic])
                for offset in range(start, end):
                    if limit is not None and delivered >= limit:
                        return delivered
                    key, value = log[offset]
                    self.clock += 0.0005
                    inbound = Inbound(
                        topic, p, offset, key, value, Token(self.broker, (topic, p), offset)
                    )
                    self.broker.publish(self.handler.receive(inbound, self.clock))
                    self.position[(topic, p)] = offset + 1
                    delivered += 1
                    progressed = True
            if not progressed:
                break
        return delivered

    def idle(self, seconds: float = 60.0) -> None:
        """Time passes with nothing new: the timer releases what waited and checkpoints."""
        self.clock += seconds
        self.broker.publish(self.handler.tick(self.clock))


def view(handler: RecordHandler, country: str) -> CountryView:
    v = handler.pipeline.view(country)
    assert v is not None
    return v


def new_handler(
    broker: Broker, config: Config | None = None, policy: CheckpointPolicy = "bin", **kw: Any
) -> RecordHandler:
    kw.setdefault("backlog", broker.backlog)
    kw.setdefault("cost_clock", lambda: 0.0)  # checkpoints cost nothing: no pause, deterministic
    return RecordHandler(config or load_config(), TOPICS, broker.table.get, policy=policy, **kw)


def identity(events: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(e["event_id"], e["seq"], e["status"]) for e in events]


def deduped(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One message per (event_id, seq); every copy must be byte-identical."""
    seen: dict[tuple[str, int], bytes] = {}
    out = []
    for e in events:
        key = (e["event_id"], e["seq"])
        body = orjson.dumps(e)
        if key in seen:
            assert seen[key] == body, f"{key} re-emitted with different content"
            continue
        seen[key] = body
        out.append(e)
    return out


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return incident_lines()


@pytest.fixture(scope="module")
def expected(lines: list[bytes]) -> list[dict[str, Any]]:
    events = replay(lines, load_config()).events
    assert [e["status"] for e in events] == ["open", "resolved"]
    return events


# -- same results as replay -------------------------------------------------------------------


@pytest.mark.parametrize("batch", [{TRAFFIC: 97, REACH: 613}, {TRAFFIC: 5000, REACH: 1}])
def test_events_equal_replay_whatever_the_fetch_order(
    lines: list[bytes], expected: list[dict[str, Any]], batch: dict[str, int]
) -> None:
    broker = Broker()
    broker.produce(lines)
    consumer = Consumer(broker, new_handler(broker), batch)
    consumer.run()
    consumer.idle()
    assert broker.events == expected  # whole messages, evidence and all
    assert broker.dead == []


def test_bad_records_are_dead_lettered_with_their_reason_and_change_nothing(
    lines: list[bytes], expected: list[dict[str, Any]]
) -> None:
    bad = stateless(START + DAY)
    mixed = list(lines)
    for i, entry in enumerate(bad):
        mixed.insert(100 + 150 * i, entry.raw)
    broker = Broker()
    broker.produce(mixed)
    consumer = Consumer(broker, new_handler(broker))
    consumer.run()
    consumer.idle()
    assert broker.events == expected
    got = sorted((inbound.value, r.error_type) for inbound, r in broker.dead)
    assert got == sorted((entry.raw, entry.error_type) for entry in bad)
    assert all(r.reason and r.stage in ("decode", "validate", "bin") for _, r in broker.dead)


def test_every_record_is_acknowledged_once_the_stream_has_gone_quiet(lines: list[bytes]) -> None:
    broker = Broker()
    broker.produce(lines)
    consumer = Consumer(broker, new_handler(broker))
    consumer.run()
    consumer.idle()
    broker.commit()
    assert broker.committed == {tp: len(log) for tp, log in broker.logs.items()}


# -- checkpoints and acknowledgements ---------------------------------------------------------


@pytest.mark.parametrize("policy", ["bin", "record", "interval"])
def test_a_record_is_acknowledged_only_once_a_checkpoint_holds_it(
    lines: list[bytes], policy: CheckpointPolicy
) -> None:
    broker = Broker()
    broker.produce(lines[:3000])
    handler = new_handler(broker, policy=policy, checkpoint_every_records=700)
    consumer = Consumer(broker, handler)
    for _ in range(30):
        consumer.run(limit=100)
        for tp, done in broker.acked.items():
            if not done:
                continue
            saved = Checkpoint.decode(broker.table["PK"]).offsets
            assert saved.get(tp, (-1, 0))[0] >= max(done), (policy, tp)


def test_a_dead_letter_is_not_acknowledged_past_a_record_still_waiting_in_the_merge() -> None:
    """Faust would commit over the waiting record (faust-streaming #606) and a crash lose it."""
    broker = Broker()
    handler = new_handler(broker, merge_idle_seconds=1.0, checkpoint_interval_seconds=0.1)
    now = time.time()
    waiting = Inbound(TRAFFIC, 0, 0, b"PK", traffic(START, 1.0), Token(broker, (TRAFFIC, 0), 0))
    garbage = Inbound(TRAFFIC, 0, 1, b"PK", b"{not json", Token(broker, (TRAFFIC, 0), 1))
    broker.publish(handler.receive(waiting, now))
    out = handler.receive(garbage, now)
    broker.publish(out)
    assert [r.error_type for _, r in out.dead] == ["json"]
    broker.publish(handler.tick(now + 0.5))  # a checkpoint is due on the timer
    assert broker.acked[(TRAFFIC, 0)] == set()
    assert TRAFFIC not in {tp[0] for tp in handler.acked_through}
    broker.publish(handler.tick(now + 1.5))  # the merge gave up waiting: both go
    broker.publish(handler.tick(now + 3))
    assert broker.acked[(TRAFFIC, 0)] == {0, 1}
    assert handler.acked_through[(TRAFFIC, 0)] == 1


def test_acknowledged_through_follows_the_checkpoints_and_stops_before_the_merge() -> None:
    broker = Broker()
    handler = new_handler(broker, merge_idle_seconds=1.0, checkpoint_interval_seconds=0.1)
    now = time.time()
    handler.receive(Inbound(REACH, 0, 0, b"PK", reach(START, 40, 39)), now)
    handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(START, 1.0)), now)
    handler.receive(Inbound(TRAFFIC, 0, 1, b"PK", traffic(START + 300, 1.0)), now)
    handler.tick(now + 0.5)  # checkpointed: traffic 1 still waits for the probes
    assert handler.acked_through == {(REACH, 0): 0, (TRAFFIC, 0): 0}
    handler.tick(now + 2)
    handler.tick(now + 4)
    assert handler.acked_through == {(REACH, 0): 0, (TRAFFIC, 0): 1}
    handler.revoke({0})
    assert handler.acked_through == {}


def test_per_record_policy_checkpoints_after_every_record_and_per_bin_once_per_bin(
    lines: list[bytes],
) -> None:
    counts = {}
    for policy in ("record", "bin", "interval"):
        broker = Broker()
        broker.produce(lines[:3000])
        handler = new_handler(broker, policy=policy)
        consumer = Consumer(broker, handler, {TRAFFIC: 2, REACH: 1})
        consumer.run()
        counts[policy] = handler.stats.checkpoints
    assert counts["record"] >= 2999  # the first record has to wait for the other topic
    assert 900 <= counts["bin"] <= 1100  # 1000 five-minute bins
    assert counts["interval"] < 10  # every 5000 records or each second of wall time


class Stopwatch:
    """A cost clock on which every checkpoint takes `cost` seconds."""

    def __init__(self, cost: float) -> None:
        self.cost = cost
        self.reading = 0.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        if self.calls % 2 == 0:  # read at the start and at the end of each checkpoint
            self.reading += self.cost
        return self.reading


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_checkpoints_take_at_most_their_share_of_the_time(lines: list[bytes], share: float) -> None:
    broker = Broker()
    broker.produce(lines[:3000])
    # 1000 bins in 1.5 s of (the consumer's) wall time; each checkpoint costs 0.01 s
    handler = new_handler(broker, checkpoint_max_share=share, cost_clock=Stopwatch(0.01))
    consumer = Consumer(broker, handler, {TRAFFIC: 2, REACH: 1})
    consumer.run()
    pause = 0.01 * (1 / share - 1)
    assert handler.stats.checkpoints == pytest.approx(1.5 / pause, rel=0.2)
    assert handler.stats.checkpoint_seconds == pytest.approx(0.01 * handler.stats.checkpoints)
    consumer.idle()  # the pause does not hold back the last acks for ever
    broker.commit()
    assert broker.committed == {tp: len(log) for tp, log in broker.logs.items()}


def test_checkpoints_per_record_are_never_paused(lines: list[bytes]) -> None:
    broker = Broker()
    broker.produce(lines[:300])
    handler = new_handler(broker, policy="record", cost_clock=Stopwatch(1.0))
    Consumer(broker, handler, {TRAFFIC: 2, REACH: 1}).run()
    assert handler.stats.checkpoints >= 299


def test_the_checkpoint_share_must_be_a_fraction() -> None:
    for share in (0.0, 1.5):
        with pytest.raises(ValueError, match="checkpoint_max_share"):
            new_handler(Broker(), checkpoint_max_share=share)


# -- crash and restart ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "changelog", "crash_at"),  # crash in warm-up, just before or inside the incident
    [
        ("bin", "latest", 2000),
        ("bin", "at_commit", 2000),
        ("bin", "latest", 7040),
        ("bin", "at_commit", 7300),
        ("record", "latest", 7300),
        ("record", "at_commit", 7040),
        ("interval", "latest", 7300),
        ("interval", "at_commit", 7040),
    ],
)
def test_a_crashed_worker_resumes_without_losing_or_duplicating_events(
    lines: list[bytes],
    expected: list[dict[str, Any]],
    policy: CheckpointPolicy,
    changelog: str,
    crash_at: int,
) -> None:
    broker = Broker()
    broker.produce(lines)
    first = Consumer(broker, new_handler(broker, policy=policy, checkpoint_every_records=500))
    table_at_commit: dict[str, bytes] = {}
    delivered = 0
    while delivered < crash_at:
        delivered += first.run(limit=min(250, crash_at - delivered))
        broker.commit()  # Faust flushes the changelog before it commits
        table_at_commit = dict(broker.table)
    first.run(limit=137)  # processed, maybe checkpointed, never committed: then kill -9
    emitted_before = list(broker.events)
    if changelog == "at_commit":
        broker.table = table_at_commit  # later checkpoints never reached the changelog
    for tp in broker.acked:
        broker.acked[tp] = set(range(broker.committed[tp]))

    second = Consumer(broker, new_handler(broker, policy=policy, checkpoint_every_records=500))
    second.run()
    second.idle()

    assert broker.events[: len(emitted_before)] == emitted_before
    assert deduped(broker.events) == expected
    broker.commit()
    assert broker.committed == {tp: len(log) for tp, log in broker.logs.items()}


def checkpointed(lines: list[bytes]) -> tuple[Broker, Consumer]:
    """A broker whose table holds the checkpoint of the first 4,000 records, committed."""
    broker = Broker()
    broker.produce(lines[:4000])
    first = Consumer(broker, new_handler(broker))
    first.run()
    first.idle()
    broker.commit()
    return broker, first


def test_a_restored_country_is_not_learned_again(lines: list[bytes]) -> None:
    broker, first = checkpointed(lines)
    series_before = view(first.handler, "PK").series
    second = new_handler(broker)
    broker.produce(lines[4000:4003])
    consumer = Consumer(broker, second)
    consumer.run()
    assert second.stats.restored == 1
    assert view(second, "PK").series == series_before
    assert view(second, "PK").max_ts >= orjson.loads(lines[3999])["ts"]


# -- partitions -------------------------------------------------------------------------------


def test_revoked_partitions_are_forgotten_and_reloaded_from_the_table() -> None:
    broker = Broker(partitions=2)
    pk, ru = incident_lines("PK", days=2), incident_lines("RU", days=2)
    assert broker.partition_for(b"PK") != broker.partition_for(b"RU")
    broker.produce(pk[:1000] + ru[:1000])
    handler = new_handler(broker)
    consumer = Consumer(broker, handler)
    consumer.run()
    consumer.idle()
    broker.commit()
    pk_partition = broker.partition_for(b"PK")

    handler.revoke({pk_partition})
    assert set(handler.pipeline.countries()) == {"RU"}
    assert pk_partition not in handler.partitions
    broker.produce(pk[1000:1003])
    Consumer(broker, handler).run()
    assert set(handler.pipeline.countries()) == {"RU", "PK"}
    assert handler.stats.restored == 1


def test_a_country_arriving_on_a_second_partition_is_refused() -> None:
    handler = new_handler(Broker())
    now = time.time()
    record = traffic(START, 1000.0)
    out = handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", record), now)
    assert out.dead == []
    out = handler.receive(Inbound(TRAFFIC, 1, 0, b"PK", traffic(START + 300, 1000.0)), now)
    assert [r.error_type for _, r in out.dead] == ["wrong_key"]
    assert "partition 0" in out.dead[0][1].reason


@pytest.mark.parametrize("key", [None, b"IR", b"pk"])
def test_a_record_keyed_other_than_by_its_country_is_refused(key: bytes | None) -> None:
    handler = new_handler(Broker())
    out = handler.receive(Inbound(TRAFFIC, 0, 7, key, traffic(START, 1000.0)), time.time())
    assert [(r.error_type, r.stage) for _, r in out.dead] == [("wrong_key", "validate")]
    assert out.dead[0][0].offset == 7


# -- the merge --------------------------------------------------------------------------------


def records(topic: str, lines: list[bytes], first_offset: int = 0) -> Iterator[Inbound]:
    for i, raw in enumerate(lines):
        yield Inbound(topic, 0, first_offset + i, b"PK", raw)


def test_the_merge_waits_for_the_other_topic_then_goes_on_alone() -> None:
    handler = new_handler(Broker(), merge_idle_seconds=1.0)
    now = time.time()
    for inbound in records(TRAFFIC, [traffic(START + 300 * i, 1000.0) for i in range(3)]):
        handler.receive(inbound, now)
    assert len(handler.partitions[0].queues[TRAFFIC]) == 3  # probes may still come earlier
    assert f"waiting in the merge: {{0: {{'{TRAFFIC}': 3, '{REACH}': 0}}}}" in handler.progress()
    handler.tick(now + 0.5)
    assert len(handler.partitions[0].queues[TRAFFIC]) == 3
    handler.tick(now + 1.5)
    assert not handler.partitions[0].queues[TRAFFIC]
    assert handler.pipeline.accepted == 3


def test_the_merge_orders_the_two_topics_by_event_time() -> None:
    seen: list[float] = []
    handler = new_handler(Broker())
    process = handler.pipeline.process_sample

    def spy(sample: Any, now: float | None = None) -> Any:
        seen.append(sample.ts)
        return process(sample, now)

    handler.pipeline.process_sample = spy  # type: ignore[method-assign]
    now = time.time()
    for inbound in records(TRAFFIC, [traffic(START + 600 * i, 1.0) for i in range(5)]):
        handler.receive(inbound, now)
    for inbound in records(REACH, [reach(START + 600 * i + 300, 40, 39) for i in range(5)]):
        handler.receive(inbound, now)
    handler.tick(now + 5)
    assert seen == sorted(seen) and len(seen) == 10


def test_a_topic_with_a_backlog_holds_the_merge_until_its_records_come() -> None:
    backlog = {REACH: True}
    handler = new_handler(
        Broker(), merge_idle_seconds=1.0, backlog=lambda t, p, last, since: backlog.get(t, False)
    )
    now = time.time()
    for inbound in records(TRAFFIC, [traffic(START + 300 * i, 1.0) for i in range(3)]):
        handler.receive(inbound, now)
    handler.tick(now + 5)
    assert len(handler.partitions[0].queues[TRAFFIC]) == 3  # reachability is still on its way
    handler.tick(now + MAX_WAIT_SECONDS + 1)
    assert not handler.partitions[0].queues[TRAFFIC]  # a backlog that never comes stops holding


def test_after_a_quiet_spell_the_merge_waits_again_for_the_other_topic() -> None:
    """The wait counts from when it began, not from when the other queue ran empty: after an
    idle hour, a burst of one topic waits for the other's burst as it did at the start."""
    handler = new_handler(Broker(), merge_idle_seconds=1.0)
    now = time.time()
    handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(START, 1.0)), now)
    handler.receive(Inbound(REACH, 0, 0, b"PK", reach(START, 40, 39)), now)
    assert handler.pipeline.accepted == 2
    later = now + 3600
    handler.receive(Inbound(TRAFFIC, 0, 1, b"PK", traffic(START + 300, 1.0)), later)
    handler.tick(later + 0.5)
    assert handler.pipeline.accepted == 2  # probes for that time may still come
    handler.receive(Inbound(REACH, 0, 1, b"PK", reach(START + 300, 40, 39)), later + 0.6)
    assert handler.pipeline.accepted == 4  # they came: both go, in event-time order


def test_a_topic_far_behind_is_waited_for_longer_until_it_is_known_to_be_caught_up() -> None:
    """Released an hour ahead, traffic would make the probe feed look silent to the core: while
    the consumer cannot tell whether the probe topic has a backlog, the merge waits for it."""
    handler = new_handler(Broker(), merge_idle_seconds=1.0, backlog=lambda t, p, last, s: None)
    now = time.time()
    handler.receive(Inbound(REACH, 0, 0, b"PK", reach(START, 40, 39)), now)
    handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(START, 1.0)), now)
    assert handler.pipeline.accepted == 2
    near, far = traffic(START + 300, 1.0), traffic(START + 3900, 1.0)
    handler.receive(Inbound(TRAFFIC, 0, 1, b"PK", near), now + 1)
    handler.tick(now + 2.5)
    assert handler.pipeline.accepted == 3  # 5 min ahead of the probes: a short wait
    handler.receive(Inbound(TRAFFIC, 0, 2, b"PK", far), now + 3)
    handler.tick(now + 10)
    assert handler.pipeline.accepted == 3  # an hour ahead: wait for the probes
    handler.tick(now + 2.5 + MAX_WAIT_SECONDS)
    assert handler.pipeline.accepted == 4  # they never came


def test_a_topic_nothing_came_from_yet_is_waited_for_as_one_far_behind() -> None:
    """A restarted worker knows nothing of the probe topic until its first fetch comes back:
    released after the short wait, traffic ran hours ahead and the core judged probes silent."""
    handler = new_handler(Broker(), merge_idle_seconds=1.0, backlog=lambda t, p, last, s: None)
    now = time.time()
    for inbound in records(TRAFFIC, [traffic(START + 300 * i, 1.0) for i in range(24)]):
        handler.receive(inbound, now)
    handler.tick(now + 10)
    assert handler.pipeline.accepted == 0  # the probes may be two hours behind
    for inbound in records(REACH, [reach(START + 300 * i, 40, 39) for i in range(24)]):
        handler.receive(inbound, now + 11)
    handler.tick(now + 12)
    assert handler.pipeline.accepted == 48  # all of them, in event-time order
    assert handler.stats.released_alone == 0


def test_a_topic_never_fetched_stops_holding_after_the_long_wait() -> None:
    handler = new_handler(Broker(), merge_idle_seconds=1.0, backlog=lambda t, p, last, s: None)
    now = time.time()
    for inbound in records(TRAFFIC, [traffic(START + 300 * i, 1.0) for i in range(3)]):
        handler.receive(inbound, now)
    handler.tick(now + MAX_WAIT_SECONDS - 1)
    assert handler.pipeline.accepted == 0
    handler.tick(now + MAX_WAIT_SECONDS + 1)
    assert handler.pipeline.accepted == 3


def test_a_caught_up_topic_far_behind_is_a_silent_source_and_waited_for_briefly() -> None:
    """Probes silenced by a shutdown: nothing waits on the broker, so holding traffic back for
    long would only delay the event (the core judges the silence as replay does)."""
    handler = new_handler(Broker(), merge_idle_seconds=1.0)  # the Broker's topics: caught up
    now = time.time()
    handler.receive(Inbound(REACH, 0, 0, b"PK", reach(START, 40, 39)), now)
    handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(START, 1.0)), now)
    handler.receive(Inbound(TRAFFIC, 0, 1, b"PK", traffic(START + 3900, 1.0)), now + 1)
    handler.tick(now + 1.5)
    assert handler.pipeline.accepted == 2
    handler.tick(now + 2.5)
    assert handler.pipeline.accepted == 3


def test_caught_up_counts_only_from_a_fetch_after_the_short_wait() -> None:
    """A highwater fetched before the short wait ran out may predate records still on their way
    (the consumer skips partitions while others' records wait): it does not end a long wait."""
    fetched = {"at": 0.0}
    handler = new_handler(
        Broker(),
        merge_idle_seconds=1.0,
        backlog=lambda t, p, last, since: False if fetched["at"] >= since else None,
    )
    now = time.time()
    fetched["at"] = now
    handler.receive(Inbound(REACH, 0, 0, b"PK", reach(START, 40, 39)), now)
    handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(START, 1.0)), now)
    handler.receive(Inbound(TRAFFIC, 0, 1, b"PK", traffic(START + 3900, 1.0)), now + 1)
    fetched["at"] = now + 1.5  # caught up, but seen only half a second into the wait
    handler.tick(now + 5)
    assert handler.pipeline.accepted == 2
    fetched["at"] = now + 5.5  # seen caught up again, after the short wait: a silent source
    handler.tick(now + 5.6)
    assert handler.pipeline.accepted == 3


def test_a_backlog_is_told_from_the_highwater_and_caught_up_only_from_a_fresh_fetch() -> None:
    assert backlog_seen(end=None, fetched_at=None, last=5, since=100.0) is None  # never fetched
    assert backlog_seen(end=9, fetched_at=50.0, last=5, since=100.0) is True  # old, still true
    assert backlog_seen(end=6, fetched_at=100.0, last=5, since=100.0) is False
    assert backlog_seen(end=6, fetched_at=99.9, last=5, since=100.0) is None  # may be stale
    assert backlog_seen(end=6, fetched_at=None, last=5, since=100.0) is None


def test_a_topic_already_past_the_next_record_does_not_hold_it_back() -> None:
    handler = new_handler(Broker(), merge_idle_seconds=1.0)
    now = time.time()
    handler.receive(Inbound(REACH, 0, 0, b"PK", reach(START + 600, 40, 39)), now)
    handler.tick(now + 1.5)  # no traffic came: the probes went on alone
    assert handler.pipeline.accepted == 1
    handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(START + 300, 1.0)), now + 1.6)
    assert handler.pipeline.accepted == 2  # probes are past 300 already: nothing to wait for


def test_a_far_future_record_is_rejected_before_it_can_block_the_merge() -> None:
    handler = new_handler(Broker())
    now = time.time()
    out = handler.receive(Inbound(TRAFFIC, 0, 0, b"PK", traffic(now + 3 * DAY, 1.0)), now)
    assert [r.error_type for _, r in out.dead] == ["future"]
    assert not handler.partitions[0].queues[TRAFFIC]


# -- config and state -------------------------------------------------------------------------


def test_reconfigure_keeps_state_and_new_events_carry_the_new_config_version(
    lines: list[bytes], expected: list[dict[str, Any]]
) -> None:
    broker = Broker()
    broker.produce(lines)
    handler = new_handler(broker)
    consumer = Consumer(broker, handler)
    consumer.run(limit=7000)  # warmed up, before the incident
    series = len(view(handler, "PK").series)
    renamed = parse_config({"version": "reloaded-2"})
    handler.reconfigure(renamed)
    consumer.run()
    consumer.idle()
    assert len(view(handler, "PK").series) == series
    assert identity(broker.events) == identity(expected)  # nothing re-learned or re-opened
    assert {e["config_version"] for e in broker.events} == {renamed.fingerprint}


def test_checkpoints_round_trip_and_garbage_is_refused() -> None:
    cp = Checkpoint({(TRAFFIC, 0): (41, 0), (REACH, 0): (7, 3)}, b"state-bytes")
    assert Checkpoint.decode(cp.encode()) == cp
    with pytest.raises(StateError, match="not a restrictwatch checkpoint"):
        Checkpoint.decode(b'{"json": "from an older worker"}')
    with pytest.raises(StateError, match="not a restrictwatch checkpoint"):
        Checkpoint.decode(b"rw-state-1:" + zlib.compress(b"a pickle of the previous release"))
    with pytest.raises(StateError, match="unreadable"):
        Checkpoint.decode(cp.encode()[:20])


def test_an_unreadable_checkpoint_starts_its_country_afresh_and_the_worker_goes_on(
    lines: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    broker, first = checkpointed(lines)
    good = broker.table["PK"]
    broker.table["PK"] = good[:-40]  # the state cut short: its offsets still read
    second = new_handler(broker)
    broker.produce(lines[4000:4003])
    with caplog.at_level("ERROR", logger="restrictwatch.worker"):
        Consumer(broker, second).run()
    assert second.stats.unreadable == 1 and second.stats.restored == 0
    assert "checkpoint of PK unreadable, starting it afresh" in caplog.text
    assert second.pipeline.countries() == ["PK"]  # the records after the commit, from scratch
    assert view(second, "PK").bins_closed < view(first.handler, "PK").bins_closed


# -- batches ----------------------------------------------------------------------------------


def batched(lines: list[bytes], size: int = 50) -> list[bytes]:
    """The lines as `restrictwatch produce` sends them: batches per topic, country and bin."""
    batcher = Batcher(size, 300)
    out = []
    for n, raw in enumerate(lines):
        topic, key, ts = _route(SETTINGS, raw)
        assert key is not None and ts is not None
        out += [batch_bytes(records) for _, _, records in batcher.add(topic, key, ts, n, raw)]
    return out + [batch_bytes(records) for _, _, records in batcher.flush()]


def test_batches_give_exactly_the_events_of_single_records(
    lines: list[bytes], expected: list[dict[str, Any]]
) -> None:
    messages = batched(lines)
    assert len(messages) < len(lines) * 0.7  # batches of several records, not one by one
    broker = Broker()
    broker.produce(messages)
    consumer = Consumer(broker, new_handler(broker), batch={TRAFFIC: 7, REACH: 3})
    consumer.run()
    consumer.idle()
    assert [orjson.dumps(e) for e in broker.events] == [orjson.dumps(e) for e in expected]
    assert replay(messages, load_config()).events == expected  # replay reads both forms too
    broker.commit()
    assert all(broker.committed[tp] == len(log) for tp, log in broker.logs.items())


def test_a_bad_record_of_a_batch_is_dead_lettered_alone_with_its_index() -> None:
    good = [traffic(START + i * 300, 1000.0) for i in range(3)]
    bad = traffic(START + 150, float("nan"))[:-1] + b',"extra":1}'
    message = b"[" + b",".join([good[0], bad, good[1], good[2]]) + b"]"
    broker = Broker()
    broker.produce([message])
    handler = new_handler(broker)
    consumer = Consumer(broker, handler)
    consumer.run()
    consumer.idle()
    ((inbound, rejection),) = broker.dead
    assert (rejection.error_type, rejection.index, inbound.value) == ("schema", 1, message)
    assert handler.pipeline.totals().accepted == 3  # its neighbours were used
    broker.commit()
    assert broker.committed[(TRAFFIC, 0)] == 1  # acknowledged once, as one message


def in_chunks(lines: list[bytes], sizes: dict[str, int]) -> list[bytes]:
    """Each topic's records in batches of its size, whatever their bins: a batch spans hours,
    and the two topics' batches end at different times, so the merge releases a batch a few
    records at a time, between the other topic's."""
    by_topic: dict[str, list[bytes]] = {}
    for raw in lines:
        by_topic.setdefault(_route(SETTINGS, raw)[0], []).append(raw)
    chunks = [
        (orjson.loads(records[k])["ts"], b"[" + b",".join(records[k : k + sizes[topic]]) + b"]")
        for topic, records in by_topic.items()
        for k in range(0, len(records), sizes[topic])
    ]
    return [message for _, message in sorted(chunks, key=lambda c: c[0])]


@pytest.mark.parametrize("cut", [40, 97, 151])
def test_a_worker_stopped_inside_a_batch_resumes_without_losing_or_repeating_a_record(
    lines: list[bytes], expected: list[dict[str, Any]], cut: int
) -> None:
    broker = Broker()
    broker.produce(in_chunks(lines, {TRAFFIC: 45, REACH: 31}))
    first = Consumer(broker, new_handler(broker, policy="record"), batch={TRAFFIC: 3, REACH: 1})
    first.run(limit=cut)
    # Stopped with a message part processed (and checkpointed record by record) and part waiting
    # in the merge: it is not acknowledged, so it comes again, and only its rest is processed.
    assert any(part.left for part in first.handler.partitions.values())
    broker.commit()
    second = Consumer(broker, new_handler(broker, policy="record"))
    second.run()
    second.idle()
    assert second.handler.stats.skipped > 0
    assert [orjson.dumps(e) for e in deduped(broker.events)] == [orjson.dumps(e) for e in expected]
