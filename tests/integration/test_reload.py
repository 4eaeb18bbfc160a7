"""SIGHUP reloads the detector config in a running worker; a broken file keeps the old one."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from tests.integration.api_process import free_port
from tests.integration.workers import Deployment


def wait_for(deployment: Deployment, text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = (
            (deployment.tmp / "worker-0.log").read_text(errors="replace")
            if (deployment.tmp / "worker-0.log").exists()
            else ""
        )
        if text in log:
            return log
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not in the worker log after {timeout} s:\n{deployment.log()}")


def test_sighup_reloads_the_config_and_a_broken_one_is_refused(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = tmp_path / "detectors.yaml"
    config.write_text("version: first\n")
    deployment = Deployment(kafka_bootstrap, tmp_path)
    deployment.create_topics()
    try:
        port = free_port()
        worker = deployment.start_worker(RW_DETECTOR_CONFIG=str(config), RW_METRICS_PORT=str(port))
        wait_for(deployment, "worker settings")
        config.write_text("version: second\nthresholds: {min_sigmas: 4}\n")
        worker.send_signal(signal.SIGHUP)
        wait_for(deployment, "config reloaded: second@")
        config.write_text("version: third\nthresholds: {bogus: 1}\n")
        worker.send_signal(signal.SIGHUP)
        log = wait_for(deployment, "config reload failed")
        assert "thresholds.bogus" in log
        assert worker.poll() is None  # still running, on the second config
        assert "config reloaded: third" not in log
        # ... and counted, by reason, for the ConfigReloadFailed alert
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            exposition = response.read().decode()
        assert 'rw_config_load_failures_total{reason="invalid"} 1.0' in exposition
        assert "rw_config_loads_total 2.0" in exposition  # the start and the second config
    finally:
        deployment.stop_all()
