"""Throughput of the live worker through a real broker, next to a bare aiokafka consumer loop.

    python -m bench.worker_perf [--scenarios a,b,c] [--batch N] [--write]

Starts a private broker (deploy/kafka/kafka.sh, port 29092, its own data dir), loads the input
topics once the way `restrictwatch produce` does (record batches of up to `--batch` records per
topic, country and bin; 1: one record per message), then in one run measures, on the same
messages:
  1. a bare aiokafka consumer reading both input topics to the end (the ceiling for Python: it
     counts fetched messages, parses nothing; records/s is the records those messages hold);
     then the worker's RecordHandler and core fed the same fetched messages, no Faust (what
     handing fetched messages over could reach);
  2. one `restrictwatch worker` process from the start to caught up (committed offsets at the end);
  3. two worker processes sharing the 4 partitions.
Worker throughput is counted between its first and its final commit, so start-up is excluded;
committed offsets are turned into records by the record count of each message, read back once
after loading.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from bench.markdown import replace_section
from bench.profile import summarize, table
from bench.soak import Synthetic
from bench.workers import start_worker
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.kafka_io import create_topics, produce_file
from restrictwatch.streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
PORT = 29092
BATCH = 100  # records per message at most, as `restrictwatch produce` sends by default


def broker(action: str, data: Path) -> None:
    env = {**os.environ, "KAFKA_PORT": str(PORT), "KAFKA_DATA_DIR": str(data)}
    subprocess.run(
        ["bash", str(ROOT / "deploy/kafka/kafka.sh"), action],
        env=env,
        check=True,
        capture_output=True,
    )


def synthetic_lines(series: int, cycles: int) -> Iterator[tuple[bytes, bytes]]:
    """The soak's synthetic feed (40 countries, evenly): `cycles` reports of `series` series,
    the last one five minutes ago."""
    first = math.floor(time.time() / 300) * 300 - cycles * 300
    feed = Synthetic(series, 300, first)
    for n in range(cycles):
        yield from feed.cycle(n)


def scenario_lines(names: list[str]) -> Iterator[bytes]:
    for name in names:
        yield from render(scenario(name), 1).lines


def load(settings: WorkerSettings, lines: Iterable[bytes], batch: int, tmp: Path) -> int:
    """Send `lines` into the input topics as `restrictwatch produce` does (batches of up to
    `batch` records per topic, country and bin); the number of records sent."""
    create_topics(settings)
    path = tmp / "input.jsonl"
    with path.open("wb") as f:
        for raw in lines:
            f.write(raw + b"\n")
    produced = produce_file(settings, str(path), batch=batch)
    path.unlink()
    assert not produced.too_large, produced.summary()
    return produced.sent


def records_in(value: bytes) -> int:
    """How many records one input message holds: a batch its elements, anything else one."""
    if not value.lstrip().startswith(b"["):
        return 1
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return 1
    return len(doc) if isinstance(doc, list) and doc else 1


Prefix = dict[TopicPartition, list[int]]


def records_before(prefix: Prefix, committed: dict[TopicPartition, int]) -> int:
    """Records held by the messages before each partition's committed offset."""
    return sum(prefix[tp][offset] for tp, offset in committed.items() if offset)


def record_counts(settings: WorkerSettings, ends: dict[TopicPartition, int]) -> Prefix:
    """Per input partition, the records held by its messages before each offset (from 0)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    consumer.assign(list(ends))
    consumer.seek_to_beginning()
    prefix: Prefix = {tp: [0] for tp in ends}
    try:
        while any(len(prefix[tp]) - 1 < end for tp, end in ends.items()):
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                counts = prefix[tp]
                for m in messages:
                    assert m.offset == len(counts) - 1, (tp, m.offset)
                    counts.append(counts[-1] + records_in(m.value))
    finally:
        consumer.close()
    return prefix


def end_offsets(settings: WorkerSettings) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    tps = [
        TopicPartition(t, p)
        for t in (settings.traffic_topic, settings.reachability_topic)
        for p in range(settings.partitions)
    ]
    ends: dict[TopicPartition, int] = consumer.end_offsets(tps)
    consumer.close()
    return ends


async def read_inputs(
    settings: WorkerSettings, total: int, take: Callable[[Any], Callable[[list[Any]], None]]
) -> float:
    """Seconds one aiokafka consumer takes to read both input topics to `total` messages, from
    its first fetch; `take(consumer)` gives what each fetched batch of messages is handed to."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.traffic_topic,
        settings.reachability_topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"bench-reader-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    handle = take(consumer)
    await consumer.start()
    seen = 0
    started = None
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                if started is None:
                    started = time.perf_counter()
                handle(records)
                seen += len(records)
    finally:
        await consumer.stop()
    assert started is not None and seen == total, (seen, total)
    return time.perf_counter() - started


