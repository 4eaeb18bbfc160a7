"""The Grafana dashboards as code, with Grafana's grafana-foundation-sdk (its builders for
Grafana 11.1, the version deploy/compose.yaml runs): `python deploy/grafana/generate.py` writes
deploy/grafana/dashboards/*.json from the definitions below (`--check` only compares).

The JSON is committed, so Grafana's file provisioning and a plain import need nothing but the
files (the SDK is needed only to generate them, and by the tests); tests/deploy/test_grafana.py
fails when a file and this generator disagree. What every panel shares is said once here: the
datasource is the `datasource` variable (no pinned uid; an import asks for a Prometheus through
the DS_PROMETHEUS input), panels of one kind look alike, and a panel that belongs to an alert
links to its section of docs/runbook.md (the hidden `runbook` variable says where that file is
served).

Three things Grafana's JSON has that the SDK's models do not, added here by extending them
as the SDK documents for its own types: a Prometheus annotation's fields (step, title and text
formats, tag keys), a query variable's `definition` (the label_values text Grafana's editor
shows), and the `__inputs` of a dashboard exported for import (outside the dashboard model).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

Json = dict[str, Any]
Grid = tuple[int, int, int, int]  # x, y, width, height

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAG = "restrictwatch"
RUNBOOK = "docs/runbook.md"
# An import replaces this with the Prometheus chosen for the DS_PROMETHEUS input; provisioned,
# it names no datasource, and Grafana takes the default Prometheus.
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


# --- what the SDK's models lack ---------------------------------------------------------------


class _PrometheusAnnotationModel(dm.AnnotationQuery):
    """Grafana's annotation with the fields its Prometheus datasource reads."""

    step: str | None = None
    title_format: str | None = None
    text_format: str | None = None
    tag_keys: str | None = None
    use_value_for_time: bool | None = None

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        extra = {
            "step": self.step,
            "titleFormat": self.title_format,
            "textFormat": self.text_format,
            "tagKeys": self.tag_keys,
            "useValueForTime": self.use_value_for_time,
        }
        payload.update({k: v for k, v in extra.items() if v is not None})
        return payload


class PrometheusAnnotation(db.AnnotationQuery):
    """Marks on every time series from a PromQL query: one per series and step it is non-empty;
    each mark's title, text and tags come from the series' labels."""

    _internal: _PrometheusAnnotationModel

    def __init__(self, name: str) -> None:
        super().__init__()
        self._internal = _PrometheusAnnotationModel()
        self.name(name).datasource(DATASOURCE).enable(True)

    def step(self, step: str) -> Self:
        self._internal.step = step
        return self

    def title_format(self, title_format: str) -> Self:
        self._internal.title_format = title_format
        return self

    def text_format(self, text_format: str) -> Self:
        self._internal.text_format = text_format
        return self

    def tag_keys(self, *labels: str) -> Self:
        self._internal.tag_keys = ",".join(labels)
        return self

    def use_value_for_time(self, use_value_for_time: bool) -> Self:
        self._internal.use_value_for_time = use_value_for_time
        return self


class _PrometheusVariableModel(dm.VariableModel):
    definition: str | None = None

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        if self.definition is not None:
            payload["definition"] = self.definition
        return payload


class PrometheusVariable(db.QueryVariable):
    """A query variable whose values are `label_values(selector, label)` from Prometheus."""

    _internal: _PrometheusVariableModel

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._internal = _PrometheusVariableModel(type_val=dm.VariableType.QUERY, name=name)

    def label_values(self, selector: str, label: str) -> Self:
        text = f"label_values({selector}, {label})"
        self._internal.definition = text
        return self.query(
            {
                "query": text,
                "refId": "PrometheusVariableQueryEditor-VariableQuery",
                "qryType": 1,
            }
        )


# --- what every panel shares ------------------------------------------------------------------


def steps(*pairs: tuple[str, float | None]) -> db.ThresholdsConfig:
    """Absolute thresholds: (colour, from value), the first from None."""
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(color=c, value=v) for c, v in pairs])
    )


def target(expr: str, legend: str = "__auto", *, table: bool = False) -> prometheus.Dataquery:
    """A PromQL query of a panel (`table`: one instant result per series, for a table); its
    refId is given by the panel (A, B, ...)."""
    query = prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)
    if table:
        query = query.instant().format(PromQueryFormat.TABLE)
    return query


