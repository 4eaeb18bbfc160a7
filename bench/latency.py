"""Latency from a bin's watermark passing to its event on the events topic, through a real broker.

    python -m bench.latency [--rate 3000] [--write]

Starts a private broker (deploy/kafka/kafka.sh, port 29092, its own data dir) and one worker on
16 partitions, waits until the worker owns them, then sends six scenarios (one country each, each
country on a partition of its own) as a live feed would: all countries at once, each in event-time
order, `--rate` records/s in all. Every record is sent with its wall-clock send time as its Kafka
timestamp; the worker's producer stamps each event message with its own send time.

The bin an event message reports on ends at `emitted_at`; a source closes it with its first record
at or after `emitted_at` + the allowed lateness, and the country evaluates it once every source
that is still reporting has closed it. So the watermark passes at the send time of the last of
those closing records (sources with no record within `source_silence_seconds` after it do not
count), and the latency is the event message's timestamp minus that. One clock, one machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from bench.markdown import replace_section
from bench.worker_perf import PORT, broker
from detectors.config import load_config
from detectors.records import Sample, decode_sample
from detectors.simulation.render import render
from detectors.simulation.scenarios import scenario
from streams.kafka_io import _route, create_topics
from streams.settings import WorkerSettings

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


def start_worker(settings: WorkerSettings, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RW_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "RW_APP_ID": settings.app_id,
        "RW_TRAFFIC_TOPIC": settings.traffic_topic,
        "RW_REACHABILITY_TOPIC": settings.reachability_topic,
        "RW_EVENTS_TOPIC": settings.events_topic,
        "RW_DEADLETTER_TOPIC": settings.deadletter_topic,
        "RW_PARTITIONS": str(settings.partitions),
        "RW_METRICS_PORT": "0",
        "RW_STATE_DIR": str(tmp / "state"),
        "RW_WEB_PORT": "26266",
    }
    log = (tmp / "worker.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


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


def send(settings: WorkerSettings, lines: list[bytes], rate: float) -> list[tuple[Sample, float]]:
    """Send at `rate` records/s; return each record and its send time (s)."""
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5)
    sent: list[tuple[Sample, float]] = []
    started = time.time()
    for n, raw in enumerate(lines):
        ahead = started + n / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
        topic, key, _ = _route(settings, raw)
        now_ms = int(time.time() * 1000)
        producer.send(topic, key=key, value=raw, timestamp_ms=now_ms)
        sample = decode_sample(raw, 1 << 20)
        assert isinstance(sample, Sample), sample
        sent.append((sample, now_ms / 1000))
    producer.flush()
    producer.close()
    return sent


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


def watermark_clock(
    sent: list[tuple[Sample, float]], lateness: float, silence: float
) -> Callable[[str, float], float]:
    """passed(country, bin end): when the watermark passed that bin (ValueError if it never did)."""
    by_source: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(
        lambda: ([], [])
    )
    for sample, at in sent:
        ts_list, at_list = by_source[(sample.key.country, sample.key.source)]
        if not ts_list or sample.ts > ts_list[-1]:
            ts_list.append(sample.ts)
            at_list.append(at)
    sources: dict[str, list[tuple[list[float], list[float]]]] = defaultdict(list)
    for (country, _), series in by_source.items():
        sources[country].append(series)

    def passed(country: str, bin_end: float) -> float:
        closing = []
        for ts_list, at_list in sources[country]:
            i = bisect_left(ts_list, bin_end + lateness)
            if i < len(ts_list) and ts_list[i] <= bin_end + lateness + silence:
                closing.append(at_list[i])
        return max(closing)

    return passed


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="a subset of the six")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    names = args.scenarios.split(",")
    config = load_config()
    feeds = [render(scenario(name), 1).lines for name in names]
    lines = interleave(feeds)
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmpdir:
        tmp = Path(tmpdir)
        broker("up", tmp / "kafka")
        worker = None
        try:
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
            worker = start_worker(settings, tmp)
            wait_until_assigned(settings, worker)
            started = time.monotonic()
            sent = send(settings, lines, args.rate)
            duration = time.monotonic() - started
            time.sleep(10)  # the last bins: lateness is in event time, the feed has stopped
            events = read_events(settings, quiet_seconds=10)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
            broker("down", tmp / "kafka")
    passed = watermark_clock(sent, config.lateness_seconds, config.lifecycle.source_silence_seconds)
    latencies = []
    unmeasured = 0  # bins no source closed: evaluated when the feed ended, by silence
    for event, at in events:
        try:
            latencies.append(at - passed(event["country"], epoch(event["emitted_at"])))
        except ValueError:
            unmeasured += 1
    if not latencies:
        print(f"no events measured ({len(events)} read)")
        return 1
    ms = [1000 * v for v in latencies]
    text = "\n".join(
        [
            "### Watermark-to-event latency",
            "",
            f"`python -m bench.latency --rate {args.rate:.0f} --scenarios {args.scenarios} --write`: {len(sent):,} records of "
            f"{len(names)} countries ({', '.join(names)}) sent as one live feed at "
            f"{len(sent) / duration:,.0f} records/s to one worker (16 partitions, private local "
            "broker, one run); latency from the send of the record that passed a bin's watermark "
            "to the event message about that bin, by Kafka timestamps.",
            "",
            "| event messages | not measured | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|---|",
            f"| {len(ms)} | {unmeasured} | {statistics.median(ms):,.0f} ms | {percentile(ms, 0.9):,.0f} ms | "
            f"{percentile(ms, 0.99):,.0f} ms | {max(ms):,.0f} ms |",
            "",
            "Target: p99 ≤ 1 s.",
        ]
    )
    print(text)
    if args.write:
        replace_section("latency", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
