"""Expected failures end every command the same way: one `restrictwatch: error:` line, exit 2.

Real processes against a port where nothing listens (no broker needed).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.integration.test_kafka_tools import restrictwatch


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connections are refused


def assert_one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("restrictwatch: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize(
    "command",
    [
        ["worker"],
        ["tail"],
        ["tail", "--current"],
        ["topics", "create"],
        ["deadletters"],
        ["produce"],
    ],
)
def test_no_broker_is_retried_for_the_configured_time_then_one_error_line(
    command: list[str], closed_port: int, tmp_path: Path
) -> None:
    if command == ["produce"]:
        records = tmp_path / "records.jsonl"
        records.write_bytes(b'{"signal": "traffic"}\n')
        command = ["produce", str(records)]
    env = {
        "RW_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port}",
        "RW_CONNECT_TIMEOUT_SECONDS": "4",
        "RW_METRICS_PORT": "0",
        "RW_STATE_DIR": str(tmp_path / "state"),
    }
    result = restrictwatch(env, *command)
    assert result.returncode == 2, result.stderr
    error = assert_one_error_line(result.stderr)
    assert error.startswith(f"restrictwatch: error: cannot reach Kafka at 127.0.0.1:{closed_port}")
    assert "RW_CONNECT_TIMEOUT_SECONDS" in error
    tries = [line for line in result.stderr.splitlines() if "not reachable (try " in line]
    # The worker says it in its log (text or JSON, like all its lines); the commands plainly.
    said = f"Kafka at 127.0.0.1:{closed_port} not reachable (try 1: "
    if command == ["worker"]:
        assert tries and re.fullmatch(
            rf"\S+Z WARNING restrictwatch\.worker: {re.escape(said)}.*", tries[0]
        ), tries
    else:
        assert tries and tries[0].startswith(f"restrictwatch: {said}"), tries
    assert result.stderr.splitlines()[-1] == error
    assert result.stdout == ""


def test_bad_files_and_settings_are_one_error_line_too(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: [\n")
    cases: list[tuple[dict[str, str], list[str], str]] = [
        ({"RW_DETECTOR_CONFIG": str(bad_yaml)}, ["worker"], "not valid YAML"),
        ({"RW_PARTITIONS": "many"}, ["worker"], "RW_PARTITIONS"),
        ({"RW_CONNECT_TIMEOUT_SECONDS": "-1"}, ["tail"], "RW_CONNECT_TIMEOUT_SECONDS"),
        ({}, ["produce", str(tmp_path / "missing.jsonl")], "cannot read"),
        ({}, ["replay", str(tmp_path / "missing.jsonl")], "cannot read"),
        ({}, ["config", "validate", str(bad_yaml)], "not valid YAML"),
    ]
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        cases.append(({"RW_METRICS_PORT": port}, ["worker"], "RW_METRICS_PORT: cannot listen"))
        for env, command, says in cases:
            result = restrictwatch(
                {"RW_METRICS_PORT": "0", "RW_CONNECT_TIMEOUT_SECONDS": "1", **env}, *command
            )
            assert result.returncode == 2, (command, result.stderr)
            assert says in assert_one_error_line(result.stderr), result.stderr
