"""The live worker on a real broker: same events as replay, dead letters, crash and restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.config import load_config
from streams.replay import replay
from tests.catalogue import stateless
from tests.integration.workers import Deployment, iter_headers, pk_lines, resolved, statuses


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


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    d = Deployment(kafka_bootstrap, tmp_path)
    d.create_topics()
    yield d
    d.stop_all()


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return pk_lines()


def test_worker_events_equal_replay_and_bad_records_are_dead_lettered(
    deployment: Deployment, lines: list[bytes]
) -> None:
    bad = stateless(1_702_300_000)  # 2023-12-11, inside the file
    step = len(lines) // (len(bad) + 1)
    mixed: list[bytes] = []
    for i, raw in enumerate(lines):
        mixed.append(raw)
        if i and i % step == 0 and i // step <= len(bad):
            mixed.append(bad[i // step - 1].raw)
    expected = replay(mixed, load_config()).events
    assert [e["status"] for e in expected] == ["open", "resolved"]

    deployment.start_worker()
    deployment.produce(mixed)
    events = deployment.events(resolved(), timeout=300)
    assert identity(events) == identity(expected)
    for got, want in zip(events, expected, strict=True):
        diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        assert not diff, str(diff)[:3000]

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


def test_a_killed_worker_resumes_without_losing_or_duplicating(
    deployment: Deployment, lines: list[bytes]
) -> None:
    expected = replay(lines, load_config()).events
    cut = next(
        i for i, raw in enumerate(lines) if orjson.loads(raw)["ts"] >= "2023-12-17T18:00:00Z"
    )

    first = deployment.start_worker()
    deployment.produce(lines[:cut])
    before = deployment.events(lambda es: any(e["status"] == "open" for e in es), timeout=300)
    deployment.kill(first)  # kill -9 in the middle of the incident

    deployment.start_worker()
    deployment.produce(lines[cut:])
    after = deployment.events(resolved(), timeout=300)

    assert after[: len(before)] == before
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for e in after:
        key = (e["event_id"], e["seq"])
        assert seen.setdefault(key, e) == e, f"{key} re-emitted with different content"
    assert identity(list(seen.values())) == identity(expected)
    assert statuses(list(seen.values())) == statuses(expected)
