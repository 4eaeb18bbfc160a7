"""The worker under faults: a broker restart, a rebalance between two workers, and a broker
that requires SASL_SSL with SCRAM-SHA-512. Each compares what the worker published with replay."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.config import load_config
from restrictwatch.streams.kafka_io import create_topics, produce_file, read_events
from restrictwatch.streams.replay import replay
from restrictwatch.streams.settings import WorkerSettings
from tests.integration.conftest import BrokerPool
from tests.integration.inputs import cut_lines, merged
from tests.integration.test_worker import identity
from tests.integration.workers import Deployment, pk_lines, resolved

COUNTRIES = ("ke-small-asn-outage", "tr-dns-and-sni-blocks", "ru-x-throttling")


def deduplicated(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One message per (event_id, seq); a re-emitted one must be byte-for-byte the same event."""
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for e in events:
        key = (e["event_id"], e["seq"])
        assert seen.setdefault(key, e) == e, f"{key} re-emitted with different content"
    return list(seen.values())


def by_event(events: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """Each event's lifecycle in seq order; the order across events may differ between runs."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for e, key in sorted(zip(events, identity(events), strict=True), key=lambda p: p[0]["seq"]):
        out.setdefault(e["event_id"], []).append(key)
    return out


def distinct(n: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda es: len({(e["event_id"], e["seq"]) for e in es}) >= n


def partitions(row: str) -> set[int]:
    """A list of partitions as the worker logs it ("0,2"), or a range ("0-1"), as numbers."""
    out: set[int] = set()
    for part in row.split(","):
        first, _, last = part.strip().partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def index_at(lines: list[bytes], ts: str) -> int:
    return next(i for i, raw in enumerate(lines) if orjson.loads(raw)["ts"] >= ts)


@pytest.fixture
def private_broker(local_kafka: BrokerPool, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A broker of this test's own, so restarting it disturbs no other test."""
    security = getattr(request, "param", "plaintext")
    broker = local_kafka.start(request.node.name[:40], preferred_port=19292, security=security)
    try:
        yield broker
    finally:
        broker.down()


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment(kafka_bootstrap, tmp_path, partitions=4)
    d.create_topics()
    yield d
    d.stop_all()


def test_a_worker_rides_out_a_broker_restart(private_broker: Any, tmp_path: Path) -> None:
    lines = pk_lines()
    expected = replay(lines, load_config()).events
    assert [e["status"] for e in expected] == ["open", "resolved"]
    cut = index_at(lines, "2023-12-17T18:00:00Z")  # mid-incident

    d = Deployment(private_broker.bootstrap, tmp_path)
    try:
        d.create_topics()
        worker = d.start_worker()
        d.produce(lines[:cut])
        d.events(lambda es: any(e["status"] == "open" for e in es), timeout=240)
        private_broker.down()  # SIGTERM, data kept
        time.sleep(5)
        assert worker.poll() is None, f"worker exited on broker loss:\n{d.log()}"
        private_broker.up()
        d.produce(lines[cut:])
        events = d.events(resolved(), timeout=240)
        assert worker.poll() is None, f"worker exited:\n{d.log()}"
    finally:
        d.stop_all()
    assert identity(deduplicated(events)) == identity(expected)


def test_a_stopped_workers_partitions_and_state_move_to_the_other(
    deployment: Deployment,
) -> None:
    lines = merged(*COUNTRIES)
    expected = replay(lines, load_config()).events
    assert len({e["country"] for e in expected}) == len(COUNTRIES)
    assert sum(e["status"] == "resolved" for e in expected) == len(COUNTRIES)
    cut = index_at(lines, "2024-01-10T15:00:00Z")  # the first incident is open

    deployment.start_worker(0)
    second = deployment.start_worker(1)
    deployment.produce(lines[:cut])
    deployment.events(lambda es: any(e["status"] == "open" for e in es), timeout=180)
    deployment.kill(second, signal.SIGTERM)  # leaves the group; worker 0 takes its partitions
    deployment.produce(lines[cut:])
    events = deployment.events(distinct(len(expected)), timeout=180)
    time.sleep(3)  # a late duplicate with other content would still be caught
    events = deployment.events(distinct(len(expected)), timeout=60)

    assert by_event(deduplicated(events)) == by_event(expected)
    assert "Traceback" not in deployment.log(1), deployment.log(1)
    # The stopped worker owned a partition that carries a country (TR 0, RU 1, KE 2), so its
    # state really had to move: the worker logs what it was assigned.
    rows = re.findall(
        r"partitions assigned and state restored from \S+: .*\.traffic\[([\d,]+)\]",
        (deployment.tmp / "worker-1.log").read_text(),
    )
    assert rows and set().union(*map(partitions, rows)) & {0, 1, 2}, rows


SECRET = "rw-secret"  # the password of local_kafka's SCRAM user


@pytest.mark.parametrize("private_broker", ["sasl_ssl"], indirect=True)
def test_a_worker_over_sasl_ssl_scram(
    private_broker: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert private_broker.sasl_password == SECRET
    lines = cut_lines("ke-small-asn-outage")
    expected = replay(lines, load_config()).events
    assert [e["status"] for e in expected] == ["open", "resolved"]

    d = Deployment(private_broker.sasl_ssl_bootstrap, tmp_path)
    secure = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": private_broker.sasl_user,
        "sasl_password": SECRET,
        "ssl_cafile": str(private_broker.ca_file),
    }
    settings = WorkerSettings(**{**d.settings().model_dump(exclude={"sasl_password"}), **secure})
    assert create_topics(settings)  # over SASL_SSL
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    try:
        d.start_worker(0, **{f"RW_{k.upper()}": v for k, v in secure.items()})
        assert produce_file(settings, str(source)).sent == len(lines)
        assert capsys.readouterr().err == ""  # the topics' limits were read over SASL_SSL too
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 180
        while not resolved()(events) and time.monotonic() < deadline:
            events = list(read_events(settings, idle_seconds=3))
            assert d.procs[0].poll() is None, d.log()
    finally:
        d.stop_all()
    assert identity(deduplicated(events)) == identity(expected)
    log = (tmp_path / "worker-0.log").read_text(errors="replace")
    assert "INFO restrictwatch.worker: ready:" in log and '"sasl_password":"**********"' in log
    assert SECRET not in log
