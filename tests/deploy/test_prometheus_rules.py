"""The Prometheus config and rules pass promtool, and each rule file's promtool tests pass."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.promql import (
    PROMETHEUS_DIR,
    REQUIRED_ALERTS,
    RULES_DIR,
    exported_names,
    recorded_names,
    referenced_names,
    rule_files,
    rules,
    tool,
)


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("name", sorted(p.name for p in PROMETHEUS_DIR.glob("prometheus*.yml")))
def test_config_is_valid_and_loads_every_rule_file(name: str) -> None:
    result = promtool("check", "config", name)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS_DIR / name).read_text())
    loaded = {(PROMETHEUS_DIR / f).resolve() for f in config["rule_files"]}
    assert loaded == {p.resolve() for p in rule_files()}
    # The workers' job (the rules select it by name) and the events API's.
    assert [job["job_name"] for job in config["scrape_configs"]] == [
        "restrictwatch",
        "restrictwatch-api",
    ]


def test_rules_are_valid() -> None:
    result = promtool("check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_a_passing_promtool_test_beside_it() -> None:
    for path in rule_files():
        test_file = path.with_name(f"{path.stem}_test.yml")
        assert test_file.exists(), f"{path.name} has no {test_file.name}"
        listed = yaml.safe_load(test_file.read_text())["rule_files"]
        assert path.name in listed, f"{test_file.name} does not load {path.name}"
        result = promtool("test", "rules", test_file.name, cwd=RULES_DIR)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_promtool_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """Loosen one alert and one recording rule: their promtool tests must fail."""
    for name in RULES_DIR.iterdir():
        shutil.copy(name, tmp_path / name.name)
    alerts = tmp_path / "restrictwatch.alerts.yml"
    alerts.write_text(alerts.read_text().replace("ratio_rate5m > 0.01", "ratio_rate5m > 0.2"))
    result = promtool("test", "rules", "restrictwatch.alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "DeadLettersRising" in result.stdout + result.stderr

    recording = tmp_path / "restrictwatch.recording.yml"
    recording.write_text(recording.read_text().replace("max by (source)", "min by (source)"))
    result = promtool("test", "rules", "restrictwatch.recording_test.yml", cwd=tmp_path)
    assert result.returncode != 0


def test_alerts_are_the_required_ones_with_the_labels_operators_route_on() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) == REQUIRED_ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}", name
        # `<signal> <op> <threshold>`: the integration test graphs the signal alone
        assert re.search(r"\s(>|<|==)\s*[\d.]+\s*$", rule["expr"]), name
    by = re.search(r"by \(([^)]*)\)", alerts["RestrictionActive"]["expr"])
    assert by is not None
    assert {"country", "kind", "platforms"} <= {x.strip() for x in by.group(1).split(",")}


def test_rules_only_use_metrics_that_workers_export() -> None:
    known = exported_names() | recorded_names() | {"up"}
    for rule in rules():
        unknown = referenced_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('record') or rule.get('alert')}: {unknown}"


def test_metric_names_follow_prometheus_conventions() -> None:
    for name in exported_names():
        assert name.startswith("rw_"), name
        assert not re.search(r"_(ms|milliseconds|kb|mb|minutes|hours)(_|$)", name), name
    for name in recorded_names():
        assert len(name.split(":")) in (2, 3), f"{name}: want level:metric[:operations]"


def test_every_alert_has_a_runbook_section_that_says_what_to_check_and_do() -> None:
    runbook = (RULES_DIR.parents[2] / "docs" / "runbook.md").read_text(encoding="utf-8")
    sections = dict(
        (head.strip().lower(), body)
        for head, body in re.findall(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", runbook, re.M | re.S)
    )
    for rule in rules():
        if "alert" not in rule:
            continue
        body = sections.get(rule["alert"].lower())
        assert body is not None, f"no section for {rule['alert']} in docs/runbook.md"
        assert f"**Severity {rule['labels']['severity']}.**" in body, rule["alert"]
        assert "- Check:" in body and "- Do:" in body, rule["alert"]