PanelBuilder = stat_panel.Panel | timeseries_panel.Panel | table_panel.Panel


def _common(
    panel: PanelBuilder,
    title: str,
    description: str | None,
    targets: list[prometheus.Dataquery],
    grid: Grid,
    runbook: str | None,
) -> None:
    """Title, queries, datasource, place and runbook link, alike for every kind of panel."""
    panel.title(title).datasource(DATASOURCE)
    if description is not None:
        panel.description(description)
    for number, query in enumerate(targets):
        panel.with_target(query.ref_id(chr(ord("A") + number)))
    x, y, w, h = grid
    panel.grid_pos(dm.GridPos(x=x, y=y, w=w, h=h))
    if runbook is not None:
        panel.links([db.DashboardLink("Runbook").url("${runbook}#" + runbook).target_blank(True)])


def stat(
    title: str,
    description: str,
    targets: list[prometheus.Dataquery],
    *,
    grid: Grid,
    unit: str = "short",
    thresholds: db.ThresholdsConfig | None = None,
    named: bool = False,
    runbook: str | None = None,
) -> stat_panel.Panel:
    """A single number (one per target, `named` by their legends), coloured by its thresholds
    (green below the first step)."""
    panel = (
        stat_panel.Panel()
        .unit(unit)
        .thresholds(thresholds or steps(("green", None)))
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME if named else cm.BigValueTextMode.VALUE)
    )
    _common(panel, title, description, targets, grid, runbook)
    return panel


def timeseries(
    title: str,
    description: str,
    targets: list[prometheus.Dataquery],
    *,
    grid: Grid,
    unit: str = "short",
    minimum: float | None = 0,
    thresholds: db.ThresholdsConfig | None = None,
    threshold_line: bool = False,
    stacked: bool = False,
    bars: bool = False,
    dashed: str | None = None,
    repeat: str | None = None,
    runbook: str | None = None,
) -> timeseries_panel.Panel:
    """Lines over time: thin, lightly filled, no points (`bars`: stacked bars instead);
    `threshold_line` draws the thresholds as lines, `stacked` stacks the series, `dashed` draws
    the series matching that regexp (e.g. the expected values) dashed, and `repeat` makes one
    panel per value of that variable, four to a row."""
    panel = (
        timeseries_panel.Panel()
        .unit(unit)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING)
        )
        .draw_style(cm.GraphDrawStyle.BARS if bars else cm.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(60 if bars else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .span_nulls(False)
    )
    if minimum is not None:
        panel.min(minimum)
    if thresholds is not None:
        panel.thresholds(thresholds)
    if threshold_line:
        panel.thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE)
        )
    if stacked or bars:
        panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL).group("A"))
    if dashed is not None:
        style = cm.LineStyle(fill="dash", dash=[10, 10])
        panel.override_by_regexp(dashed, [dm.DynamicConfigValue("custom.lineStyle", style)])
    if repeat is not None:
        panel.repeat(repeat).repeat_direction("h").max_per_row(4)
    _common(panel, title, description, targets, grid, runbook)
    return panel


def table(
    title: str,
    description: str | None,
    targets: list[prometheus.Dataquery],
    *,
    grid: Grid,
    transformations: list[dm.DataTransformerConfig],
    runbook: str | None = None,
) -> table_panel.Panel:
    """A table of instant query results, shaped by Grafana's transformations; its header shown
    (columns, cell heights and overrides are the caller's)."""
    panel = table_panel.Panel().transformations(transformations).show_header(True)
    _common(panel, title, description, targets, grid, runbook)
    return panel


def transform(kind: str, **options: Any) -> dm.DataTransformerConfig:
    """One of Grafana's transformations (merge, organize, sortBy, ...) with its options."""
    return dm.DataTransformerConfig(id_val=kind, options=options)


def links_to_country() -> list[dm.DynamicConfigValue]:
    """A field override's properties: each value links to its country's dashboard."""
    url = "/d/rw-country/restrictwatch-country?var-country=${__value.raw}"
    return [dm.DynamicConfigValue("links", [{"title": "Country dashboard", "url": url}])]


def row(title: str, y: int) -> db.Row:
    """A row header across the dashboard at height `y`."""
    return db.Row(title).grid_pos(dm.GridPos(x=0, y=y, w=24, h=1))


