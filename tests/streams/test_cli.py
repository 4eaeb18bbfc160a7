from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from restrictwatch.detectors.schemas import validator
from restrictwatch.streams.cli import main
from tests.conftest import traffic


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


# replay in several processes --------------------------------------------------------------

FEED = (
    "tr-nationwide-throttling-hourly",
    "ng-network-throttling-hourly",
    "iq-exam-shutdowns-hourly",
)


def simulated(path: Path, *names: str) -> Path:
    assert (
        main(["simulate", *(a for n in names for a in ("--scenario", n)), "--out", str(path)]) == 0
    )
    return path


def summary_counts(stderr: bytes) -> list[bytes]:
    """The summary table without its timing."""
    return [line for line in stderr.splitlines() if not line.startswith(b"elapsed")]


def test_replay_in_processes_writes_the_files_and_summary_of_one(tmp_path: Path) -> None:
    data = simulated(tmp_path / "feed.jsonl", *FEED)
    runs = {}
    for workers in ("1", "2"):
        out, dead = tmp_path / f"events-{workers}", tmp_path / f"dead-{workers}"
        proc = run_cli(
            "replay", str(data), "--workers", workers, "--out", str(out), "--dead-letter", str(dead)
        )
        assert proc.returncode == 0, proc.stderr.decode()
        runs[workers] = (out.read_bytes(), dead.read_bytes(), summary_counts(proc.stderr))
    assert runs["1"][0].count(b"\n") > 20
    assert runs["2"] == runs["1"]
    assert b"countries                  3" in b"\n".join(runs["2"][2])


def test_simulate_puts_several_scenarios_side_by_side(tmp_path: Path) -> None:
    data = simulated(tmp_path / "feed.jsonl", *FEED)
    docs = [json.loads(line) for line in data.read_text().splitlines()]
    starts: dict[str, float] = {}
    for d in docs:
        starts.setdefault(d["country"], parse_time(d["ts"]))
    assert list(starts) == ["IQ", "TR", "NG"]  # in order of their start, each within a week
    assert max(starts.values()) - min(starts.values()) < 7 * 86400
    assert [parse_time(d["ts"]) for d in docs] == sorted(parse_time(d["ts"]) for d in docs)
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "ir-curfews-hourly",
                "--scenario",
                "ir-national-shutdown",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )


def test_replay_warns_when_a_process_judged_a_far_future_jump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kenya pauses 30 h while Pakistan goes on: its own process sees a jump, one would not."""
    lines = []
    for i in range(5 * 288):
        ts = 1_700_006_400 + i * 300
        lines.append(traffic(ts, 1000.0 + i % 7))
        if not 3 * 288 <= i < 3 * 288 + 360:
            lines += [traffic(ts, 900.0 + i % 5, country="KE", asn=a) for a in (1, 2, 3)]
    data = tmp_path / "pause.jsonl"
    data.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["replay", str(data), "--workers", "1", "--out", str(tmp_path / "e1")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["replay", str(data), "--workers", "2", "--out", str(tmp_path / "e2")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("restrictwatch: warning: ") and "--workers 1 may judge them" in err


@pytest.mark.parametrize(
    "args",
    [["--workers", "0"], ["--workers", "two"], ["--report", "r", "--workers", "2"]],
)
def test_replay_refuses_a_bad_worker_count(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(traffic(1_700_006_400, 1.0) + b"\n")
    try:
        code = main(["replay", str(data), *[str(tmp_path / a) if a == "r" else a for a in args]])
    except SystemExit as exc:  # argparse's own usage error
        code = int(exc.code or 0)
    assert code == 2 and "workers" in capsys.readouterr().err


@pytest.fixture(scope="module")
def long_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that a replay is still running when a test interrupts it."""
    return simulated(
        tmp_path_factory.mktemp("long") / "feed.jsonl", "pk-2023-12-17", "ke-small-asn-outage"
    )


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux: from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def replay_processes_started(
    data: Path, tmp_path: Path
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A `replay --workers 2` in its own session, once both of its replay processes run."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "restrictwatch.streams.cli",
            "replay",
            str(data),
            "--workers",
            "2",
            "--out",
            str(tmp_path / "events"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replaying = [c for c in children(proc.pid) if b"spawn_main" in _cmdline(c)]
        if len(replaying) == 2:
            time.sleep(2)  # well into the replay
            return proc, replaying
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the replay processes did not start")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def gone(pids: list[int], within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and b"spawn_main" in _cmdline(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_replay_process_killed_is_a_clear_error_and_ends_the_replay(
    long_feed: Path, tmp_path: Path
) -> None:
    proc, replaying = replay_processes_started(long_feed, tmp_path)
    os.kill(replaying[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err.decode()
    assert b"restrictwatch: error: replay process" in err and b"died (signal SIGKILL)" in err
    assert b"Traceback" not in err
    assert gone(replaying)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_ctrl_c_ends_a_replay_in_processes_promptly(long_feed: Path, tmp_path: Path) -> None:
    proc, replaying = replay_processes_started(long_feed, tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends the whole foreground group
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert gone(replaying)
