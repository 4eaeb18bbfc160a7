"""Soak: one `restrictwatch worker` fed a synthetic live feed for a long time; does it keep up,
and does its memory settle?

    python -m bench.soak [--series 100000] [--cadence 300] [--speedup 10]
                         [--duration 1800] [--every 10] [--bootstrap HOST:PORT] [--write]

The feed is `--series` traffic series (countries x ASNs) reporting every `--cadence` seconds of
event time, sent `--speedup` times faster than real time: the defaults are 100,000 series at a
5-minute cadence, ten times faster than live, i.e. ~3,333 records/s. Event time ends at the wall
clock, so nothing is rejected as from the future. Without `--bootstrap` a private broker is
started with deploy/kafka/kafka.sh (port 29192, its own data dir) and stopped at the end.

Every `--every` seconds: the worker's resident memory (VmRSS from /proc/PID/status), records
sent, records committed by the worker's consumer group, and the lag between the two.
The summary compares memory after warm-up (the first fifth of the run) with the end, and fits a
line through the lag of the second half (records/s: > 0 means the worker falls behind).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from bench.markdown import replace_section
from bench.workers import start_worker, stop_worker
from restrictwatch.detectors.events import iso
from restrictwatch.streams.kafka_io import create_topics
from restrictwatch.streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
PORT = 29192
COUNTRIES = [
    *("AE", "AF", "AR", "AU", "BD", "BR", "CA", "CN", "DE", "EG", "ES", "ET", "FR", "GB"),
    *("ID", "IN", "IQ", "IR", "IT", "JP", "KE", "KR", "MA", "MM", "MX", "NG", "PH", "PK"),
    *("RU", "SA", "SD", "SY", "TH", "TR", "TZ", "UA", "US", "VE", "VN", "ZA"),
]


@dataclass
class Sample:
    elapsed: float
    rss_bytes: int
    sent: int
    committed: int

    @property
    def lag(self) -> int:
        return self.sent - self.committed


def broker(action: str, data: Path) -> None:
    env = {**os.environ, "KAFKA_PORT": str(PORT), "KAFKA_DATA_DIR": str(data)}
    subprocess.run(
        ["bash", str(ROOT / "deploy/kafka/kafka.sh"), action],
        env=env,
        check=True,
        capture_output=True,
    )


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Synthetic:
    """`series` traffic series (countries x ASNs, spread evenly over 40 countries), each with its
    own level, a daily rhythm and 3 % noise; no incidents."""

    def __init__(self, series: int, cadence: float, first_ts: float) -> None:
        self.cadence = cadence
        self.first_ts = first_ts
        per_country = math.ceil(series / len(COUNTRIES))
        self.keys = [(c, 64512 + a) for a in range(per_country) for c in COUNTRIES][:series]
        rng = random.Random(7)
        self.level = [rng.uniform(1e3, 1e5) for _ in self.keys]
        self.noise = random.Random(11)

    def cycle(self, n: int) -> Iterator[tuple[bytes, bytes]]:
        """(key, record) of every series at the n-th report time."""
        ts = self.first_ts + n * self.cadence
        stamp = iso(ts)
        diurnal = 1 + 0.4 * math.sin(2 * math.pi * (ts % 86400) / 86400)
        for i, (country, asn) in enumerate(self.keys):
            value = self.level[i] * diurnal * self.noise.gauss(1, 0.03)
            record = {
                "signal": "traffic",
                "ts": stamp,
                "country": country,
                "asn": asn,
                "value": round(value, 2),
                "source": "edge-cdn",
            }
            yield country.encode(), orjson.dumps(record)


class Feed(threading.Thread):
    """Sends the synthetic feed at a steady rate until stopped; counts what the broker acked."""

    def __init__(
        self, settings: WorkerSettings, series: int, cadence: float, speedup: float, duration: float
    ) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.rate = series / cadence * speedup
        first_ts = math.floor((time.time() - duration * speedup) / cadence) * cadence
        self.synthetic = Synthetic(series, cadence, first_ts)
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        producer = KafkaProducer(
            acks="all", linger_ms=50, batch_size=256 * 1024, **self.settings.kafka_kwargs()
        )
        started = time.monotonic()
        queued = 0
        cycle = 0
        try:
            while not self.stop.is_set():
                for key, raw in self.synthetic.cycle(cycle):
                    producer.send(self.settings.traffic_topic, key=key, value=raw)
                    queued += 1
                    if queued % 500 == 0:
                        self.sent = queued
                        ahead = queued / self.rate - (time.monotonic() - started)
                        if ahead > 0:
                            time.sleep(ahead)
                        if self.stop.is_set():
                            break
                cycle += 1
        finally:
            producer.flush()
            producer.close()
            self.sent = queued


def committed(watcher: KafkaConsumer, tps: list[TopicPartition]) -> int:
    return sum(watcher.committed(tp) or 0 for tp in tps)


def slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def run(args: argparse.Namespace, bootstrap: str, tmp: Path) -> tuple[list[Sample], float]:
    tag = uuid.uuid4().hex[:6]
    settings = WorkerSettings(
        bootstrap_servers=bootstrap,
        app_id=f"soak-{tag}",
        traffic_topic=f"soak{tag}.traffic",
        reachability_topic=f"soak{tag}.reachability",
        events_topic=f"soak{tag}.events",
        deadletter_topic=f"soak{tag}.deadletter",
        partitions=4,
    )
    create_topics(settings)
    worker = start_worker(
        settings,
        tmp / "state",
        tmp / "worker.log",
        RW_WEB_PORT="26166",
    )
    feed = Feed(settings, args.series, args.cadence, args.speedup, args.duration)
    watcher = KafkaConsumer(
        group_id=settings.app_id, enable_auto_commit=False, **settings.kafka_kwargs()
    )
    tps = [TopicPartition(settings.traffic_topic, p) for p in range(4)]
    samples: list[Sample] = []
    started = time.monotonic()
    feed.start()
    try:
        while time.monotonic() - started < args.duration:
            time.sleep(args.every)
            if worker.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {worker.returncode}; see {tmp / 'worker.log'}"
                )
            s = Sample(
                time.monotonic() - started,
                rss_bytes(worker.pid),
                feed.sent,
                committed(watcher, tps),
            )
            samples.append(s)
            print(
                f"{s.elapsed:7.0f} s  rss {s.rss_bytes / 2**20:7.1f} MiB  sent {s.sent:>9}  "
                f"committed {s.committed:>9}  lag {s.lag:>8}",
                flush=True,
            )
    finally:
        feed.stop.set()
        feed.join(timeout=60)
        watcher.close()
        stop_worker(worker)
    return samples, feed.rate


def summary(args: argparse.Namespace, samples: list[Sample], target: float) -> str:
    warm = next((s for s in samples if s.elapsed >= args.duration / 5), samples[0])
    last = samples[-1]
    growth = (last.rss_bytes - warm.rss_bytes) / warm.rss_bytes * 100
    half = [(s.elapsed, float(s.lag)) for s in samples if s.elapsed >= args.duration / 2]
    sent_rate = (last.sent - samples[0].sent) / (last.elapsed - samples[0].elapsed)
    done_rate = (last.committed - samples[0].committed) / (last.elapsed - samples[0].elapsed)
    command = (
        f"python -m bench.soak --series {args.series} --cadence {args.cadence:g} "
        f"--speedup {args.speedup:g} --duration {args.duration:g} --every {args.every:g}"
    )
    return "\n".join(
        [
            "### Soak: one worker, synthetic live feed",
            "",
            f"`{command}` ({os.cpu_count()} CPUs, private local broker)",
            "",
            "| measure | value |",
            "|---|---|",
            f"| target rate | {target:,.0f} records/s ({args.series:,} series, "
            f"{args.cadence:g} s cadence, {args.speedup:g}x real time) |",
            f"| sent | {sent_rate:,.0f} records/s |",
            f"| committed by the worker | {done_rate:,.0f} records/s |",
            f"| RSS after warm-up ({warm.elapsed:.0f} s) | {warm.rss_bytes / 2**20:,.1f} MiB |",
            f"| RSS at the end ({last.elapsed:.0f} s) | {last.rss_bytes / 2**20:,.1f} MiB |",
            f"| memory growth after warm-up | {growth:+.1f} % |",
            f"| lag at the end | {last.lag:,} records |",
            f"| lag trend, second half | {slope(half):+,.0f} records/s |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--cadence", type=float, default=300.0, help="event-time seconds")
    parser.add_argument("--speedup", type=float, default=10.0, help="x real time")
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds")
    parser.add_argument("--every", type=float, default=10.0, help="sampling interval, seconds")
    parser.add_argument("--bootstrap", help="use this PLAINTEXT broker instead of a private one")
    parser.add_argument("--write", action="store_true", help="write the summary to BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rw-soak-") as tmpdir:
        tmp = Path(tmpdir)
        if args.bootstrap:
            samples, target = run(args, args.bootstrap, tmp)
        else:
            broker("up", tmp / "kafka")
            try:
                samples, target = run(args, f"127.0.0.1:{PORT}", tmp)
            finally:
                broker("down", tmp / "kafka")
    text = summary(args, samples, target)
    print(text)
    if args.write:
        replace_section("soak", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
