"""Grafana provisioning and dashboards hang together: one datasource uid, unique panel ids,
every variable that is used is defined, and every query names metrics that exist."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.promql import (
    BUILTINS,
    DASHBOARDS_DIR,
    GRAFANA_DIR,
    dashboard_queries,
    dashboards,
    exported_names,
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


def test_every_query_uses_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    uid = datasource_uid()
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, (panel["title"], target["refId"])
    for annotation in dashboard["annotations"]["list"]:
        if not annotation.get("builtIn"):
            assert annotation["datasource"]["uid"] == uid, annotation["name"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == uid, variable["name"]


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
    """The structure checks fail on a duplicate id, an unknown variable and a foreign datasource."""
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
        test_every_query_uses_the_provisioned_datasource(board)
