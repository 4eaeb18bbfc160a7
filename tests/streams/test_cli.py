from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from restrictwatch.detectors.schemas import validator
from restrictwatch.streams.cli import main


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "restrictwatch.streams.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_demo_reports_exactly_the_pakistan_restriction() -> None:
    proc = run_cli("demo")
    assert proc.returncode == 0, proc.stderr.decode()
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    for m in messages:
        validator("event.v1")(m)
    assert {m["event_id"] for m in messages} == {messages[0]["event_id"]}
    assert messages[0]["status"] == "open" and messages[-1]["status"] == "resolved"
    final = messages[-1]
    assert final["kind"] == "platform_restriction"
    assert final["country"] == "PK" and final["asns"] == []
    assert sorted(final["platforms"]) == ["facebook", "instagram", "x", "youtube"]
    hours = (parse_time(final["ended_at"]) - parse_time(final["started_at"])) / 3600
    assert abs(hours - 7) <= 0.25
    assert abs(parse_time(final["started_at"]) - parse_time("2023-12-17T15:00:00+00:00")) <= 900
    assert (
        final["summary"]
        == "X, Facebook, Instagram and YouTube restricted in Pakistan (PK) for ~7 h"
    )
    assert final["method"] == "tls"
    assert b"replay summary" in proc.stderr


def test_simulate_is_deterministic_and_writes_truth(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    truth = tmp_path / "truth.jsonl"
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "ke-small-asn-outage",
                "--out",
                str(a),
                "--truth",
                str(truth),
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert (
        main(["simulate", "--scenario", "ke-small-asn-outage", "--out", str(b), "--seed", "3"]) == 0
    )
    assert (
        main(["simulate", "--scenario", "ke-small-asn-outage", "--out", str(c), "--seed", "4"]) == 0
    )
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    rows = [json.loads(line) for line in truth.read_text().splitlines()]
    assert rows and all(validator("truth.v1")(r) or True for r in rows)
    assert rows[0]["asns"] == [37061]


def test_replay_writes_events_and_dead_letters(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    assert main(["simulate", "--scenario", "ke-small-asn-outage", "--out", str(data)]) == 0
    lines = data.read_bytes().splitlines()
    junk = [b"not json", b'{"signal":"traffic"}', b"\xff\xfe", b""]
    mixed = lines[:1000] + junk + lines[1000:]
    data.write_bytes(b"\n".join(mixed) + b"\n")
    out, dead = tmp_path / "events.jsonl", tmp_path / "dead.jsonl"
    proc = run_cli("replay", str(data), "--out", str(out), "--dead-letter", str(dead))
    assert proc.returncode == 0, proc.stderr.decode()
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    for letter in letters:
        validator("deadletter.v1")(letter)
    assert [d["error_type"] for d in letters] == ["json", "schema", "encoding", "empty"]
    assert [d["line"] for d in letters] == [1001, 1002, 1003, 1004]
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["status"], e["kind"], e["asns"]) for e in events] == [
        ("open", "network_outage", [37061]),
        ("resolved", "network_outage", [37061]),
    ]
    assert b"dead letters" in proc.stderr


def test_replay_reads_stdin(tmp_path: Path) -> None:
    proc = run_cli(
        "replay", "-", stdin=b'{"signal":"traffic","ts":1,"country":"PK","value":1,"source":"s"}\n'
    )
    assert proc.returncode == 0
    assert b"dead letters" in proc.stderr and proc.stdout == b""


@pytest.mark.parametrize(
    "args",
    [
        ["replay", "/nonexistent/file.jsonl"],
        ["replay", "-", "--config", "/nonexistent.yaml"],
        ["simulate", "--scenario", "atlantis", "--out", "/tmp/x"],
        ["simulate", "--scenario", "pk-2023-12-17"],
        ["config", "validate", "/nonexistent.yaml"],
    ],
)
def test_bad_input_is_a_clear_error_and_non_zero_exit(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("restrictwatch: error: ") and "Traceback" not in err


def test_unknown_command_is_a_usage_error() -> None:
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and b"usage" in proc.stderr


def test_config_show_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert "config_version: default-1@" in shown and "bin_seconds: 300" in shown
    path = tmp_path / "c.yaml"
    path.write_text(shown)
    assert main(["config", "validate", str(path)]) == 0
    path.write_text("lifecycle:\n  open_after: 2\n")
    assert main(["config", "validate", str(path)]) == 2
    assert "lifecycle.open_after" in capsys.readouterr().err


def test_config_show_and_validate_lay_a_partial_file_over_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("thresholds: {reach_drop: 0.3}\n")
    assert main(["config", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert "reach_drop: 0.3" in shown and "youtube: YouTube" in shown and "meta:" in shown
    assert "bin_seconds: 300" in shown and "edge-cdn:" in shown
    assert main(["config", "validate", str(path)]) == 0
    assert "valid (config_version default-1@" in capsys.readouterr().out


def test_simulate_lists_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    assert "pk-2023-12-17" in out and len(out.splitlines()) >= 10


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert (
        capsys.readouterr().out == f"restrictwatch {importlib.metadata.version('restrictwatch')}\n"
    )


def test_the_command_table_is_what_the_parser_offers_and_no_command_imports_the_cli() -> None:
    import ast
    import importlib
    from pathlib import Path

    from restrictwatch.streams.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == [c for names in COMMANDS.values() for c in names]  # type: ignore[union-attr]
    for module in COMMANDS:
        path = Path(importlib.import_module(module).__file__ or "")
        imported = {
            n.module
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert "restrictwatch.streams.cli" not in imported, module