def bare_consumer(settings: WorkerSettings, total: int) -> float:
    """The ceiling for a Python consumer: seconds to fetch `total` messages, counted, unparsed."""
    return asyncio.run(read_inputs(settings, total, lambda consumer: lambda messages: None))


def handler_without_faust(settings: WorkerSettings, total: int) -> float:
    """Seconds to hand aiokafka's fetched messages (`total`, the same the worker reads: batches
    or single records) straight to the worker's RecordHandler and detection core, without
    Faust: what handing fetched messages over could reach. Checkpoints are encoded (on the same
    budget) but not written, events not sent, offsets not committed."""
    from aiokafka.structs import TopicPartition as TP

    from restrictwatch.detectors.config import load_config
    from restrictwatch.streams.handler import Inbound, RecordHandler, backlog_seen

    def take(consumer: Any) -> Callable[[list[Any]], None]:
        def backlog(topic: str, partition: int, last: int, since: float) -> bool | None:
            tp = TP(topic, partition)
            polled = consumer.last_poll_timestamp(tp)
            fetched = polled / 1000 if polled else None
            return backlog_seen(consumer.highwater(tp), fetched, last, since)

        handler = RecordHandler(
            load_config(settings.detector_config),
            (settings.traffic_topic, settings.reachability_topic),
            lambda country: None,
            backlog=backlog,
        )

        def receive(messages: list[Any]) -> None:
            for r in messages:
                inbound = Inbound(r.topic, r.partition, r.offset, r.key, r.value)
                handler.receive(inbound, time.time())

        return receive

    return asyncio.run(read_inputs(settings, total, take))


