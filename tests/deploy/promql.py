"""What the deploy tests share: where the files are, the metric names workers export, and the
PromQL each rule file and dashboard holds."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from restrictwatch.streams.api.metrics import ApiMetrics
from restrictwatch.streams.api.store import EventStore
from restrictwatch.streams.metrics import WorkerMetrics

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
GRAFANA_DIR = REPO / "deploy" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
REQUIRED_ALERTS = {
    "RestrictionActive",
    "SourceSilent",
    "DeadLettersRising",
    "EventTimeLagHigh",
    "ConsumerLagHigh",
    "WorkerDown",
    "ConfigReloadFailed",
}
# What Grafana substitutes for its built-in variables, for evaluating panels outside Grafana.
BUILTINS = {"__rate_interval": "30s", "__interval": "5s", "__range": "5m"}
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "le", "inf", "nan",
}  # fmt: skip


def tool(name: str) -> str:
    """Path of a Prometheus binary; the deploy tests fail (never skip) without it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not on PATH: run `bash deploy/prometheus/install.sh`", pytrace=False)
    return path


def rule_files() -> list[Path]:
    return sorted(p for p in RULES_DIR.glob("*.yml") if not p.stem.endswith("_test"))


def rules() -> Iterator[dict[str, Any]]:
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


def recorded_names() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def dashboard_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target, annotation and query variable."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"]
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            yield f"annotation {annotation['name']!r}", annotation["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield f"variable {variable['name']!r}", label_values_selector(variable)


def label_values_selector(variable: dict[str, Any]) -> str:
    """The series selector inside a `label_values(selector, label)` variable query."""
    query = variable["query"]
    text = query["query"] if isinstance(query, dict) else query
    m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", text.strip())
    assert m, f"variable {variable['name']}: want label_values(selector, label), got {text!r}"
    return m.group(1)


def variables_used(text: str) -> set[str]:
    return set(re.findall(r"\$\{?(\w+)", text))


def exported_names() -> set[str]:
    """Every sample name a worker's or the events API's registry exposes (counters with _total,
    histogram parts)."""
    registry = CollectorRegistry()
    WorkerMetrics(registry, ("t",))
    ApiMetrics(registry).watch_store(lambda: EventStore(":memory:"))
    names: set[str] = set()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "info": ("_info",),
    }
    for family in registry.collect():
        if family.type in suffixes:
            names.update(family.name + s for s in suffixes[family.type])
        else:
            names.add(family.name)
    return names


def referenced_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, label names and keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # drop string literals
    text = re.sub(r"\{[^}]*\}", "{}", text)  # and label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # and ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for m in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*(\(?)", text):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names
