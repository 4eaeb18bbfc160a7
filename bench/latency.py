"""Latency from a bin's watermark passing to its event on the events topic, through a real broker.

    python -m bench.latency [--rates 1000,3000] [--live-days 3] [--batch N] [--write]

Starts a private broker (deploy/kafka/kafka.sh, port 29092, its own data dir). For each rate, a
fresh worker on fresh topics with 16 partitions, six scenarios (one country each, each country
on a partition of its own): all but their last `--live-days` days are sent as fast as they go,
to warm the detectors up; once the worker has committed them, the rest is sent as a live feed
would be, all countries at once, each in event-time order, at the rate (of records). Both go as
`restrictwatch produce --batch N` sends them (its own code: batches of up to N records per topic,
country and bin, a batch going out once the record that closes it is due; 1, the default: one
record per message). Every message is sent with its wall-clock send time as its Kafka timestamp;
the worker's producer stamps each event message with its own send time.

A bin is evaluated when the watermarks of all its country's live sources have passed it (a source
silent for `source_silence_seconds` stops counting). Which record does that for each event is
found by replaying the same records through the core in the order they were sent, which emits
the event while processing it; the latency is the event message's timestamp minus the send time
of the message carrying that record. One clock. Per rate it also reports the send rate reached,
the worker's lag when the live feed ended (records sent but not committed) and how long it took
to commit them all, and the load average (/proc/loadavg) then.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from bench.markdown import replace_section
from bench.worker_perf import PORT, Prefix, broker, records_before
from bench.workers import start_worker, stop_worker
from restrictwatch.detectors.config import Config, load_config
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.records import parse_ts
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.kafka_io import (
    Batch,
    Batcher,
    batch_bytes,
    batch_caps,
    create_topics,
    messages_per_line,
    read_message_limits,
)
from restrictwatch.streams.settings import WorkerSettings

# One country each, on distinct partitions of 16 (murmur2 of the country key).
SCENARIOS = (
    "pk-2023-12-17",
    "ir-national-shutdown",
    "tr-dns-and-sni-blocks",
    "et-partial-blocking",
    "ru-x-throttling",
    "iq-exam-shutdowns",
)
PARTITIONS = 16


def interleave(feeds: list[list[bytes]]) -> list[bytes]:
    """All feeds at once, each in its own order, all finishing together."""
    keyed = [
        (i / len(feed), n, line) for n, feed in enumerate(feeds) for i, line in enumerate(feed)
    ]
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [line for _, _, line in keyed]


def wait_until_assigned(settings: WorkerSettings, worker: subprocess.Popen[bytes]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.returncode}")
            try:
                group = admin.describe_groups([settings.app_id])[settings.app_id]
            except Exception:  # not known to the coordinator yet
                group = {}
            if group.get("group_state") == "Stable" and group.get("members"):
                time.sleep(5)  # let the worker finish recovering its (empty) table
                return
            time.sleep(0.5)
        raise TimeoutError("the worker did not join its group in 2 min")
    finally:
        admin.close()


@dataclass
class Message:
    """One message of a feed as `restrictwatch produce` sends it: it goes out once the feed's
    line `due` is due."""

    due: int
    topic: str
    key: bytes | None
    value: bytes
    records: list[int]  # the feed's indices of the records it carries, in their order


def message(due: int, batch: Batch) -> Message:
    topic, key, records = batch
    return Message(due, topic, key, batch_bytes(records), [line_no - 1 for line_no, _ in records])


def plan(
    settings: WorkerSettings,
    lines: list[bytes],
    batch: int,
    config: Config,
    caps: dict[str, int] | None = None,
) -> list[Message]:
    """The messages `restrictwatch produce --batch {batch}` sends for `lines`, in its order: the
    batches a line closes go out when it is due, the rest when the last line is."""
    batcher = Batcher(batch, config.bin_seconds, caps or {})
    out = []
    per_line = messages_per_line(settings, lines, batcher, config.max_record_bytes)
    for i, (_, closed) in enumerate(per_line):
        out += [message(i, b) for b in closed]
    return out + [message(len(lines) - 1, b) for b in batcher.flush()]


def in_send_order(lines: list[bytes], messages: list[Message]) -> list[bytes]:
    """The records as the messages carry them: the order the worker processes a country's in."""
    return [lines[i] for m in messages for i in m.records]