def query_variable(
    name: str,
    label: str,
    selector: str,
    values_of: str,
    *,
    several: bool = False,
    all_value: str | None = None,
    all_by_default: bool = False,
) -> PrometheusVariable:
    """A variable whose values are `label_values(selector, values_of)`, refreshed with the time
    range and sorted; `several`: any number of them or All (`all_value` the regexp All stands
    for)."""
    variable = (
        PrometheusVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .label_values(selector, values_of)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(several)
        .include_all(several)
        .options([])
        .hide(dm.VariableHide.DONT_HIDE)
    )
    if all_value is not None:
        variable.all_value(all_value)
    if all_by_default:
        variable.current(dm.VariableOption(text=["All"], value=["$__all"]))
    return variable


def datasource_variable() -> db.DatasourceVariable:
    """The Prometheus every query goes to: on import, the one chosen for DS_PROMETHEUS."""
    return (
        db.DatasourceVariable("datasource")
        .label("Prometheus")
        .type("prometheus")
        .regex("")
        .current(dm.VariableOption(text="${DS_PROMETHEUS}", value="${DS_PROMETHEUS}"))
        .multi(False)
        .include_all(False)
        .hide(dm.VariableHide.DONT_HIDE)
    )


def runbook_variable() -> db.TextBoxVariable:
    """Hidden: where docs/runbook.md is served, for the panels' links to its sections."""
    return (
        db.TextBoxVariable("runbook")
        .label("Runbook")
        .description("Where docs/runbook.md is served: panel links go to its sections.")
        .default_value(RUNBOOK)
        .current(dm.VariableOption(text=RUNBOOK, value=RUNBOOK))
        .options([dm.VariableOption(selected=True, text=RUNBOOK, value=RUNBOOK)])
        .hide(dm.VariableHide.HIDE_VARIABLE)
    )


def annotation(
    name: str, expr: str, colour: str, title: str, text: str, *tag_keys: str
) -> PrometheusAnnotation:
    """Marks from a PromQL query, evaluated every minute, titled, described and tagged from
    each series' labels."""
    return (
        PrometheusAnnotation(name)
        .icon_color(colour)
        .expr(expr)
        .step("60s")
        .title_format(title)
        .text_format(text)
        .tag_keys(*tag_keys)
        .use_value_for_time(False)
    )


def built_in_annotation() -> db.AnnotationQuery:
    """Grafana's own annotations and alerts, hidden from the toggles as Grafana keeps them."""
    return (
        db.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(dm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[PanelBuilder | db.Row],
    *,
    since: str = "now-24h",
    variables: Sequence[Builder[dm.VariableModel]] = (),
    annotations: Sequence[Builder[dm.AnnotationQuery]] = (),
) -> db.Dashboard:
    """A dashboard of `panels` (ids given in order), with the datasource variable first and the
    runbook's address last, and links to the other restrictwatch dashboards and the runbook."""
    board = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .editable()
        .version(1)
        .timezone("utc")
        .refresh("30s")
        .time(since, "now")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .links(
            [
                db.DashboardLink("restrictwatch")
                .type(dm.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True),
                db.DashboardLink("Runbook")
                .type(dm.DashboardLinkType.LINK)
                .url("${runbook}")
                .icon("doc")
                .target_blank(True),
            ]
        )
        .variables([datasource_variable(), *variables, runbook_variable()])
        .annotations([built_in_annotation(), *annotations])
    )
    for number, panel in enumerate(panels, start=1):
        if isinstance(panel, db.Row):
            board.with_row(panel.id(number))
        else:
            board.with_panel(panel.id(number))
    return board


# --- the dashboards ---------------------------------------------------------------------------


