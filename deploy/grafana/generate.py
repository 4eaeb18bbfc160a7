"""The Grafana dashboards as code: `python deploy/grafana/generate.py` writes
deploy/grafana/dashboards/*.json from the definitions below (`--check` only compares).

The JSON is committed, so Grafana's file provisioning and a plain import need nothing but the
files; tests/deploy/test_grafana.py fails when a file and this generator disagree. What every
panel shares is said once here: the datasource is the `datasource` variable (no pinned uid; an
import asks for a Prometheus through the DS_PROMETHEUS input), panels of one kind look alike,
and a panel that belongs to an alert links to its section of docs/runbook.md (the hidden
`runbook` variable says where that file is served). A small generator rather than
grafanalib or grafana-foundation-sdk: the dashboards use a handful of panel kinds, and plain
dicts keep the output exactly what Grafana's own JSON model documents.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

Json = dict[str, Any]

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
TAG = "restrictwatch"

LINE: Json = {
    "drawStyle": "line",
    "lineWidth": 1,
    "fillOpacity": 10,
    "showPoints": "never",
    "spanNulls": False,
}
TIMESERIES_OPTIONS: Json = {
    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
    "tooltip": {"mode": "multi", "sort": "desc"},
}
STAT_OPTIONS: Json = {
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "colorMode": "background",
    "graphMode": "area",
    "textMode": "value",
}
DASHED: Json = {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}


def steps(*pairs: tuple[str, float | None]) -> Json:
    """Absolute thresholds: (colour, from value), the first from None."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in pairs]}


def dashed(regexp: str) -> Json:
    """An override that draws the series matching `regexp` (e.g. the expected values) dashed."""
    return {"matcher": {"id": "byRegexp", "options": regexp}, "properties": [DASHED]}


def target(expr: str, legend: str = "__auto", **extra: Any) -> Json:
    """A PromQL query of a panel; its refId is given by the panel (A, B, ...)."""
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, **extra}


def _panel(
    kind: str,
    title: str,
    description: str | None,
    targets: list[Json],
    grid: tuple[int, int, int, int],
    field_defaults: Json,
    overrides: list[Json],
    options: Json,
    runbook: str | None,
    before_field_config: Json | None = None,
    after_options: Json | None = None,
) -> Json:
    panel: Json = {"type": kind, "title": title}
    if description is not None:
        panel["description"] = description
    panel["datasource"] = DATASOURCE
    panel["targets"] = [
        {**t, "refId": chr(ord("A") + i)} if "refId" not in t else t for i, t in enumerate(targets)
    ]
    panel.update(before_field_config or {})
    panel["fieldConfig"] = {"defaults": field_defaults, "overrides": overrides}
    panel["options"] = copy.deepcopy(options)
    panel.update(after_options or {})
    x, y, w, h = grid
    panel["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
    if runbook is not None:
        panel["links"] = [{"title": "Runbook", "url": "${runbook}#" + runbook, "targetBlank": True}]
    return panel


def stat(
    title: str,
    description: str,
    targets: list[Json],
    *,
    grid: tuple[int, int, int, int],
    unit: str = "short",
    thresholds: Json | None = None,
    named: bool = False,
    runbook: str | None = None,
) -> Json:
    """A single number (one per target, `named` by their legends), coloured by its thresholds
    (green below the first step)."""
    defaults: Json = {"unit": unit, "thresholds": thresholds or steps(("green", None))}
    options = {**STAT_OPTIONS, "textMode": "value_and_name"} if named else STAT_OPTIONS
    return _panel("stat", title, description, targets, grid, defaults, [], options, runbook)


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    *,
    grid: tuple[int, int, int, int],
    unit: str = "short",
    minimum: float | None = 0,
    custom: Json | None = None,
    thresholds: Json | None = None,
    overrides: list[Json] | None = None,
    repeat: str | None = None,
    runbook: str | None = None,
) -> Json:
    """Lines over time (`custom` changes the line style); `repeat` makes one panel per value of
    that variable, four to a row."""
    defaults: Json = {"unit": unit, "custom": {**LINE, **(custom or {})}}
    if minimum is not None:
        defaults["min"] = minimum
    if thresholds is not None:
        defaults["thresholds"] = thresholds
    after = {"repeat": repeat, "repeatDirection": "h", "maxPerRow": 4} if repeat else None
    return _panel(
        "timeseries",
        title,
        description,
        targets,
        grid,
        defaults,
        overrides or [],
        TIMESERIES_OPTIONS,
        runbook,
        after_options=after,
    )