def carriers(messages: list[Message]) -> list[int]:
    """For each record in send order, the index of the message that carries it."""
    return [n for n, m in enumerate(messages) for _ in m.records]


@dataclass
class Sent:
    at: list[float]  # per message, its send time (s; its Kafka timestamp)
    where: list[tuple[TopicPartition, int]]  # per message, its partition and offset
    seconds: float  # from the first send to the broker's last acknowledgement


def send(settings: WorkerSettings, messages: list[Message], rate: float) -> Sent:
    """Send each message once its line is due at `rate` lines (records) per second, stamped
    with its send time."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5)
    at: list[float] = []
    futures = []
    started = time.time()
    for m in messages:
        ahead = started + m.due / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
        now_ms = int(time.time() * 1000)
        futures.append(producer.send(m.topic, key=m.key, value=m.value, timestamp_ms=now_ms))
        at.append(now_ms / 1000)
    producer.flush()
    seconds = time.time() - started
    where = [
        (TopicPartition(md.topic, md.partition), md.offset) for md in (f.get() for f in futures)
    ]
    producer.close()
    return Sent(at, where, seconds)


def record_prefix(sent: list[tuple[list[Message], Sent]]) -> Prefix:
    """Per input partition, the records held by its messages before each offset (from 0)."""
    counts: dict[TopicPartition, dict[int, int]] = {}
    for messages, delivered in sent:
        for m, (tp, offset) in zip(messages, delivered.where, strict=True):
            counts.setdefault(tp, {})[offset] = len(m.records)
    prefix: Prefix = {}
    for tp, by_offset in counts.items():
        assert sorted(by_offset) == list(range(len(by_offset))), tp  # fresh topics: 0, 1, ...
        running = [0]
        for offset in range(len(by_offset)):
            running.append(running[-1] + by_offset[offset])
        prefix[tp] = running
    return prefix


def read_events(
    settings: WorkerSettings, quiet_seconds: float
) -> list[tuple[dict[str, Any], float]]:
    consumer = KafkaConsumer(
        settings.events_topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(quiet_seconds * 1000),
    )
    out = [(orjson.loads(m.value), m.timestamp / 1000) for m in consumer]
    consumer.close()
    return out


def triggers(warm: list[bytes], live: list[bytes], config: Config) -> dict[tuple[str, int], int]:
    """(event_id, seq) -> index in `live` of the record whose processing emitted it.

    The core, run over the records in the order they are sent (`in_send_order`): each country is
    on a partition of its own and its records are sent in event-time order, one by one or in
    batches that keep it, so this is the order the worker processes them in, and the worker's
    events are the core's (tested). That record is the one that moved the bin's watermark past
    it, silent sources and all."""
    pipeline = Pipeline(config)
    for raw in warm:
        pipeline.process(raw)
    out = {}
    for i, raw in enumerate(live):
        for event in pipeline.process(raw).events:
            out[(event["event_id"], event["seq"])] = i
    return out


epoch = parse_ts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def split(lines: list[bytes], live_days: float) -> tuple[list[bytes], list[bytes]]:
    """(warm-up, live): the live part is the last `live_days` of the feed's event time."""
    times = [epoch(orjson.loads(line)["ts"]) for line in lines]
    cutoff = max(times) - live_days * 86400
    return (
        [line for line, t in zip(lines, times, strict=True) if t < cutoff],
        [line for line, t in zip(lines, times, strict=True) if t >= cutoff],
    )


def input_partitions(settings: WorkerSettings) -> list[TopicPartition]:
    return [
        TopicPartition(t, p)
        for t in (settings.traffic_topic, settings.reachability_topic)
        for p in range(settings.partitions)
    ]