def overview() -> db.Dashboard:
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
                        table=True,
                    ),
                    target(
                        "max by (country, kind, platforms, asns) (rw_active_restriction_severity_ratio)",
                        table=True,
                    ),
                ],
                grid=(0, 6, 24, 9),
                transformations=[
                    transform("merge"),
                    transform(
                        "organize",
                        excludeByName={"Time": True},
                        indexByName={
                            "country": 0,
                            "kind": 1,
                            "platforms": 2,
                            "asns": 3,
                            "Value #A": 4,
                            "Value #B": 5,
                        },
                        renameByName={
                            "country": "Country",
                            "kind": "Kind",
                            "platforms": "Platforms",
                            "asns": "Networks (ASN)",
                            "Value #A": "Started",
                            "Value #B": "Severity",
                        },
                    ),
                    transform("sortBy", sort=[{"field": "Started", "desc": True}]),
                ],
                runbook="restrictionactive",
            )
            .align(cm.FieldTextAlignment.AUTO)
            .cell_height(cm.TableCellHeight.SM)
            .override_by_name("Started", [dm.DynamicConfigValue("unit", "dateTimeAsIso")])
            .override_by_name(
                "Severity",
                [
                    dm.DynamicConfigValue("unit", "percentunit"),
                    dm.DynamicConfigValue(
                        "custom.cellOptions",
                        cm.TableBarGaugeCellOptions(mode=cm.BarGaugeDisplayMode.BASIC),
                    ),
                    dm.DynamicConfigValue("min", 0),
                    dm.DynamicConfigValue("max", 1),
                ],
            )
            .override_by_name("Country", links_to_country()),
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
                bars=True,
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
                stacked=True,
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
                stacked=True,
            ),
            table(
                "Current incidents (events API)",
                "Incidents whose latest message in the events API is not resolved, per country and kind (rw_api_incidents_open). Details: GET /v1/incidents/current.",
                [target("sum by (country, kind) (rw_api_incidents_open) > 0", table=True)],
                grid=(0, 31, 24, 8),
                transformations=[
                    transform(
                        "organize",
                        excludeByName={"Time": True},
                        indexByName={"country": 0, "kind": 1, "Value": 2},
                        renameByName={
                            "country": "Country",
                            "kind": "Kind",
                            "Value": "Open incidents",
                        },
                    ),
                    transform("sortBy", sort=[{"field": "Country", "desc": False}]),
                ],
            )
            .align(cm.FieldTextAlignment.AUTO)
            .cell_height(cm.TableCellHeight.SM)
            .override_by_name("Country", links_to_country()),
        ],
        annotations=[
            annotation(
                "Restriction alerts",
                'ALERTS{alertname="RestrictionActive", alertstate="firing"}',
                "red",
                "{{kind}} in {{country}}",
                "platforms: {{platforms}}",
                "country",
                "kind",
            )
        ],
    )


def country() -> db.Dashboard:
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
                dashed="expected.*",
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
                threshold_line=True,
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
                dashed=".* expected",
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
                dashed=".* expected",
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
                threshold_line=True,
                thresholds=steps(("red", None), ("transparent", -3)),
            ),
            timeseries(
                "Anomalous series by signal",
                "",
                [target('sum by (signal) (rw_anomalous_series{country="$country"})', "{{signal}}")],
                grid=(12, 46, 12, 8),
                stacked=True,
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
                threshold_line=True,
                thresholds=steps(("green", None), ("red", 0.4)),
            ),
        ],
        variables=[
            query_variable("country", "Country", "rw_series_tracked", "country"),
            query_variable(
                "platform",
                "Platform",
                'rw_series_observed{country="$country", region="", signal="traffic", asn="", platform!=""}',
                "platform",
                several=True,
            ),
            query_variable(
                "asn",
                "Network (ASN)",
                'rw_series_observed{country="$country", region="", signal="traffic", asn!="", platform=""}',
                "asn",
                several=True,
            ),
        ],
        annotations=[
            annotation(
                "Events",
                'sum by (kind, status) (increase(rw_events_total{country="$country"}[2m])) > 0',
                "orange",
                "{{kind}} {{status}}",
                "event messages emitted",
                "kind",
                "status",
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


def service_health() -> db.Dashboard:
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
                threshold_line=True,
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
                threshold_line=True,
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
                stacked=True,
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
                threshold_line=True,
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
                stacked=True,
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
                stacked=True,
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
                        table=True,
                    )
                ],
                grid=(12, 41, 12, 8),
                transformations=[
                    transform("organize", excludeByName={"Time": True, "Value": True})
                ],
                runbook="configreloadfailed",
            ),
        ],
        since="now-6h",
        variables=[
            query_variable(
                "instance",
                "Worker",
                "rw_build_info",
                "instance",
                several=True,
                all_value=".+",
                all_by_default=True,
            )
        ],
    )


DASHBOARDS: dict[str, Callable[[], db.Dashboard]] = {
    "overview.json": overview,
    "country.json": country,
    "service-health.json": service_health,
}


def render(build: Callable[[], db.Dashboard]) -> str:
    """A dashboard's file: its JSON as exported for import (the `__inputs` first), keys sorted
    and two-space indented, as the SDK encodes it."""
    exported = {"__inputs": INPUTS, **build().build().to_json()}
    return (
        json.dumps(exported, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )


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
