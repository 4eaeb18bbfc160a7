"""Grafana provisioning and dashboards hang together: the datasource is a variable (no pinned
uid), unique panel ids, every variable that is used is defined, panels link to runbook sections
that exist, every query names metrics that exist, and the files are what their generator writes
and read back as the SDK's dashboard model."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.deploy.promql import (
    BUILTINS,
    DASHBOARDS_DIR,
    GRAFANA_DIR,
    dashboard_queries,
    dashboards,
    exported_names,
    label_values_selector,
    panels,
    recorded_names,
    referenced_names,
    variables_used,
)

PANEL_TYPES = {"row", "timeseries", "stat", "table"}
# Grafana's own variables, usable anywhere without a definition.
GRAFANA_VARIABLES = set(BUILTINS) | {"__value", "__from", "__to", "__dashboard"}


def datasource_uid() -> str:
    provisioned = yaml.safe_load(
        (GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text()
    )
    (source,) = provisioned["datasources"]
    assert source["type"] == "prometheus"
    uid: str = source["uid"]
    return uid


DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def runbook_anchors() -> set[str]:
    """GitHub's anchors of docs/runbook.md's sections (the alert names, in lower case)."""
    return {
        re.sub(r"[^\w\- ]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }


@pytest.fixture(scope="module", params=sorted(dashboards()))
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    board: dict[str, Any] = dashboards()[request.param]
    return board


def test_three_dashboards_with_unique_uids_are_provisioned() -> None:
    boards = dashboards()
    assert set(boards) == {"overview.json", "country.json", "service-health.json"}
    assert len({d["uid"] for d in boards.values()}) == 3
    provider = yaml.safe_load(
        (GRAFANA_DIR / "provisioning/dashboards/restrictwatch.yml").read_text()
    )
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
    assert DASHBOARDS_DIR.is_dir()


def test_every_query_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    """No uid is pinned: the dashboards work on any Grafana with any Prometheus datasource."""
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])
    for annotation in dashboard["annotations"]["list"]:
        if not annotation.get("builtIn"):
            assert annotation["datasource"] == DATASOURCE, annotation["name"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]
    assert datasource_uid() not in json.dumps(dashboard)


def test_the_datasource_is_a_variable_and_an_import_input(dashboard: dict[str, Any]) -> None:
    """Provisioned, the variable takes the default Prometheus; imported, Grafana asks for one
    (the DS_PROMETHEUS input) and makes it the variable's value."""
    (source,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert (source["name"], source["query"]) == ("datasource", "prometheus")
    assert source["current"]["value"] == "${DS_PROMETHEUS}"
    (wanted,) = dashboard["__inputs"]
    assert wanted["name"] == "DS_PROMETHEUS"
    assert (wanted["type"], wanted["pluginId"]) == ("datasource", "prometheus")


def test_panels_link_to_their_runbook_section(dashboard: dict[str, Any]) -> None:
    anchors = runbook_anchors()
    (runbook,) = [v for v in dashboard["templating"]["list"] if v["name"] == "runbook"]
    assert runbook["type"] == "textbox" and runbook["query"] == "docs/runbook.md"
    assert {"type": "link", "url": "${runbook}"}.items() <= dashboard["links"][-1].items()
    linked = 0
    for panel in panels(dashboard):
        for link in panel.get("links", []):
            base, _, anchor = link["url"].partition("#")
            assert base == "${runbook}" and anchor in anchors, (panel["title"], link["url"])
            linked += 1
    assert linked >= 2


def test_service_health_shows_all_workers_or_the_chosen_ones() -> None:
    board = dashboards()["service-health.json"]
    (instance,) = [v for v in board["templating"]["list"] if v["name"] == "instance"]
    assert instance["multi"] and instance["includeAll"] and instance["allValue"] == ".+"
    assert label_values_selector(instance) == "rw_build_info"
    for where, expr in dashboard_queries(board):
        if where.startswith("variable"):
            continue
        assert 'instance=~"$instance"' in expr, where
        # recording rules sum the workers together: a worker cannot be chosen from them
        assert not referenced_names(expr) & recorded_names(), where


def test_panel_ids_are_unique_and_panels_are_laid_out(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), sorted(ids)
    for panel in panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        if panel["type"] != "row":
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


def test_every_variable_used_is_defined_and_every_defined_one_is_used(
    dashboard: dict[str, Any],
) -> None:
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    used: set[str] = set()
    texts = [expr for _, expr in dashboard_queries(dashboard)]
    texts += [p["title"] for p in panels(dashboard)] + [
        p.get("repeat", "") for p in panels(dashboard)
    ]
    # datasources and links refer to variables too
    texts += [json.dumps(p.get("datasource", "")) for p in panels(dashboard)]
    texts += [link["url"] for p in panels(dashboard) for link in p.get("links", [])]
    texts += [link.get("url", "") for link in dashboard["links"]]
    for text in texts:
        used |= variables_used(text)
    used |= {p["repeat"] for p in panels(dashboard) if p.get("repeat")}
    assert used - GRAFANA_VARIABLES <= defined, used - GRAFANA_VARIABLES - defined
    assert defined <= used, f"defined but unused: {defined - used}"


def test_queries_only_use_metrics_that_workers_export_or_rules_record(
    dashboard: dict[str, Any],
) -> None:
    known = exported_names() | recorded_names() | {"up", "ALERTS"}
    for where, expr in dashboard_queries(dashboard):
        names = referenced_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        assert names <= known, f"{where}: unknown {names - known}"


def test_the_panels_the_issue_asks_for_exist() -> None:
    boards = dashboards()

    def titles(name: str) -> set[str]:
        return {p["title"] for p in panels(boards[name])}

    assert {"Active restrictions", "Events over time", "Countries affected"} <= titles(
        "overview.json"
    )
    country = boards["country.json"]
    assert "country" in {v["name"] for v in country["templating"]["list"]}
    assert {
        "Traffic per platform: observed / expected",
        "Traffic per network: observed / expected",
        "Anomaly scores (standardized deviation)",
    } <= titles("country.json")
    assert any("rw_events_total" in a.get("expr", "") for a in country["annotations"]["list"])
    assert {
        "Throughput",
        "Processing latency per record",
        "Kafka consumer lag",
        "Event-time lag behind wall clock",
        "Dead letters by reason",
        "Source silence",
    } <= titles("service-health.json")


def test_the_checks_catch_a_broken_dashboard() -> None:
    """The structure checks fail on a duplicate id, an unknown variable, a pinned datasource
    and a link to no runbook section."""
    board = dashboards()["overview.json"]
    first, second = list(panels(board))[:2]
    second["id"] = first["id"]
    with pytest.raises(AssertionError):
        test_panel_ids_are_unique_and_panels_are_laid_out(board)
    board = dashboards()["overview.json"]
    next(p for p in panels(board) if p["type"] == "timeseries")["targets"][0]["expr"] += (
        " * on() group_left() vector($nope)"
    )
    with pytest.raises(AssertionError):
        test_every_variable_used_is_defined_and_every_defined_one_is_used(board)
    board = dashboards()["country.json"]
    next(p for p in panels(board) if p["type"] == "stat")["datasource"]["uid"] = "other"
    with pytest.raises(AssertionError):
        test_every_query_uses_the_datasource_variable(board)
    board = dashboards()["country.json"]
    next(p for p in panels(board) if p.get("links"))["links"][0]["url"] = "${runbook}#nowhere"
    with pytest.raises(AssertionError):
        test_panels_link_to_their_runbook_section(board)


def test_the_dashboards_read_back_as_grafanas_dashboard_model(dashboard: dict[str, Any]) -> None:
    """Each file decodes into grafana-foundation-sdk's dashboard model (the one its generator
    builds) with every panel, its place and queries, every variable and annotation query."""
    register_default_plugins()
    decoded = json.loads(JSONEncoder().encode(Dashboard.from_json(dashboard)))

    def shape(board: dict[str, Any]) -> Any:
        queries = [
            (
                p["id"],
                [(t["refId"], t["expr"], t.get("legendFormat")) for t in p.get("targets", [])],
            )
            for p in panels(board)
        ]
        return (
            [
                (p["id"], p["type"], p["title"], p["gridPos"], p.get("datasource"))
                for p in panels(board)
            ],
            queries,
            [(v["type"], v["name"], v.get("query")) for v in board["templating"]["list"]],
            [(a["name"], a.get("expr")) for a in board["annotations"]["list"]],
        )

    assert shape(decoded) == shape(dashboard)
    assert decoded["uid"] == dashboard["uid"] and decoded["schemaVersion"] == 39


def generator() -> ModuleType:
    """deploy/grafana/generate.py, the dashboards' source."""
    spec = importlib.util.spec_from_file_location("generate", GRAFANA_DIR / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_dashboards_are_what_their_generator_writes() -> None:
    generate = generator()
    assert set(generate.DASHBOARDS) == set(dashboards())
    for name, build in generate.DASHBOARDS.items():
        assert (DASHBOARDS_DIR / name).read_text() == generate.render(build), (
            f"{name} differs from its generator: run python deploy/grafana/generate.py"
        )
    assert generate.main(["--check"]) == 0


def test_the_generator_check_catches_a_hand_edited_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    generate = generator()
    copy = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS_DIR, copy)
    board = json.loads((copy / "overview.json").read_text())
    board["panels"][0]["title"] = "edited by hand"
    (copy / "overview.json").write_text(json.dumps(board, indent=2) + "\n")
    monkeypatch.setattr(generate, "DASHBOARDS_DIR", copy)
    assert generate.main(["--check"]) == 1
    assert "overview.json" in capsys.readouterr().err
    assert generate.main([]) == 0  # writes it back
    assert generate.main(["--check"]) == 0
    assert (copy / "overview.json").read_text() == (DASHBOARDS_DIR / "overview.json").read_text()