def committed_records(settings: WorkerSettings, prefix: Prefix) -> int:
    """Records the worker's group has committed, by the record count of each message."""
    watcher = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.app_id,
        enable_auto_commit=False,
    )
    try:
        committed = {tp: watcher.committed(tp) or 0 for tp in input_partitions(settings)}
    finally:
        watcher.close()
    return records_before(prefix, {tp: n for tp, n in committed.items() if tp in prefix})


def wait_until_committed(
    settings: WorkerSettings, prefix: Prefix, total: int, timeout: float = 900
) -> float:
    """Seconds until the worker has committed `total` records."""
    started = time.monotonic()
    while committed_records(settings, prefix) < total:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the worker did not commit {total:,} records in {timeout:g} s")
        time.sleep(0.5)
    return time.monotonic() - started


def load_average() -> float:
    """The machine's load average over the last minute, as /proc/loadavg has it."""
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Run:
    rate: float
    sent: int
    messages: int
    achieved: float
    latencies_ms: list[float]
    unmeasured: int
    lag_records: int  # sent but not committed when the live feed ended
    caught_up_seconds: float  # from then until every record was committed
    load: float  # 1-minute load average when the live feed ended


def measure(
    rate: float,
    warm: list[bytes],
    live: list[bytes],
    config: Config,
    tmp: Path,
    batch: int = 1,
) -> Run:
    """A fresh worker and topics: the warm-up as fast as it goes, then the live part at `rate`,
    both as `produce --batch {batch}` sends them."""
    tag = uuid.uuid4().hex[:6]
    settings = WorkerSettings(
        bootstrap_servers=f"127.0.0.1:{PORT}",
        app_id=f"latency-{tag}",
        traffic_topic=f"l{tag}.traffic",
        reachability_topic=f"l{tag}.reachability",
        events_topic=f"l{tag}.events",
        deadletter_topic=f"l{tag}.deadletter",
        partitions=PARTITIONS,
    )
    create_topics(settings)
    limits, _ = read_message_limits(settings, [settings.traffic_topic, settings.reachability_topic])
    warm_messages = plan(settings, warm, batch, config, batch_caps(limits))
    live_messages = plan(settings, live, batch, config, batch_caps(limits))
    run_dir = tmp / tag
    run_dir.mkdir()
    worker = start_worker(
        settings,
        run_dir / "state",
        run_dir / "worker.log",
        RW_WEB_PORT="26266",
    )
    try:
        wait_until_assigned(settings, worker)
        warm_sent = send(settings, warm_messages, float("inf"))
        wait_until_committed(settings, record_prefix([(warm_messages, warm_sent)]), len(warm))
        live_from = time.time()
        sent = send(settings, live_messages, rate)
        load = load_average()
        prefix = record_prefix([(warm_messages, warm_sent), (live_messages, sent)])
        lag = len(warm) + len(live) - committed_records(settings, prefix)
        caught_up = wait_until_committed(settings, prefix, len(warm) + len(live))
        time.sleep(10)  # the last bins close on event time, which stopped with the feed
        events = read_events(settings, quiet_seconds=10)
    finally:
        stop_worker(worker)
    trigger = triggers(
        in_send_order(warm, warm_messages), in_send_order(live, live_messages), config
    )
    carrier = carriers(live_messages)
    latencies, unmeasured = [], 0
    for event, at in events:
        i = trigger.get((event["event_id"], event["seq"]))
        if i is None:
            unmeasured += int(at >= live_from)  # not the core's: should not happen
            continue  # else about the warm-up
        latencies.append(1000 * (at - sent.at[carrier[i]]))
    return Run(
        rate,
        len(live),
        len(live_messages),
        len(live) / sent.seconds,
        latencies,
        unmeasured,
        lag,
        caught_up,
        load,
    )


