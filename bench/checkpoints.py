"""What checkpointing costs the live worker: per record, per evaluated bin, or on a timer.

    python -m bench.checkpoints [--slice N] [--write]

Two measurements of the same three policies (`RW_CHECKPOINT_POLICY`):
  1. in process: `RecordHandler` over pk-2023-12-17 with a dict for the state table, so only
     the checkpoints themselves (the country's state as data, `detectors.state`) differ;
  2. through a real broker: a `restrictwatch worker` process (rocksdb store, changelog on the
     broker) from the start of the input topics to its final commit, counting records/s
     between its first and its last commit, and the messages its changelog received.
The per-record policy is measured on the first `--slice` records only (it is two orders of
magnitude slower); the other two run on both the slice and the whole scenario.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.markdown import replace_section
from bench.workers import start_worker, stop_worker
from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.app import STATE_TABLE
from restrictwatch.streams.handler import CheckpointPolicy, Inbound, RecordHandler
from restrictwatch.streams.kafka_io import _route, create_topics
from restrictwatch.streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
PORT = 29192
POLICIES: tuple[CheckpointPolicy, ...] = ("record", "bin", "interval")


def in_process(lines: list[bytes], policy: CheckpointPolicy) -> tuple[float, int, int]:
    """(records/s, checkpoints, bytes) of the handler alone."""
    settings = WorkerSettings()
    table: dict[str, bytes] = {}
    handler = RecordHandler(
        load_config(),
        (settings.traffic_topic, settings.reachability_topic),
        table.get,
        policy=policy,
    )
    routed = [(_route(settings, raw), raw) for raw in lines]
    offsets: dict[str, int] = {}
    now = time.time()
    started = time.perf_counter()
    for (topic, key, _), raw in routed:
        offset = offsets.get(topic, 0)
        offsets[topic] = offset + 1
        out = handler.receive(Inbound(topic, 0, offset, key, raw), now)
        table.update(dict(out.checkpoints))
    out = handler.tick(now + 60)
    elapsed = time.perf_counter() - started
    return len(lines) / elapsed, handler.stats.checkpoints, handler.stats.checkpoint_bytes


def broker(action: str, data: Path) -> None:
    env = {**os.environ, "KAFKA_PORT": str(PORT), "KAFKA_DATA_DIR": str(data)}
    subprocess.run(
        ["bash", str(ROOT / "deploy/kafka/kafka.sh"), action],
        env=env,
        check=True,
        capture_output=True,
    )


def load(bootstrap: str, lines: list[bytes]) -> WorkerSettings:
    tag = uuid.uuid4().hex[:6]
    settings = WorkerSettings(
        bootstrap_servers=bootstrap,
        traffic_topic=f"c{tag}.traffic",
        reachability_topic=f"c{tag}.reachability",
        events_topic=f"c{tag}.events",
        deadletter_topic=f"c{tag}.deadletter",
        partitions=4,
    )
    create_topics(settings)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=512 * 1024)
    for raw in lines:
        topic, key, _ = _route(settings, raw)
        producer.send(topic, key=key, value=raw)
    producer.flush()
    producer.close()
    return settings


def worker(
    settings: WorkerSettings, policy: CheckpointPolicy, total: int, tmp: Path
) -> tuple[float, int]:
    """(records/s between first and last commit, changelog messages) of one worker process."""
    app_id = f"ck-{policy}-{uuid.uuid4().hex[:6]}"
    log = tmp / f"{app_id}.log"
    proc = start_worker(settings, tmp / app_id, log, RW_APP_ID=app_id, RW_CHECKPOINT_POLICY=policy)
    watcher = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=app_id, enable_auto_commit=False
    )
    tps = [
        TopicPartition(t, p)
        for t in (settings.traffic_topic, settings.reachability_topic)
        for p in range(settings.partitions)
    ]
    first: tuple[float, int] | None = None
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            time.sleep(0.25)
            done = sum(watcher.committed(tp) or 0 for tp in tps)
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
            if done >= total:
                assert first is not None
                rate = (done - first[1]) / (now - first[0])
                break
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}, see {log}")
        else:
            raise TimeoutError("the worker did not catch up within an hour")
        # Messages sent to the changelog: its end offsets. (Its bytes cannot be read back: the
        # broker compacts the changelog as it goes. They are the in-process figure.)
        changelog = f"{app_id}-{STATE_TABLE}-changelog"
        reader = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
        parts = [TopicPartition(changelog, p) for p in range(settings.partitions)]
        count = sum(reader.end_offsets(parts).values())
        reader.close()
        return rate, count
    finally:
        watcher.close()
        stop_worker(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slice", type=int, default=20_000, help="records for the per-record run")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    lines = render(scenario("pk-2023-12-17"), 1).lines
    head = lines[: args.slice]
    rows: list[tuple[str, str, str, str, str]] = []
    for policy in POLICIES:
        for name, part in (("slice", head), ("whole", lines)):
            if policy == "record" and name == "whole":
                continue
            rate, count, size = in_process(part, policy)
            rows.append(
                (
                    "in process",
                    policy,
                    f"{len(part):,}",
                    f"{rate:,.0f}",
                    f"{count:,} checkpoints, {size / 1e6:,.1f} MB",
                )
            )
            print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory(prefix="rw-ckpt-") as tmpdir:
        tmp = Path(tmpdir)
        data = tmp / "kafka"
        bootstrap = args.bootstrap
        if bootstrap is None:
            broker("up", data)
            bootstrap = f"127.0.0.1:{PORT}"
        try:
            loaded = {"slice": load(bootstrap, head), "whole": load(bootstrap, lines)}
            for policy in POLICIES:
                for name, part in (("slice", head), ("whole", lines)):
                    if policy == "record" and name == "whole":
                        continue
                    rate, count = worker(loaded[name], policy, len(part), tmp)
                    rows.append(
                        (
                            "worker + broker",
                            policy,
                            f"{len(part):,}",
                            f"{rate:,.0f}",
                            f"{count:,} changelog messages",
                        )
                    )
                    print(rows[-1], flush=True)
        finally:
            if args.bootstrap is None:
                broker("down", data)
    text = "\n".join(
        [
            "### Checkpoint cost: per record, per evaluated bin, on a timer",
            "",
            f"`python -m bench.checkpoints --slice {args.slice} --write`: pk-2023-12-17 (63 series"
            " of one country, 276,696 records; the slice is its first records). In process: the"
            " record handler alone with a dict as the table. Worker: one `restrictwatch worker`"
            " (rocksdb store) on 4 partitions of a private single-node broker, from the first to"
            " the last offset commit.",
            "",
            "| run | policy | records | records/s | written |",
            "|---|---|---|---|---|",
            *(f"| {' | '.join(row)} |" for row in rows),
        ]
    )
    print(text)
    if args.write:
        replace_section("checkpoints", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
