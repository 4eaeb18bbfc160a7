"""The evaluate and backtest commands, end to end on simulated scenarios."""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from restrictwatch.detectors.config import config_as_yaml, load_config
from restrictwatch.detectors.evaluation import parse_time
from restrictwatch.detectors.events import iso
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.cli import build_parser, main
from restrictwatch.streams.quality import MAX_WORKERS, backtest_processes, run_backtest


def write_config(path: Path, **lifecycle: int) -> str:
    data = load_config().model_dump(mode="json")
    data["lifecycle"].update(lifecycle)
    path.write_text(config_as_yaml(load_config().model_validate(data)), encoding="utf-8")
    return str(path)


def row(out: str, kind: str, metric: str) -> list[str]:
    """The cells of one metric row of a kind's block in the side-by-side table."""
    current = None
    for line in out.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if line[:1].strip():
            current, cells = cells[0], cells[1:]
        if current == kind and cells and cells[0] == metric:
            return cells[1:]
    raise AssertionError(f"no row {kind} / {metric} in\n{out}")


def test_backtest_prints_both_configs_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = write_config(tmp_path / "default.yaml")
    slow = write_config(tmp_path / "slow.yaml", open_after_bins=4)
    code = main(["backtest", "--config", default, "--config", slow, "--scenario", "pk-2023-12-17"])
    out = capsys.readouterr().out
    assert code == 0
    header = out.splitlines()[0].split()
    assert header == ["kind", "metric", "default", "slow"]
    assert row(out, "all", "recall") == ["100.0 %", "100.0 %"]
    assert row(out, "all", "F1") == ["100.0 %", "100.0 %"]
    assert row(out, "platform_restriction", "delay median") == [
        "600 s (2.0 bins)",
        "1200 s (4.0 bins) ▼",
    ]
    assert row(out, "all", "false events / country-week") == ["0.000", "0.000"]
    assert "▲ better, ▼ worse than default" in out
    assert "pk-2023-12-17  1/1, 0 false  1/1, 0 false" in out
    assert "country-days 15.25" in out


def test_backtest_on_files_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records, truth = tmp_path / "records.jsonl", tmp_path / "truth.jsonl"
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "ke-small-asn-outage",
                "--out",
                str(records),
                "--truth",
                str(truth),
            ]
        )
        == 0
    )
    capsys.readouterr()
    a_yaml = write_config(tmp_path / "a.yaml")
    b_yaml = write_config(tmp_path / "b.yaml", open_after_bins=3)
    inputs = ["--input", str(records), "--truth", str(truth)]
    code = main(["backtest", *inputs, "--format", "json", "--config", a_yaml, "--config", b_yaml])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    a, b = doc["configs"]["a"], doc["configs"]["b"]
    assert a["country_days"] == 14.0  # from the scenario the truth names
    assert a["kinds"]["all"]["recall"] == 1.0 and a["kinds"]["all"]["precision"] == 1.0
    assert a["kinds"]["network_outage"]["delay_median_s"] == 600.0
    assert a["kinds"]["network_outage"]["end_error_median_s"] == 0.0
    assert b["kinds"]["network_outage"]["delay_median_s"] == 900.0
    assert b["kinds"]["network_outage"]["delay_median_bins"] == 3.0
    assert a["confusion"] == {"network_outage": {"network_outage": 1}}