def row(r: Run) -> str:
    """One rate's line of the table."""
    lat = r.latencies_ms
    figures = (
        f"{statistics.median(lat):,.0f} ms | {percentile(lat, 0.9):,.0f} ms | "
        f"{percentile(lat, 0.99):,.0f} ms | {max(lat):,.0f} ms"
        if lat
        else "no event | | |"
    )
    return (
        f"| {r.rate:,.0f} | {r.achieved:,.0f} | {r.messages:,} ({r.sent / r.messages:.1f}) | "
        f"{len(lat)} | {r.unmeasured} | {figures} | {r.lag_records:,} | "
        f"{r.caught_up_seconds:,.1f} s | {r.load:.2f} |"
    )


def report(
    args: argparse.Namespace,
    names: list[str],
    warm: int,
    live: int,
    runs: list[Run],
    load_before: float,
) -> str:
    """The section of BENCHMARKS.md: the command, what was run, the table."""
    flags = f" --batch {args.batch}" if args.batch > 1 else ""
    command = (
        f"python -m bench.latency --rates {args.rates} --live-days {args.live_days:g}{flags}"
        f"{' --write' if args.write else ''}"
    )
    form = (
        f"in batches of up to {args.batch} records per topic, country and bin, as "
        f"`restrictwatch produce --batch {args.batch}` sends them (its own code: a batch goes "
        "out once the record that closes it, of the next bin or past the size, is due)"
        if args.batch > 1
        else "one record per message"
    )
    title = (
        f"### Watermark-to-event latency, batches of up to {args.batch} records"
        if args.batch > 1
        else "### Watermark-to-event latency"
    )
    return "\n".join(
        [
            title,
            "",
            f"`{command}`: {len(names)} countries ({', '.join(names)}), each on a partition of "
            "its own of 16, one worker, private local broker, one run. Per rate, a fresh worker "
            f"and topics: the first {warm:,} records (all but the last {args.live_days:g} days) "
            f"as fast as they go, then, once the worker has committed them, the last {live:,} as "
            f"one live feed at the rate; both {form}. Latency: from the send of the message "
            "carrying the record that passed a bin's watermark (the record whose processing "
            "emits the event when the core replays the same records in the order they were "
            "sent) to the event message about that bin, by Kafka timestamps (one clock); the "
            "time a record waits in an open batch before that is the collector's, not counted. "
            "'not the core's': live event messages replay did not emit (expected 0). Lag: "
            "records sent but not yet committed by the worker when the live feed ended (it "
            "commits every second), then the time until it had committed all. Load: the "
            f"1-minute load average of the 2-core machine then (/proc/loadavg; {load_before:.2f} "
            "before the broker started).",
            "",
            "| live rate, records/s | sent, records/s | messages (records each) | event messages "
            "| not the core's | p50 | p90 | p99 | max | lag at the end, records | all committed "
            "after | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *(row(r) for r in runs),
            "",
            "Target: p99 ≤ 1 s. For scale: 100,000 series at a 5-minute cadence are 333 records/s.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="1000,3000", help="records/s of the live part")
    parser.add_argument("--live-days", type=float, default=3.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="a subset of the six")
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="N",
        help="send as `restrictwatch produce --batch N` does: up to N records per topic, country "
        "and bin in one message (default 1: one record per message)",
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    names = args.scenarios.split(",")
    config = load_config()
    parts = [split(render(scenario(name), 1).lines, args.live_days) for name in names]
    warm = interleave([w for w, _ in parts])
    live = interleave([v for _, v in parts])
    runs = []
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmpdir:
        tmp = Path(tmpdir)
        broker("up", tmp / "kafka")
        try:
            for rate in (float(r) for r in args.rates.split(",")):
                runs.append(measure(rate, warm, live, config, tmp, args.batch))
        finally:
            broker("down", tmp / "kafka")
    text = report(args, names, len(warm), len(live), runs, load_before)
    print(text)
    if args.write:
        replace_section("latency-batch" if args.batch > 1 else "latency", text)
    return 0 if all(r.latencies_ms for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
