"""Start `restrictwatch worker` processes for the benchmarks, and stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from restrictwatch.streams.settings import WorkerSettings


def start_worker(
    settings: WorkerSettings, state_dir: Path, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    """One worker on `settings`' broker and topics, without a metrics port; `env` adds or
    overrides RW_ variables (RW_APP_ID, RW_WEB_PORT, RW_CHECKPOINT_MAX_SHARE, ...)."""
    base = {
        **os.environ,
        "RW_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "RW_APP_ID": settings.app_id,
        "RW_TRAFFIC_TOPIC": settings.traffic_topic,
        "RW_REACHABILITY_TOPIC": settings.reachability_topic,
        "RW_EVENTS_TOPIC": settings.events_topic,
        "RW_DEADLETTER_TOPIC": settings.deadletter_topic,
        "RW_PARTITIONS": str(settings.partitions),
        "RW_METRICS_PORT": "0",
        "RW_STATE_DIR": str(state_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "restrictwatch.streams.cli", "worker"],
        env={**base, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within a minute."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