def table(
    title: str,
    description: str | None,
    targets: list[Json],
    *,
    grid: tuple[int, int, int, int],
    transformations: list[Json],
    field_defaults: Json,
    overrides: list[Json],
    options: Json,
    runbook: str | None = None,
) -> Json:
    """A table of instant query results, shaped by Grafana's transformations."""
    return _panel(
        "table",
        title,
        description,
        targets,
        grid,
        field_defaults,
        overrides,
        options,
        runbook,
        before_field_config={"transformations": transformations},
    )


def row(title: str, y: int) -> Json:
    """A row header across the dashboard at height `y`."""
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
    }


def query_variable(name: str, label: str, query: str, **extra: Any) -> Json:
    """A variable whose values are `label_values(selector, label)` from Prometheus."""
    variable: Json = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": {
            "query": query,
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
            "qryType": 1,
        },
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
    }
    variable.update(extra)
    variable.update({"current": variable.pop("current", {}), "options": [], "hide": 0})
    return variable


DATASOURCE_VARIABLE: Json = {
    "type": "datasource",
    "name": "datasource",
    "label": "Prometheus",
    "query": "prometheus",
    "regex": "",
    # An import replaces this with the Prometheus chosen for DS_PROMETHEUS; provisioned, it
    # names no datasource, and Grafana takes the default Prometheus.
    "current": {"text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"},
    "options": [],
    "refresh": 1,
    "hide": 0,
    "includeAll": False,
    "multi": False,
}
RUNBOOK_VARIABLE: Json = {
    "type": "textbox",
    "name": "runbook",
    "label": "Runbook",
    "description": "Where docs/runbook.md is served: panel links go to its sections.",
    "query": "docs/runbook.md",
    "current": {"text": "docs/runbook.md", "value": "docs/runbook.md"},
    "options": [{"selected": True, "text": "docs/runbook.md", "value": "docs/runbook.md"}],
    "hide": 2,
}
INPUTS: list[Json] = [
    {
        "name": "DS_PROMETHEUS",
        "label": "Prometheus",
        "description": "The Prometheus that scrapes the restrictwatch workers",
        "type": "datasource",
        "pluginId": "prometheus",
        "pluginName": "Prometheus",
    }
]
BUILT_IN_ANNOTATION: Json = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


def annotation(name: str, expr: str, colour: str, title: str, text: str, tag_keys: str) -> Json:
    """Marks on every time series from a PromQL query: one per series and step it is non-empty."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": colour,
        "expr": expr,
        "step": "60s",
        "titleFormat": title,
        "textFormat": text,
        "tagKeys": tag_keys,
        "useValueForTime": False,
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Json],
    *,
    since: str = "now-24h",
    variables: list[Json] = (),  # type: ignore[assignment]
    annotations: list[Json] = (),  # type: ignore[assignment]
) -> Json:
    """A dashboard of `panels` (ids given in order), with the datasource variable first and the
    runbook's address last, and links to the other restrictwatch dashboards and the runbook."""
    for number, panel in enumerate(panels, start=1):
        grid = panel.pop("gridPos")
        links = panel.pop("links", None)
        panel.update({"id": number, "gridPos": grid})
        if links is not None:
            panel["links"] = links
    return {
        "__inputs": INPUTS,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "editable": True,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "timezone": "utc",
        "refresh": "30s",
        "time": {"from": since, "to": "now"},
        "graphTooltip": 1,
        "links": [
            {"type": "dashboards", "tags": [TAG], "title": "restrictwatch", "asDropdown": True},
            {
                "type": "link",
                "title": "Runbook",
                "url": "${runbook}",
                "icon": "doc",
                "targetBlank": True,
            },
        ],
        "templating": {"list": [DATASOURCE_VARIABLE, *variables, RUNBOOK_VARIABLE]},
        "annotations": {"list": [BUILT_IN_ANNOTATION, *annotations]},
        "panels": panels,
    }


