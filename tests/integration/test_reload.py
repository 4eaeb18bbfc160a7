"""SIGHUP reloads the detector config in a running worker; a broken file keeps the old one. The
worker says each step in one log line (text or JSON) and reports its readiness as a metric."""

from __future__ import annotations

import re
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.config import load_config
from tests.integration.api_process import free_port
from tests.integration.workers import Deployment

SECRET = "not-for-the-log"


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


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return text


def json_lines(log: str) -> list[dict[str, Any]]:
    """Every line of a JSON log is one object with ts, level, logger and message."""
    docs = [orjson.loads(line) for line in log.splitlines()]
    for doc in docs:
        assert {"ts", "level", "logger", "message"} <= doc.keys(), doc
    return docs


def our_lines(log: str, log_format: str) -> list[str]:
    """What our loggers said, as `LEVEL logger: message`."""
    if log_format == "json":
        return [
            f"{d['level'].upper()} {d['logger']}: {d['message']}"
            for d in json_lines(log)
            if d["logger"].startswith("restrictwatch")
        ]
    return [line.split(" ", 1)[1] for line in log.splitlines() if " restrictwatch." in line]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_sighup_reloads_the_config_and_a_broken_one_is_refused(
    kafka_bootstrap: str, tmp_path: Path, log_format: str
) -> None:
    config = tmp_path / "detectors.yaml"
    config.write_text("version: first\n")
    first = load_config(config).fingerprint
    config.write_text("version: second\nthresholds: {min_sigmas: 4}\n")
    second = load_config(config).fingerprint
    config.write_text("version: first\n")
    deployment = Deployment(kafka_bootstrap, tmp_path)
    deployment.create_topics()
    try:
        port = free_port()
        worker = deployment.start_worker(
            RW_DETECTOR_CONFIG=str(config),
            RW_METRICS_PORT=str(port),
            RW_LOG_FORMAT=log_format,
            RW_SASL_PASSWORD=SECRET,  # unused with PLAINTEXT, but a setting all the same
        )
        wait_for(deployment, "ready: restrictwatch")
        # /metrics is served by a task of its own, which may bind its port after the ready line.
        wait_for(deployment, "serving /metrics on ")
        assert "rw_worker_ready 1.0" in scrape(port)  # partitions held, state restored
        config.write_text("version: second\nthresholds: {min_sigmas: 4}\n")
        worker.send_signal(signal.SIGHUP)
        wait_for(deployment, "config reloaded: second@")
        config.write_text("version: third\nthresholds: {bogus: 1}\n")
        worker.send_signal(signal.SIGHUP)
        log = wait_for(deployment, "config reload failed")
        assert worker.poll() is None  # still running, on the second config
        # ... and counted, by reason, for the ConfigReloadFailed alert
        exposition = scrape(port)
        assert 'rw_config_load_failures_total{reason="invalid"} 1.0' in exposition
        assert "rw_config_loads_total 2.0" in exposition  # the start and the second config
        assert "rw_worker_ready 1.0" in exposition
    finally:
        deployment.stop_all()

    # The whole log of a start and two reloads: one line per step, nothing from the libraries.
    lines = our_lines(log, log_format)
    assigned = (
        f"INFO restrictwatch.worker: partitions assigned and state restored from "
        f"{deployment.env['RW_APP_ID']}-rw-country-state-changelog: "
        f"{deployment.name}.reachability[0,1] {deployment.name}.traffic[0,1] "
        "(0 countries in the state table)"
    )
    assert sum(line.startswith(assigned) for line in lines) == 1, lines
    ready = [line for line in lines if " ready: " in line]
    assert len(ready) == 1, lines
    assert re.fullmatch(
        rf"INFO restrictwatch\.worker: ready: restrictwatch \S+, config {re.escape(first)}"
        r"( settings=\{.*\})?",
        ready[0],
    ), ready
    assert f"INFO restrictwatch.worker: config reloaded: {second} (was {first})" in lines
    failed = [line for line in lines if "config reload failed" in line]
    assert len(failed) == 1 and failed[0].startswith(
        f"ERROR restrictwatch.worker: config reload failed, keeping {second}: "
    )
    assert "thresholds.bogus" in failed[0]
    assert "config reloaded: third" not in log
    assert SECRET not in log and "**********" in log
    assert "\x1b" not in log  # no terminal escape codes in a file
    # the libraries' start-up chatter is left out; what they still say is a warning or worse
    assert "Marking the coordinator dead" not in log
    assert "Group Coordinator Request failed" not in log
    if log_format == "json":
        docs = json_lines(log)
        assert len(docs) == len(log.splitlines())
        assert all(
            d["level"] in ("warning", "error", "critical")
            for d in docs
            if not d["logger"].startswith("restrictwatch")
        ), docs
        ready = next(d for d in docs if d["message"].startswith("ready:"))
        assert ready["config_version"] == first
        assert ready["settings"]["sasl_password"] == "**********"
        assert ready["settings"]["app_id"] == deployment.env["RW_APP_ID"]
        refused = next(d for d in docs if d["message"].startswith("config reload failed"))
        assert (refused["level"], refused["reason"], refused["config_version"]) == (
            "error",
            "invalid",
            second,
        )
        reloaded = next(d for d in docs if d["message"].startswith("config reloaded"))
        assert (reloaded["config_version"], reloaded["previous_config_version"]) == (second, first)
    else:
        theirs = [line for line in log.splitlines() if " restrictwatch." not in line]
        assert all(re.match(r"\S+Z (WARNING|ERROR|CRITICAL) ", line) for line in theirs), theirs
