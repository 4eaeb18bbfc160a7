"""The live worker on a real broker: same events as replay, dead letters, crash and restart."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.config import config_as_yaml, load_config
from restrictwatch.streams.kafka_io import produce_file
from restrictwatch.streams.replay import replay
from tests.catalogue import stateless
from tests.integration.workers import Deployment, iter_headers, pk_lines, resolved


def identity(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What must match between worker and replay: ids, lifecycle, kinds, scopes, times."""
    keys = (
        "event_id",
        "seq",
        "status",
        "kind",
        "country",
        "asns",
        "platforms",
        "started_at",
        "detected_at",
        "ended_at",
    )
    return [tuple(str(e[k]) for k in keys) for e in events]


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return pk_lines()


def test_worker_events_equal_replay_and_bad_records_are_dead_lettered(
    deployment: Deployment,
) -> None:
    """The whole pk-2023-12-17 scenario (276,696 records) with the bad-record catalogue in it."""
    scenario_lines = pk_lines("2023-12-03T00:00:00")
    bad = stateless(1_702_300_000)  # 2023-12-11, inside the file
    step = len(scenario_lines) // (len(bad) + 1)
    mixed: list[bytes] = []
    for i, raw in enumerate(scenario_lines):
        mixed.append(raw)
        if i and i % step == 0 and i // step <= len(bad):
            mixed.append(bad[i // step - 1].raw)
    expected = replay(mixed, load_config()).events
    assert [e["status"] for e in expected] == ["open", "resolved"]

    deployment.start_worker()
    deployment.produce(mixed)
    events = deployment.events(resolved(), timeout=300)
    assert identity(events) == identity(expected)
    assert_same_messages(events, expected)

    # One log line per event message, with its id, kind, country and summary.
    log = (deployment.tmp / "worker-0.log").read_text(errors="replace")
    for event, verb in zip(expected, ("opened", "resolved"), strict=True):
        line = (
            f"INFO restrictwatch.worker: event {verb}: {event['event_id']} {event['kind']} "
            f"{event['country']}: {event['summary']}"
        )
        assert line in log, log[-4000:]

    letters = deployment.read("deadletter", lambda ms: len(ms) >= len(bad), timeout=60)
    assert len(letters) == len(bad)
    by_value = {m.value: dict(iter_headers(m)) for m in letters}
    for entry in bad:
        if len(entry.raw) > 1_000_000:
            continue
        headers = by_value[entry.raw]  # original bytes kept
        assert headers["rw-error-type"] == entry.error_type, (entry.name, headers)
        assert headers["rw-reason"] and headers["rw-stage"] in ("decode", "validate", "bin")
        assert headers["rw-source-topic"].startswith(deployment.name)
        assert int(headers["rw-source-offset"]) >= 0
    # Once the input has gone quiet every offset is committed: the timer checkpoints what the
    # last records changed and acknowledges them.
    deployment.wait_committed(timeout=60)


def assert_same_messages(
    got: list[dict[str, Any]], want: list[dict[str, Any]], but: tuple[str, ...] = ()
) -> None:
    """Whole messages equal, field by field (`but` these), with a readable difference."""
    assert identity(got) == identity(want)
    for g, w in zip(got, want, strict=True):
        diff = {k: (g.get(k), w[k]) for k in w if k not in but and g.get(k) != w[k]}
        assert not diff, f"{w['event_id']} seq {w['seq']}: (worker, replay) {diff}"[:4000]


def merge_log(deployment: Deployment) -> str:
    """The workers' lines that say where their merge went on without a topic, or what they
    restored: what to read first when a restarted worker's events differ from replay's."""
    words = ("goes on without", "went on without", "restored", "unreadable", "rewound", "stuck")
    lines = []
    for path in sorted(deployment.tmp.glob("worker-*.log")):
        text = path.read_text(errors="replace").splitlines()
        lines += [f"{path.name}: {line[:300]}" for line in text if any(w in line for w in words)]
    return "\n".join(lines[-40:])


def index_at(lines: list[bytes], ts: str) -> int:
    return next(i for i, raw in enumerate(lines) if orjson.loads(raw)["ts"] >= ts)


def test_batches_from_produce_give_replay_s_events_and_a_bad_record_its_own_dead_letter(
    deployment: Deployment, tmp_path: Path
) -> None:
    """`restrictwatch produce` sends batches per country and bin by default; a line that is a
    batch already goes as it is, and its one bad record is dead-lettered alone, with its index."""
    lines = pk_lines()
    ke = [
        orjson.dumps(
            {
                "signal": "traffic",
                "ts": 1_702_300_000 + i * 300,
                "country": "KE",
                "value": 10.0,
                "source": "edge-cdn",
            }
        )
        for i in range(3)
    ]
    batch = b"[" + b",".join([ke[0], ke[1].replace(b'"KE"', b'"XX"'), ke[2]]) + b"]"
    source = tmp_path / "records.jsonl"
    source.write_bytes(b"\n".join([*lines, batch]) + b"\n")
    expected = replay([*lines, batch], load_config()).events
    assert [e["status"] for e in expected] == ["open", "resolved"]

    deployment.start_worker()
    produced = produce_file(deployment.settings(), str(source))
    assert produced.sent == len(lines) + 1
    events = deployment.events(resolved(), timeout=300)
    assert_same_messages(events, expected)
    sent = deployment.read("traffic", lambda ms: len(ms) > 0, timeout=30)
    assert any(m.value.startswith(b"[") and m.value.count(b'"signal"') > 1 for m in sent)

    (letter,) = deployment.read("deadletter", lambda ms: len(ms) >= 1, timeout=60)
    headers = dict(iter_headers(letter))
    assert letter.value == batch and letter.key == b"KE"
    assert (headers["rw-error-type"], headers["rw-index"]) == ("unknown_country", "1")


def test_a_killed_worker_resumes_without_losing_or_duplicating(
    deployment: Deployment, lines: list[bytes]
) -> None:
    """kill -9 twice: once right after the incident opened, once while catching up before it
    resolves. The second worker starts with an empty state dir (everything from the changelog),
    the third with the first one's stale local store (it catches up from the changelog)."""
    expected = replay(lines, load_config()).events
    mid = index_at(lines, "2023-12-17T16:00:00Z")  # opened at 15:10
    late = index_at(lines, "2023-12-17T20:00:00Z")  # resolved at 22:00
    quick = {"RW_SESSION_TIMEOUT_SECONDS": "10"}  # a killed member is dropped after 10 s

    first = deployment.start_worker(0, **quick)
    deployment.produce(lines[:mid])
    before = deployment.events(lambda es: any(e["status"] == "open" for e in es), timeout=300)
    deployment.kill(first)

    second = deployment.start_worker(1, **quick)
    deployment.produce(lines[mid:])
    deployment.wait_committed(late, timeout=300)
    deployment.kill(second)

    deployment.start_worker(0, **quick)
    after = deployment.events(resolved(), timeout=300)

    assert after[: len(before)] == before
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for e in after:
        key = (e["event_id"], e["seq"])
        assert seen.setdefault(key, e) == e, f"{key} re-emitted with different content"
    try:
        assert_same_messages(list(seen.values()), expected)  # whole messages: nothing re-learned
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nthe merge and the restores:\n{merge_log(deployment)}"
        ) from None
    deployment.wait_committed(timeout=60)
    # The second worker started on an empty state directory: its one country came from the
    # changelog, and its log says so in one line.
    restored = (deployment.tmp / "worker-1.log").read_text(errors="replace")
    assert re.search(
        r"INFO restrictwatch\.worker: partitions assigned and state restored from "
        r"\S+-rw-country-state-changelog: .*\(1 country in the state table\)",
        restored,
    ), restored[-4000:]


def test_records_the_consumer_never_delivered_are_read_again_from_the_commit(
    deployment: Deployment,
) -> None:
    """Everything from the incident on is lost between consumer and handler the first time: the
    commit stops at it, the worker reads the partitions again from there and then emits what
    replay emits, and commits everything."""
    lines = pk_lines("2023-12-13T00:00:00")
    expected = replay(lines, load_config()).events
    deployment.start_worker(
        0, module="tests.integration.dropping_worker", RW_TEST_DROP_FROM="2023-12-17T12:00:00Z"
    )
    deployment.produce(lines)
    events = deployment.events(resolved(), timeout=300)
    assert_same_messages(events, expected)
    deployment.wait_committed(timeout=120)
    log = (deployment.tmp / "worker-0.log").read_text(errors="replace")
    assert "some records were never delivered; reading the partition again" in log


def test_sighup_reloads_the_detector_config_without_losing_state(
    deployment: Deployment, tmp_path: Path
) -> None:
    lines = pk_lines("2023-12-13T00:00:00")  # four days of warm-up are enough
    expected = replay(lines, load_config()).events
    default = config_as_yaml(load_config())
    config_file = tmp_path / "detector.yaml"
    config_file.write_text(default.replace("version: default-1", "version: live-2", 1))
    live_2 = load_config(config_file).fingerprint
    config_file.write_text(default.replace("version: default-1", "version: live-1", 1))
    live_1 = load_config(config_file).fingerprint
    worker = deployment.start_worker(0, RW_DETECTOR_CONFIG=str(config_file))
    mid = index_at(lines, "2023-12-17T16:00:00Z")
    deployment.produce(lines[:mid])
    deployment.events(lambda es: any(e["status"] == "open" for e in es), timeout=300)

    config_file.write_text("version: live-2\nthresholds: {bogus: 1}\n")
    worker.send_signal(signal.SIGHUP)  # a bad file is refused, the worker goes on
    wait_for_log(deployment, f"config reload failed, keeping {live_1}")
    config_file.write_text(default.replace("version: default-1", "version: live-2", 1))
    worker.send_signal(signal.SIGHUP)
    wait_for_log(deployment, f"config reloaded: {live_2}")
    deployment.produce(lines[mid:])
    events = deployment.events(resolved(), timeout=300)

    assert worker.poll() is None
    assert [e["config_version"] for e in events] == [live_1, live_2]
    # Apart from the version, exactly replay's messages: the open incident was kept, its
    # series were not learned again.
    assert_same_messages(events, expected, but=("config_version",))


def wait_for_log(deployment: Deployment, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in deployment.log():
        assert time.monotonic() < deadline, f"no {text!r} in the worker log:\n{deployment.log()}"
        time.sleep(0.2)