def overview() -> Json:
    """Restrictions detected now and over time, all countries."""
    return dashboard(
        "rw-overview",
        "restrictwatch / Overview",
        "Restrictions detected now and over time, all countries.",
        [
            stat(
                "Countries affected",
                "Countries with at least one open incident.",
                [target("count(count by (country) (rw_active_restriction_info)) or vector(0)")],
                grid=(0, 0, 6, 6),
                thresholds=steps(("green", None), ("orange", 1)),
                runbook="restrictionactive",
            ),
            stat(
                "Open restrictions",
                "Open incidents of every kind.",
                [target("sum(country_kind:rw_active_restrictions:max) or vector(0)")],
                grid=(6, 0, 6, 6),
                thresholds=steps(("green", None), ("red", 1)),
                runbook="restrictionactive",
            ),
            stat(
                "Events emitted (24 h)",
                "Event messages (open, update, resolved) over the last day.",
                [target("sum(increase(rw_events_total[24h])) or vector(0)")],
                grid=(12, 0, 6, 6),
            ),
            stat(
                "Countries watched",
                "Countries with at least one series tracked by a worker.",
                [target("count(count by (country) (rw_series_tracked)) or vector(0)")],
                grid=(18, 0, 6, 6),
            ),
            table(
                "Active restrictions",
                "One row per open incident scope. Platforms and networks empty: all of them.",
                [
                    target(
                        "max by (country, kind, platforms, asns) (rw_active_restriction_started_timestamp_seconds) * 1000",
                        instant=True,
                        range=False,
                        format="table",
                    ),
                    target(
                        "max by (country, kind, platforms, asns) (rw_active_restriction_severity_ratio)",
                        instant=True,
                        range=False,
                        format="table",
                    ),
                ],
                grid=(0, 6, 24, 9),
                transformations=[
                    {"id": "merge", "options": {}},
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True},
                            "indexByName": {
                                "country": 0,
                                "kind": 1,
                                "platforms": 2,
                                "asns": 3,
                                "Value #A": 4,
                                "Value #B": 5,
                            },
                            "renameByName": {
                                "country": "Country",
                                "kind": "Kind",
                                "platforms": "Platforms",
                                "asns": "Networks (ASN)",
                                "Value #A": "Started",
                                "Value #B": "Severity",
                            },
                        },
                    },
                    {"id": "sortBy", "options": {"sort": [{"field": "Started", "desc": True}]}},
                ],
                field_defaults={"custom": {"align": "auto"}},
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "Started"},
                        "properties": [{"id": "unit", "value": "dateTimeAsIso"}],
                    },
                    {
                        "matcher": {"id": "byName", "options": "Severity"},
                        "properties": [
                            {"id": "unit", "value": "percentunit"},
                            {
                                "id": "custom.cellOptions",
                                "value": {"type": "gauge", "mode": "basic"},
                            },
                            {"id": "min", "value": 0},
                            {"id": "max", "value": 1},
                        ],
                    },
                    {
                        "matcher": {"id": "byName", "options": "Country"},
                        "properties": [
                            {
                                "id": "links",
                                "value": [
                                    {
                                        "title": "Country dashboard",
                                        "url": "/d/rw-country/restrictwatch-country?var-country=${__value.raw}",
                                    }
                                ],
                            }
                        ],
                    },
                ],
                options={"showHeader": True, "cellHeight": "sm"},
                runbook="restrictionactive",
            ),
            timeseries(
                "Events over time",
                "Event messages emitted per interval, by kind and lifecycle status.",
                [
                    target(
                        "sum by (kind, status) (increase(rw_events_total[$__rate_interval]))",
                        "{{kind}} {{status}}",
                    )
                ],
                grid=(0, 15, 12, 8),
                custom={
                    "drawStyle": "bars",
                    "fillOpacity": 60,
                    "stacking": {"mode": "normal", "group": "A"},
                },
            ),
            timeseries(
                "Countries affected",
                "Countries with an open incident over time.",
                [
                    target(
                        "count(count by (country) (rw_active_restriction_info)) or vector(0)",
                        "countries",
                    )
                ],
                grid=(12, 15, 12, 8),
                runbook="restrictionactive",
            ),
            timeseries(
                "Open restrictions by kind",
                "Open incidents by kind, all countries.",
                [target("sum by (kind) (country_kind:rw_active_restrictions:max)", "{{kind}}")],
                grid=(0, 23, 12, 8),
                custom={"stacking": {"mode": "normal", "group": "A"}},
            ),
            timeseries(
                "Open restrictions by country",
                "Countries with open incidents.",
                [
                    target(
                        "sum by (country) (country_kind:rw_active_restrictions:max) > 0",
                        "{{country}}",
                    )
                ],
                grid=(12, 23, 12, 8),
                custom={"stacking": {"mode": "normal", "group": "A"}},
            ),
            table(
                "Current incidents (events API)",
                "Incidents whose latest message in the events API is not resolved, per country and kind (rw_api_incidents_open). Details: GET /v1/incidents/current.",
                [
                    target(
                        "sum by (country, kind) (rw_api_incidents_open) > 0",
                        instant=True,
                        range=False,
                        format="table",
                    )
                ],
                grid=(0, 31, 24, 8),
                transformations=[
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True},
                            "indexByName": {"country": 0, "kind": 1, "Value": 2},
                            "renameByName": {
                                "country": "Country",
                                "kind": "Kind",
                                "Value": "Open incidents",
                            },
                        },
                    },
                    {"id": "sortBy", "options": {"sort": [{"field": "Country", "desc": False}]}},
                ],
                field_defaults={"custom": {"align": "auto"}},
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "Country"},
                        "properties": [
                            {
                                "id": "links",
                                "value": [
                                    {
                                        "title": "Country dashboard",
                                        "url": "/d/rw-country/restrictwatch-country?var-country=${__value.raw}",
                                    }
                                ],
                            }
                        ],
                    }
                ],
                options={"showHeader": True, "cellHeight": "sm"},
            ),
        ],
        annotations=[
            annotation(
                "Restriction alerts",
                'ALERTS{alertname="RestrictionActive", alertstate="firing"}',
                "red",
                "{{kind}} in {{country}}",
                "platforms: {{platforms}}",
                "country,kind",
            )
        ],
    )


