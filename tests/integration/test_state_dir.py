"""The worker's local store: one per app id, and a store left from reset topics is rebuilt.

After the broker's topics are reset, a worker that kept its state directory used to stop at
once with Faust's ConsistencyError (the store's changelog offset ahead of the new, empty
changelog), on every start. It must say so in one line, wipe the store and go on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from kafka import KafkaAdminClient

from restrictwatch.detectors.config import load_config
from restrictwatch.streams.app import STATE_MARKER
from restrictwatch.streams.replay import replay
from tests.catalogue import good_stream
from tests.integration.conftest import KAFKA_SH
from tests.integration.test_worker import identity
from tests.integration.workers import Deployment, resolved


def reset_topics(admin: KafkaAdminClient, d: Deployment) -> None:
    """Delete every topic and the consumer group of the deployment, as a broker reset would."""
    ours = [t for t in admin.list_topics() if d.name in t]
    assert any(t.endswith("-changelog") for t in ours), ours
    admin.delete_topics(ours)
    admin.delete_groups([d.env["RW_APP_ID"]])
    deadline = time.monotonic() + 60
    while any(d.name in t for t in admin.list_topics()):
        assert time.monotonic() < deadline, "topics not deleted"
        time.sleep(0.5)


def test_a_store_left_from_reset_topics_is_wiped_and_rebuilt(
    kafka_bootstrap: str, kafka_admin: KafkaAdminClient, tmp_path: Path
) -> None:
    lines = good_stream()  # a 6 h block of one platform on day 8
    expected = replay(lines, load_config()).events
    assert [e["status"] for e in expected] == ["open", "resolved"]

    d = Deployment(kafka_bootstrap, tmp_path)
    d.create_topics()
    first = d.start_worker()
    d.produce(lines[: len(lines) // 2])
    d.wait_committed(timeout=180)
    d.kill(first, signal.SIGTERM)
    store = tmp_path / "state-0" / d.env["RW_APP_ID"]  # namespaced by app id
    assert list(store.glob("v*/tables/*.db")), list(tmp_path.rglob("*"))
    assert (tmp_path / "state-0" / STATE_MARKER).is_file()

    reset_topics(kafka_admin, d)
    d.create_topics()
    d.start_worker()  # the same state directory
    d.produce(lines)
    events = d.events(resolved(), timeout=300)
    assert identity(events) == identity(expected)  # state rebuilt from scratch, not the old one
    log = (tmp_path / "worker-0.log").read_text(errors="replace")
    assert "ConsistencyError" not in log
    wiped = [
        line for line in log.splitlines() if "local table store ahead of its changelog" in line
    ]
    assert len(wiped) == 1, log[-4000:]
    assert "rebuilding it from the changelog" in wiped[0]


def test_kafka_sh_reset_clears_the_worker_state_it_marked_and_nothing_else(
    tmp_path: Path,
) -> None:
    broker_data = tmp_path / "kafka"
    broker_data.mkdir()
    (broker_data / ".restrictwatch-kafka").touch()
    state = tmp_path / "state"
    (state / "rw-a" / "v1" / "tables").mkdir(parents=True)
    (state / STATE_MARKER).touch()
    other = tmp_path / "not-a-state-dir"
    other.mkdir()

    def reset(state_dir: Path) -> str:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "RW_"))},
            "KAFKA_DATA_DIR": str(broker_data),
            "RW_STATE_DIR": str(state_dir),
        }
        done = subprocess.run(
            ["bash", str(KAFKA_SH), "reset"], env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    out = reset(state)
    assert not broker_data.exists() and not state.exists()
    assert f"deleted the worker state {state}" in out
    out = reset(other)
    assert other.is_dir() and "left" in out and "alone" in out