def start_profiler(pid: int, out: Path, seconds: int = 40) -> subprocess.Popen[bytes]:
    """py-spy on a worker, sampling 100 times a second without stopping it."""
    py_spy = Path(sys.executable).with_name("py-spy")
    args = ["record", "--nonblocking", "-r", "100", "-f", "raw", "-d", str(seconds)]
    return subprocess.Popen(
        [str(py_spy), *args, "-p", str(pid), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_workers(
    settings: WorkerSettings,
    count: int,
    prefix: Prefix,
    tmp: Path,
    profile: Path | None = None,
) -> float:
    """Records/s of `count` worker processes, between their first and their final commit."""
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    procs = [
        start_worker(
            settings,
            tmp / f"{app_id}-{i}",
            tmp / f"{app_id}-{i}.log",
            RW_APP_ID=app_id,
            RW_WEB_PORT=str(26066 + i),
        )
        for i in range(count)
    ]
    watcher = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=app_id, enable_auto_commit=False
    )
    tps = [
        TopicPartition(t, p)
        for t in (settings.traffic_topic, settings.reachability_topic)
        for p in range(settings.partitions)
    ]
    first: tuple[float, int] | None = None
    profiler = None
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            time.sleep(0.5)
            committed = {tp: watcher.committed(tp) or 0 for tp in tps}
            done = records_before(prefix, committed)
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
                if profile is not None:
                    profiler = start_profiler(procs[0].pid, profile)
            if all(committed[tp] >= len(prefix[tp]) - 1 for tp in tps):
                assert first is not None
                return (done - first[1]) / (now - first[0])
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"worker exited with {p.returncode}")
        raise TimeoutError("workers did not catch up in 30 min")
    finally:
        watcher.close()
        if profiler is not None:
            profiler.wait(timeout=120)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--scenarios",
        default="pk-2023-12-17,ir-national-shutdown,ke-small-asn-outage,tr-dns-and-sni-blocks",
    )
    parser.add_argument(
        "--synthetic",
        metavar="SERIESxREPORTS",
        help="instead of scenarios, the soak's feed: e.g. 20000x15 (balanced over partitions)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=BATCH,
        help=f"records per message at most, per topic, country and bin as `produce` sends them "
        f"(default {BATCH}; 1: one record per message)",
    )
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="profile the single worker with py-spy for 40 s"
    )
    parser.add_argument(
        "--keep-profile",
        type=Path,
        help="with --profile: keep py-spy's raw samples there (`python -m bench.profile F --top 20`)",
    )
    args = parser.parse_args()
    names = args.scenarios.split(",")
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmpdir:
        tmp = Path(tmpdir)
        data = tmp / "kafka"
        broker("up", data)
        try:
            tag = uuid.uuid4().hex[:6]
            settings = WorkerSettings(
                bootstrap_servers=f"127.0.0.1:{PORT}",
                traffic_topic=f"b{tag}.traffic",
                reachability_topic=f"b{tag}.reachability",
                events_topic=f"b{tag}.events",
                deadletter_topic=f"b{tag}.deadletter",
                partitions=4,
            )
            if args.synthetic:
                series, cycles = (int(v) for v in args.synthetic.split("x"))
                lines: Iterable[bytes] = (raw for _, raw in synthetic_lines(series, cycles))
            else:
                lines = scenario_lines(names)
            records = load(settings, lines, args.batch, tmp)
            ends = end_offsets(settings)
            messages = sum(ends.values())
            prefix = record_counts(settings, ends)
            assert sum(counts[-1] for counts in prefix.values()) == records
            bare_s = bare_consumer(settings, messages)
            handler_s = handler_without_faust(settings, messages)
            raw = (args.keep_profile or tmp / "worker.pyspy") if args.profile else None
            one = run_workers(settings, 1, prefix, tmp, raw)
            profile = table(summarize(raw.read_text())) if raw and raw.exists() else None
            two = run_workers(settings, 2, prefix, tmp)
        finally:
            broker("down", data)
    ceiling, batched = records / bare_s, records / handler_s
    if args.synthetic:
        source = f"--synthetic {args.synthetic}"
        what = f"{records:,} records of {series:,} synthetic traffic series in 40 countries"
        section, title = "worker-perf-synthetic", "many small series"
    else:
        source = f"--scenarios {args.scenarios}"
        what = f"{records:,} records of {len(names)} scenario countries"
        section, title = "worker-perf", "scenarios"
    flags = f"{' --batch ' + str(args.batch) if args.batch != BATCH else ''}"
    flags += " --profile" if args.profile else ""
    command = f"python -m bench.worker_perf {source}{flags}{' --write' if args.write else ''}"
    form = (
        f"in {messages:,} messages, batches of up to {args.batch} records per topic, country and "
        f"bin as `restrictwatch produce --batch {args.batch}` sends them "
        f"({records / messages:.1f} records per message)"
        if args.batch > 1
        else f"one record per message ({messages:,} messages)"
    )
    text = "\n".join(
        [
            f"### Worker throughput through a real broker: {title}",
            "",
            f"`{command}`: {what} {form}, on 4 partitions, a private single-node broker on "
            "loopback, one run; every row reads the same messages.",
            "",
            "| what | records/s | messages/s | ratio |",
            "|---|---|---|---|",
            f"| bare aiokafka consumer loop (ceiling: fetched messages counted, not parsed) "
            f"| {ceiling:,.0f} | {messages / bare_s:,.0f} | 1.00 |",
            f"| the worker's handler and core on the fetched messages, no Faust (nothing written) "
            f"| {batched:,.0f} | {messages / handler_s:,.0f} | {batched / ceiling:.3f} of the "
            "ceiling |",
            f"| 1 worker process | {one:,.0f} | | {one / ceiling:.3f} of the ceiling, "
            f"{one / batched:.2f} of the handler without Faust |",
            f"| 2 worker processes | {two:,.0f} | | {two / one:.2f} x one worker |",
            "",
            "Targets (issue 15): one worker ≥ 50,000 records/s with batches of ~100 records and "
            "≥ 0.5 of the handler fed the same batches without Faust; two workers ≥ 1.8 x one on "
            "an even spread.",
        ]
    )
    if profile:
        text += (
            "\n\nWhere the single worker's time went (py-spy, 40 s from its first commit, "
            "`python -m bench.profile` on the samples):\n\n" + profile
        )
    print(text)
    if args.write:
        replace_section(section, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