def country() -> Json:
    """One country: observed vs expected per platform and network, anomaly scores, and its events."""
    return dashboard(
        "rw-country",
        "restrictwatch / Country",
        "One country: observed vs expected per platform and network, anomaly scores, and its events.",
        [
            stat(
                "Open restrictions",
                "",
                [
                    target(
                        'sum(country_kind:rw_active_restrictions:max{country="$country"}) or vector(0)'
                    )
                ],
                grid=(0, 0, 6, 5),
                thresholds=steps(("green", None), ("red", 1)),
                runbook="restrictionactive",
            ),
            stat(
                "Anomalous series",
                "Series whose latest bin is at least min_sigmas below expected.",
                [target('sum(rw_anomalous_series{country="$country"}) or vector(0)')],
                grid=(6, 0, 6, 5),
                thresholds=steps(("green", None), ("orange", 1)),
            ),
            stat(
                "Series tracked",
                "",
                [target('sum(rw_series_tracked{country="$country"})')],
                grid=(12, 0, 6, 5),
            ),
            stat(
                "Watermark delay",
                "Newest event time minus the event time up to which bins were evaluated.",
                [target('max(rw_watermark_delay_seconds{country="$country"})')],
                grid=(18, 0, 6, 5),
                unit="s",
                runbook="eventtimelaghigh",
            ),
            timeseries(
                "Traffic, country total: observed vs expected",
                "Mean traffic per record in each closed bin, and what the seasonal baseline expected.",
                [
                    target(
                        'max by (source) (rw_series_observed{country="$country", region="", signal="traffic", asn="", platform=""})',
                        "observed ({{source}})",
                    ),
                    target(
                        'max by (source) (rw_series_expected{country="$country", region="", signal="traffic", asn="", platform=""})',
                        "expected ({{source}})",
                    ),
                ],
                grid=(0, 5, 24, 8),
                overrides=[dashed("expected.*")],
            ),
            row("Platforms", 13),
            timeseries(
                "Traffic per platform: observed / expected",
                "1 is normal; a blocked platform falls towards 0. Needs `traffic:$country:-:*` in RW_METRICS_WATCH.",
                [
                    target(
                        'country_region_signal_source_asn_platform:rw_series_observed_over_expected:ratio{country="$country", region="", signal="traffic", asn="", platform!=""}',
                        "{{platform}}",
                    )
                ],
                grid=(0, 14, 12, 8),
                unit="percentunit",
                custom={"thresholdsStyle": {"mode": "line"}},
                thresholds=steps(("green", None), ("red", 0.45)),
            ),
            timeseries(
                "Probe success per platform: observed vs expected",
                "Share of probes that succeeded, averaged over networks. Needs `reachability:$country:*:*` in RW_METRICS_WATCH.",
                [
                    target(
                        'avg by (platform) (rw_series_observed{country="$country", region="", signal="reachability"})',
                        "{{platform}} observed",
                    ),
                    target(
                        'avg by (platform) (rw_series_expected{country="$country", region="", signal="reachability"})',
                        "{{platform}} expected",
                    ),
                ],
                grid=(12, 14, 12, 8),
                unit="percentunit",
                overrides=[dashed(".* expected")],
            ),
            timeseries(
                "$platform: observed vs expected",
                "Traffic to one platform; one panel per platform on the watch-list.",
                [
                    target(
                        'max by (signal) (rw_series_observed{country="$country", region="", signal="traffic", asn="", platform=~"$platform"})',
                        "observed",
                    ),
                    target(
                        'max by (signal) (rw_series_expected{country="$country", region="", signal="traffic", asn="", platform=~"$platform"})',
                        "expected",
                    ),
                ],
                grid=(0, 22, 6, 7),
                repeat="platform",
            ),
            row("Networks", 29),
            timeseries(
                "Traffic per network: observed / expected",
                "1 is normal; a network that goes dark falls towards 0. Needs `traffic:$country:*:-` in RW_METRICS_WATCH.",
                [
                    target(
                        'country_region_signal_source_asn_platform:rw_series_observed_over_expected:ratio{country="$country", region="", signal="traffic", asn!="", platform=""}',
                        "AS{{asn}}",
                    )
                ],
                grid=(0, 30, 12, 8),
                unit="percentunit",
            ),
            timeseries(
                "Probe success per network",
                "",
                [
                    target(
                        'avg by (asn) (rw_series_observed{country="$country", region="", signal="reachability"})',
                        "AS{{asn}} observed",
                    ),
                    target(
                        'avg by (asn) (rw_series_expected{country="$country", region="", signal="reachability"})',
                        "AS{{asn}} expected",
                    ),
                ],
                grid=(12, 30, 12, 8),
                unit="percentunit",
                overrides=[dashed(".* expected")],
            ),
            timeseries(
                "AS$asn: observed vs expected",
                "Traffic of one network; one panel per network on the watch-list.",
                [
                    target(
                        'max by (signal) (rw_series_observed{country="$country", region="", signal="traffic", asn=~"$asn", platform=""})',
                        "observed",
                    ),
                    target(
                        'max by (signal) (rw_series_expected{country="$country", region="", signal="traffic", asn=~"$asn", platform=""})',
                        "expected",
                    ),
                ],
                grid=(0, 38, 6, 7),
                repeat="asn",
            ),
            row("Anomaly scores", 45),
            timeseries(
                "Anomaly scores (standardized deviation)",
                "Negative: below expected. The dashed line is the default min_sigmas (-3).",
                [
                    target(
                        'rw_series_score{country="$country"}',
                        "{{signal}} {{region}} AS{{asn}} {{platform}}",
                    )
                ],
                grid=(0, 46, 12, 8),
                minimum=None,
                custom={"thresholdsStyle": {"mode": "line"}},
                thresholds=steps(("red", None), ("transparent", -3)),
            ),
            timeseries(
                "Anomalous series by signal",
                "",
                [target('sum by (signal) (rw_anomalous_series{country="$country"})', "{{signal}}")],
                grid=(12, 46, 12, 8),
                custom={"stacking": {"mode": "normal", "group": "A"}},
            ),
            row("Regions", 54),
            timeseries(
                "Traffic per region: observed / expected",
                "1 is normal; a region that goes dark falls towards 0 while the country total moves a few percent. Needs `traffic:$country-*:-:-` in RW_METRICS_WATCH.",
                [
                    target(
                        'country_region_signal_source_asn_platform:rw_series_observed_over_expected:ratio{country="$country", region!="", signal="traffic", asn="", platform=""}',
                        "{{region}}",
                    )
                ],
                grid=(0, 55, 24, 8),
                unit="percentunit",
                custom={"thresholdsStyle": {"mode": "line"}},
                thresholds=steps(("green", None), ("red", 0.4)),
            ),
        ],
        variables=[
            query_variable("country", "Country", "label_values(rw_series_tracked, country)"),
            query_variable(
                "platform",
                "Platform",
                'label_values(rw_series_observed{country="$country", region="", signal="traffic", asn="", platform!=""}, platform)',
                multi=True,
                includeAll=True,
            ),
            query_variable(
                "asn",
                "Network (ASN)",
                'label_values(rw_series_observed{country="$country", region="", signal="traffic", asn!="", platform=""}, asn)',
                multi=True,
                includeAll=True,
            ),
        ],
        annotations=[
            annotation(
                "Events",
                'sum by (kind, status) (increase(rw_events_total{country="$country"}[2m])) > 0',
                "orange",
                "{{kind}} {{status}}",
                "event messages emitted",
                "kind,status",
            ),
            annotation(
                "Restriction alerts",
                'ALERTS{alertname="RestrictionActive", alertstate="firing", country="$country"}',
                "red",
                "{{kind}} firing",
                "platforms: {{platforms}} networks: {{asns}}",
                "kind",
            ),
        ],
    )


