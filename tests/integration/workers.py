"""Run real `restrictwatch worker` processes against the test broker, and read what they publish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from restrictwatch.detectors.simulation.model import ts_of
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.kafka_io import create_topics
from restrictwatch.streams.settings import WorkerSettings


@dataclass
class Deployment:
    """One isolated set of topics and an app id on the shared test broker."""

    bootstrap: str
    tmp: Path
    partitions: int = 2
    name: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            "RW_BOOTSTRAP_SERVERS": self.bootstrap,
            "RW_APP_ID": f"rw-{self.name}",
            "RW_TRAFFIC_TOPIC": f"{self.name}.traffic",
            "RW_REACHABILITY_TOPIC": f"{self.name}.reachability",
            "RW_EVENTS_TOPIC": f"{self.name}.events",
            "RW_DEADLETTER_TOPIC": f"{self.name}.deadletter",
            "RW_PARTITIONS": str(self.partitions),
            "RW_METRICS_PORT": "0",
        }

    def settings(self) -> WorkerSettings:
        return WorkerSettings(
            bootstrap_servers=self.bootstrap,
            app_id=f"rw-{self.name}",
            traffic_topic=f"{self.name}.traffic",
            reachability_topic=f"{self.name}.reachability",
            events_topic=f"{self.name}.events",
            deadletter_topic=f"{self.name}.deadletter",
            partitions=self.partitions,
        )

    def create_topics(self) -> None:
        create_topics(self.settings())

    def start_worker(
        self, index: int = 0, module: str = "restrictwatch.streams.cli", **extra: str
    ) -> subprocess.Popen[bytes]:
        state = self.tmp / f"state-{index}"
        state.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            "RW_STATE_DIR": str(state),
            "RW_WEB_PORT": str(16066 + index),
            **extra,
        }
        log = (self.tmp / f"worker-{index}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "worker", "--loglevel", "info"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def log(self, index: int = 0) -> str:
        path = self.tmp / f"worker-{index}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def produce(self, lines: list[bytes]) -> None:
        """Like `restrictwatch produce`: route by signal, key by country, bad lines unkeyed."""
        from restrictwatch.streams.kafka_io import _route

        settings = self.settings()
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20)
        for raw in lines:
            topic, key, _ = _route(settings, raw)
            producer.send(topic, key=key, value=raw)
        producer.flush()
        producer.close()

    def read(
        self, topic_suffix: str, until: Callable[[list[Any]], bool], timeout: float
    ) -> list[Any]:
        """Messages of one of our topics from the start, until `until(messages)` holds."""
        consumer = KafkaConsumer(
            f"{self.name}.{topic_suffix}",
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=1000,
        )
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for m in consumer:
                    messages.append(m)
                if until(messages):
                    return messages
                for p in self.procs:
                    if p.poll() not in (None, -9, 0, -15):
                        raise AssertionError(f"worker died with {p.returncode}:\n{self.log()}")
        finally:
            consumer.close()
        raise AssertionError(
            f"timed out after {timeout} s with {len(messages)} messages;\n{self.log()}"
        )

    def events(
        self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 240
    ) -> list[dict[str, Any]]:
        msgs = self.read("events", lambda ms: until([orjson.loads(m.value) for m in ms]), timeout)
        return [orjson.loads(m.value) for m in msgs]

    def input_partitions(self) -> list[TopicPartition]:
        s = self.settings()
        return [
            TopicPartition(t, p)
            for t in (s.traffic_topic, s.reachability_topic)
            for p in range(self.partitions)
        ]

    def committed(self) -> dict[TopicPartition, int]:
        """The worker group's committed offset of each input partition (0 if none yet)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.env["RW_APP_ID"],
            enable_auto_commit=False,
        )
        try:
            return {tp: consumer.committed(tp) or 0 for tp in self.input_partitions()}
        finally:
            consumer.close()

    def end_offsets(self) -> dict[TopicPartition, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            ends: dict[TopicPartition, int] = consumer.end_offsets(self.input_partitions())
            return ends
        finally:
            consumer.close()

    def wait_committed(self, records: int | None = None, timeout: float = 120) -> None:
        """Until the group has committed `records` input records in all (every one by default)."""
        deadline = time.monotonic() + timeout
        while True:
            target = sum(self.end_offsets().values()) if records is None else records
            done = sum(self.committed().values())
            if done >= target:
                return
            for p in self.procs:
                if p.poll() not in (None, -9, 0, -15):
                    raise AssertionError(f"worker died with {p.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{done} of {target} input records committed after {timeout} s;\n{self.log()}"
                )
            time.sleep(0.5)

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        proc.send_signal(sig)
        proc.wait(timeout=60)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def pk_lines(since: str = "2023-12-11T00:00:00") -> list[bytes]:
    """pk-2023-12-17 from `since` on: six days of warm-up before the incident keeps tests short."""
    cut = ts_of(since)
    out = []
    for line in render(scenario("pk-2023-12-17"), 1).lines:
        if orjson.loads(line)["ts"] >= _iso_cut(cut):
            out.append(line)
    return out


def _iso_cut(ts: float) -> str:
    from restrictwatch.detectors.events import iso

    return iso(ts)


def statuses(events: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [(e["event_id"], e["seq"], e["status"]) for e in events]


def resolved(n: int = 1) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda es: sum(e["status"] == "resolved" for e in es) >= n


def iter_headers(message: Any) -> Iterator[tuple[str, str]]:
    for k, v in message.headers or []:
        yield k, v.decode()