def test_evaluate_scores_a_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records, truth, events = (tmp_path / n for n in ("r.jsonl", "t.jsonl", "e.jsonl"))
    scenario = ["--scenario", "ke-small-asn-outage"]
    main(["simulate", *scenario, "--out", str(records), "--truth", str(truth)])
    main(["replay", str(records), "--out", str(events)])
    capsys.readouterr()
    assert main(["evaluate", "--events", str(events), "--truth", str(truth)]) == 0
    out = capsys.readouterr().out
    assert row(out, "network_outage", "recall") == ["100.0 %"]
    assert row(out, "network_outage", "ASN scope (Jaccard)") == ["1.00"]
    assert (
        main(["evaluate", "--events", str(events), "--truth", str(truth), "--format", "json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["kinds"]["all"]["f1"] == 1.0 and doc["country_days"] == 14.0


def test_evaluate_names_the_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, truth = tmp_path / "e.jsonl", tmp_path / "t.jsonl"
    events.write_text('{"event_id": "x"}\n', encoding="utf-8")
    truth.write_text("", encoding="utf-8")
    assert main(["evaluate", "--events", str(events), "--truth", str(truth)]) == 2
    err = capsys.readouterr().err
    assert f"{events}:1: not an event.v1 record" in err


def test_backtest_rejects_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--scenario", "atlantis"]) == 2
    assert "unknown scenario 'atlantis'; known: all, tuning, validation" in capsys.readouterr().err


@pytest.fixture(scope="module")
def ke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The events of a replay of ke-small-asn-outage, and its truth rows."""
    tmp = tmp_path_factory.mktemp("ke")
    records, truth, events = (tmp / n for n in ("r.jsonl", "t.jsonl", "e.jsonl"))
    main(
        [
            "simulate",
            "--scenario",
            "ke-small-asn-outage",
            "--out",
            str(records),
            "--truth",
            str(truth),
        ]
    )
    main(["replay", str(records), "--out", str(events)])
    assert events.read_bytes()
    return events, [json.loads(line) for line in truth.read_text().splitlines()]


def evaluate_with(
    tmp_path: Path, events: Path, rows: list[dict[str, Any]], *extra: str
) -> tuple[int, str]:
    truth = tmp_path / "truth.jsonl"
    truth.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code = main(["evaluate", "--events", str(events), "--truth", str(truth), *extra])
    return code, str(truth)


def test_evaluate_is_quiet_when_the_truth_fits(
    ke_run: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, rows = ke_run
    capsys.readouterr()
    assert evaluate_with(tmp_path, events, rows, "--strict")[0] == 0
    assert capsys.readouterr().err == ""
    # A label far from every event but inside its scenario's data is no mismatch: the events
    # are then simply false ones.
    spec = scenario("ke-small-asn-outage")
    early = [{**r, "start": iso(spec.start + 3600), "end": iso(spec.start + 7200)} for r in rows]
    assert evaluate_with(tmp_path, events, early, "--strict")[0] == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("empty", "the truth file labels no incidents"),
        ("country", "the truth labels TR but the events are in KE: no country in common"),
        ("time", "no time in common"),
    ],
)
def test_evaluate_warns_when_the_truth_cannot_fit_the_events_and_strict_fails(
    change: str,
    says: str,
    ke_run: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events, rows = ke_run
    three_years = 3 * 365 * 86400
    changed = {
        "empty": [],
        "country": [{**r, "country": "TR"} for r in rows],
        "time": [
            {
                **r,
                "scenario": "field-data",
                "start": iso(parse_time(r["start"]) - three_years),
                "end": iso(parse_time(r["end"]) - three_years),
            }
            for r in rows
        ],
    }[change]
    capsys.readouterr()
    code, truth = evaluate_with(tmp_path, events, changed)
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out  # the scores are still printed
    assert captured.err.startswith(f"restrictwatch: warning: {truth} does not fit {events}: ")
    assert says in captured.err and captured.err.count("\n") == 1
    code, _ = evaluate_with(tmp_path, events, changed, "--strict")
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("restrictwatch: error: ") and says in captured.err
    assert captured.err.count("\n") == 1


def test_backtest_uses_every_core_unless_told() -> None:
    cores = os.cpu_count()
    assert cores == MAX_WORKERS
    assert build_parser().parse_args(["backtest"]).workers == cores
    assert inspect.signature(run_backtest).parameters["workers"].default == cores
    assert backtest_processes(scenarios=1000) == cores
    assert backtest_processes(scenarios=1) == 1  # one process holds one scenario at a time
    assert backtest_processes(workers=1, scenarios=1000) == 1
    assert backtest_processes(workers=1000, scenarios=1000) == cores