def service_health() -> Json:
    """Is restrictwatch keeping up: throughput, latency, lag, dead letters, silent sources; per worker with the Worker variable."""
    return dashboard(
        "rw-service-health",
        "restrictwatch / Service health",
        "Is restrictwatch keeping up: throughput, latency, lag, dead letters, silent sources; per worker with the Worker variable.",
        [
            stat(
                "Workers up / ready",
                "Workers Prometheus scrapes, and those holding their partitions with their state"
                " restored (rw_worker_ready); fewer ready than up during a rebalance.",
                [
                    target('sum(up{job="restrictwatch", instance=~"$instance"})', "up"),
                    target('sum(rw_worker_ready{instance=~"$instance"}) or vector(0)', "ready"),
                ],
                named=True,
                grid=(0, 0, 6, 5),
                thresholds=steps(("red", None), ("green", 1)),
                runbook="workerdown",
            ),
            stat(
                "Records / s",
                "",
                [
                    target(
                        'sum(rate(rw_records_consumed_total{instance=~"$instance"}[$__rate_interval]))'
                    )
                ],
                grid=(6, 0, 6, 5),
                unit="reqps",
            ),
            stat(
                "Silent sources",
                "Sources whose newest event time has not advanced for 15 minutes (SourceSilent fires after 5 more).",
                [
                    target(
                        'count((time() - max by (source) (rw_source_last_record_timestamp_seconds{instance=~"$instance"})) > 900) or vector(0)'
                    )
                ],
                grid=(12, 0, 6, 5),
                thresholds=steps(("green", None), ("red", 1)),
                runbook="sourcesilent",
            ),
            stat(
                "Dead-letter share",
                "",
                [
                    target(
                        'max(sum by (topic) (rate(rw_records_dead_lettered_total{instance=~"$instance"}[5m])) / clamp_min(sum by (topic) (rate(rw_records_consumed_total{instance=~"$instance"}[5m])), 1e-9))'
                    )
                ],
                grid=(18, 0, 6, 5),
                unit="percentunit",
                thresholds=steps(("green", None), ("orange", 0.001), ("red", 0.01)),
                runbook="deadlettersrising",
            ),
            row("Throughput and latency", 5),
            timeseries(
                "Throughput",
                "Records per second read from each input topic, and those that decoded into a sample.",
                [
                    target(
                        'sum by (topic) (rate(rw_records_consumed_total{instance=~"$instance"}[$__rate_interval]))',
                        "consumed {{topic}}",
                    ),
                    target(
                        'sum by (topic) (rate(rw_records_decoded_total{instance=~"$instance"}[$__rate_interval]))',
                        "decoded {{topic}}",
                    ),
                ],
                grid=(0, 6, 12, 8),
                unit="reqps",
            ),
            timeseries(
                "Processing latency per record",
                "",
                [
                    target(
                        'histogram_quantile(0.5, sum by (le) (rate(rw_record_processing_seconds_bucket{instance=~"$instance"}[5m])))',
                        "p50",
                    ),
                    target(
                        'histogram_quantile(0.99, sum by (le) (rate(rw_record_processing_seconds_bucket{instance=~"$instance"}[5m])))',
                        "p99",
                    ),
                    target(
                        'histogram_quantile(0.99, sum by (topic, le) (rate(rw_record_processing_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
                        "p99 {{topic}}",
                    ),
                ],
                grid=(12, 6, 12, 8),
                unit="s",
            ),
            row("Lag", 14),
            timeseries(
                "Event-time lag behind wall clock",
                "Wall clock minus the newest event time of each source (EventTimeLagHigh above 30 min).",
                [
                    target(
                        'max by (source) (rw_event_time_lag_seconds{instance=~"$instance"})',
                        "{{source}}",
                    )
                ],
                grid=(0, 15, 8, 8),
                unit="s",
                custom={"thresholdsStyle": {"mode": "line"}},
                thresholds=steps(("green", None), ("red", 1800)),
                runbook="eventtimelaghigh",
            ),
            timeseries(
                "Watermark delay",
                "Newest event time minus the event time up to which bins were evaluated: lateness allowance plus waiting for slow sources.",
                [
                    target(
                        'max by (country) (rw_watermark_delay_seconds{instance=~"$instance"})',
                        "{{country}}",
                    )
                ],
                grid=(8, 15, 8, 8),
                unit="s",
            ),
            timeseries(
                "Kafka consumer lag",
                "Records beyond the committed offset (ConsumerLagHigh above 50000).",
                [
                    target(
                        'sum by (topic) (rw_kafka_consumer_lag_records{instance=~"$instance"})',
                        "{{topic}}",
                    )
                ],
                grid=(16, 15, 8, 8),
                custom={"thresholdsStyle": {"mode": "line"}},
                thresholds=steps(("green", None), ("red", 50000)),
                runbook="consumerlaghigh",
            ),
            row("Dead letters and sources", 23),
            timeseries(
                "Dead letters by reason",
                "",
                [
                    target(
                        'sum by (topic, reason) (rate(rw_records_dead_lettered_total{instance=~"$instance"}[5m])) > 0',
                        "{{topic}} {{reason}}",
                    )
                ],
                grid=(0, 24, 12, 8),
                unit="reqps",
                custom={"stacking": {"mode": "normal", "group": "A"}},
                runbook="deadlettersrising",
            ),
            timeseries(
                "Source silence",
                "Seconds since each source's newest event time last advanced (SourceSilent above 15 min).",
                [
                    target(
                        'time() - max by (source) (rw_source_last_record_timestamp_seconds{instance=~"$instance"})',
                        "{{source}}",
                    )
                ],
                grid=(12, 24, 12, 8),
                unit="s",
                custom={"thresholdsStyle": {"mode": "line"}},
                thresholds=steps(("green", None), ("red", 900)),
                runbook="sourcesilent",
            ),
            row("Detector state", 32),
            timeseries(
                "Series tracked",
                "",
                [
                    target(
                        'sum by (country) (rw_series_tracked{instance=~"$instance"})', "{{country}}"
                    )
                ],
                grid=(0, 33, 8, 8),
                custom={"stacking": {"mode": "normal", "group": "A"}},
            ),
            timeseries(
                "Detector state size",
                "",
                [
                    target(
                        'sum by (country) (rw_detector_state_bytes{instance=~"$instance"})',
                        "{{country}}",
                    )
                ],
                grid=(8, 33, 8, 8),
                unit="bytes",
                custom={"stacking": {"mode": "normal", "group": "A"}},
            ),
            timeseries(
                "Bins closed",
                "",
                [
                    target(
                        'sum by (instance) (rate(rw_bins_closed_total{instance=~"$instance"}[$__rate_interval]))',
                        "{{instance}}",
                    )
                ],
                grid=(16, 33, 8, 8),
                unit="ops",
            ),
            timeseries(
                "Checkpoints",
                "Bytes of country state written to the state table.",
                [
                    target(
                        'sum by (instance) (rate(rw_state_checkpoint_bytes_total{instance=~"$instance"}[$__rate_interval]))',
                        "{{instance}}",
                    )
                ],
                grid=(0, 41, 12, 8),
                unit="Bps",
            ),
            table(
                "Build",
                None,
                [
                    target(
                        'max by (instance, version, config_version) (rw_build_info{instance=~"$instance"})',
                        instant=True,
                        range=False,
                        format="table",
                    )
                ],
                grid=(12, 41, 12, 8),
                transformations=[
                    {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}}}
                ],
                field_defaults={},
                overrides=[],
                options={"showHeader": True},
                runbook="configreloadfailed",
            ),
        ],
        since="now-6h",
        variables=[
            query_variable(
                "instance",
                "Worker",
                "label_values(rw_build_info, instance)",
                multi=True,
                includeAll=True,
                allValue=".+",
                current={"text": ["All"], "value": ["$__all"]},
            )
        ],
    )


DASHBOARDS = {
    "overview.json": overview,
    "country.json": country,
    "service-health.json": service_health,
}


def render(build: Any) -> str:
    """A dashboard's file: its JSON, two-space indented, as Grafana exports it."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write (or --check) deploy/grafana/dashboards")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = DASHBOARDS_DIR / name
        text = render(build)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(
            f"out of date: {', '.join(stale)} (run python deploy/grafana/generate.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
