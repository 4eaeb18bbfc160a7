"""Throughput of the live worker through a real broker, next to a bare aiokafka consumer loop.

    python -m bench.worker_perf [--scenarios a,b,c] [--write]

Starts a private broker (deploy/kafka/kafka.sh, port 29092, its own data dir), loads the input
topics once, then in one run measures, on the same topics:
  1. a bare aiokafka consumer reading both input topics to the end (the ceiling for Python);
     then the worker's RecordHandler and core fed straight from its fetched batches, no Faust
     (what handing batches over could reach);
  2. one `restrictwatch worker` process from the start to caught up (committed offsets at the end);
  3. two worker processes sharing the 4 partitions.
Worker throughput is counted between its first and its final commit, so start-up is excluded.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.markdown import replace_section
from bench.profile import summarize, table
from bench.soak import Synthetic
from bench.workers import start_worker
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.kafka_io import _route
from restrictwatch.streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
PORT = 29092


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


def load_synthetic(settings: WorkerSettings, series: int, cycles: int) -> int:
    from restrictwatch.streams.kafka_io import create_topics

    create_topics(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=50, batch_size=512 * 1024
    )
    sent = 0
    for key, raw in synthetic_lines(series, cycles):
        producer.send(settings.traffic_topic, key=key, value=raw)
        sent += 1
    producer.flush()
    producer.close()
    return sent


def load(settings: WorkerSettings, names: list[str]) -> int:
    from restrictwatch.streams.kafka_io import create_topics

    create_topics(settings)
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=50, batch_size=512 * 1024
    )
    sent = 0
    for name in names:
        for raw in render(scenario(name), 1).lines:
            topic, key, _ = _route(settings, raw)
            producer.send(topic, key=key, value=raw)
            sent += 1
    producer.flush()
    producer.close()
    return sent


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
    """Records/s of one aiokafka consumer reading both input topics to `total` records, from
    its first batch; `take(consumer)` gives what each fetched batch is handed to."""
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
    assert started is not None
    return seen / (time.perf_counter() - started)


def bare_consumer(settings: WorkerSettings, total: int) -> float:
    """The ceiling for a Python consumer: fetched records, counted."""
    return asyncio.run(read_inputs(settings, total, lambda consumer: lambda records: None))


def handler_without_faust(settings: WorkerSettings, total: int) -> float:
    """aiokafka's fetched batches straight into the worker's RecordHandler and detection core,
    without Faust: what handing batches over could reach. Checkpoints are encoded (on the same
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

        def receive(records: list[Any]) -> None:
            for r in records:
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
    settings: WorkerSettings, count: int, total: int, tmp: Path, profile: Path | None = None
) -> float:
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
            done = sum(watcher.committed(tp) or 0 for tp in tps)
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
                if profile is not None:
                    profiler = start_profiler(procs[0].pid, profile)
            if done >= total:
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
                total = load_synthetic(settings, series, cycles)
            else:
                total = load(settings, names)
            assert sum(end_offsets(settings).values()) == total
            ceiling = bare_consumer(settings, total)
            batched = handler_without_faust(settings, total)
            raw = (args.keep_profile or tmp / "worker.pyspy") if args.profile else None
            one = run_workers(settings, 1, total, tmp, raw)
            profile = table(summarize(raw.read_text())) if raw and raw.exists() else None
            two = run_workers(settings, 2, total, tmp)
        finally:
            broker("down", data)
    if args.synthetic:
        source = f"--synthetic {args.synthetic}"
        what = f"{total:,} records of {series:,} synthetic traffic series in 40 countries"
        section, title = "worker-perf-synthetic", "many small series"
    else:
        source = f"--scenarios {args.scenarios}"
        what = f"{total:,} records of {len(names)} scenario countries"
        section, title = "worker-perf", "scenarios"
    command = f"python -m bench.worker_perf {source}{' --profile' if args.profile else ''} --write"
    text = "\n".join(
        [
            f"### Worker throughput through a real broker: {title}",
            "",
            f"`{command}`: {what} on 4 partitions, a private single-node broker on loopback, "
            "one run.",
            "",
            "| what | records/s | ratio |",
            "|---|---|---|",
            f"| bare aiokafka consumer loop (ceiling) | {ceiling:,.0f} | 1.00 |",
            f"| the worker's handler and core on fetched batches, no Faust (nothing written) "
            f"| {batched:,.0f} | {batched / ceiling:.2f} of the ceiling |",
            f"| 1 worker process | {one:,.0f} | {one / ceiling:.3f} of the ceiling, "
            f"{one / batched:.2f} of the handler on batches |",
            f"| 2 worker processes | {two:,.0f} | {two / one:.2f} x one worker |",
            "",
            "Targets: one worker ≥ 50 % of the ceiling; two workers ≥ 1.7 x one.",
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
