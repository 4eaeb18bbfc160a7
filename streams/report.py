"""A static report of a replay: a PNG per incident, a timeline of every event, an index.html.

The pipeline keeps only each series' latest verdict, so drawing observed against expected needs
a history: `VerdictRecorder` is handed to `replay(observe=...)` and copies each series' verdict
whenever a bin closes. It is opt-in: a replay without a report pays nothing for it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.events import format_duration
from restrictwatch.detectors.pipeline import Outcome, Pipeline
from restrictwatch.detectors.records import SeriesKey, parse_ts
from restrictwatch.streams.replay import ReplayResult, summary_table

MAX_PANELS = 12
KIND_COLORS = {
    "network_outage": "#c0392b",
    "platform_restriction": "#8e44ad",
    "throttling": "#d68910",
}
STATUS_MARKERS = {"open": "o", "update": "D", "resolved": "s"}


@dataclass(slots=True)
class History:
    """One series' closed bins: start, observed, expected, score, ready."""

    bins: list[float] = field(default_factory=list)
    observed: list[float] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    ready: list[bool] = field(default_factory=list)


class VerdictRecorder:
    """Keeps every series' verdict per closed bin, for `replay(observe=recorder)`: the
    readings each record's outcome carries (`replay` asks the pipeline to keep them)."""

    def __init__(self) -> None:
        self.history: dict[SeriesKey, History] = {}

    def __call__(self, pipeline: Pipeline, outcome: Outcome) -> None:
        for r in outcome.closed:
            h = self.history.get(r.key)
            if h is None:
                h = self.history[r.key] = History()
            h.bins.append(r.bin_start)
            h.observed.append(r.observed)
            h.expected.append(r.expected)
            h.score.append(r.z)
            h.ready.append(r.ready)


@dataclass(slots=True)
class IncidentView:
    """An incident as its messages tell it: the latest message, and all of them."""

    event_id: str
    messages: list[dict[str, Any]]

    @property
    def latest(self) -> dict[str, Any]:
        return self.messages[-1]

    @property
    def start(self) -> float:
        return parse_ts(self.latest["started_at"])

    def end(self, data_end: float) -> float:
        ended = self.latest["ended_at"]
        return parse_ts(ended) if ended else data_end

    @property
    def resolved(self) -> bool:
        return bool(self.latest["status"] == "resolved")


def incidents_of(events: Iterable[Mapping[str, Any]]) -> list[IncidentView]:
    views: dict[str, IncidentView] = {}
    for event in events:
        view = views.get(event["event_id"])
        if view is None:
            view = views[event["event_id"]] = IncidentView(event["event_id"], [])
        view.messages.append(dict(event))
    return sorted(views.values(), key=lambda v: (v.start, v.event_id))


@dataclass(slots=True)
class Panel:
    """What one subplot shows: one series, or the mean of a platform's probes across networks."""

    title: str
    keys: list[SeriesKey]
    score: float
    unit: str


def panels_for(
    incident: IncidentView, country: str, history: dict[SeriesKey, History]
) -> tuple[list[Panel], int]:
    """The series an incident involves, most affected first; probes grouped per platform.

    The country's total traffic leads, for context, even when it is not part of the evidence.
    """
    evidence = [e for e in incident.latest["evidence"] if e.get("observed") is not None]
    panels: list[Panel] = []
    total = SeriesKey("traffic", "", country, None, None)
    totals = [k for k in history if k._replace(source="") == total]
    if totals:
        panels.append(Panel(f"{country} total traffic", totals[:1], 0.0, "volume"))
    probes: dict[tuple[str, str | None], list[tuple[SeriesKey, float]]] = {}
    for e in evidence:
        key = SeriesKey(e["signal"], e["source"], country, e["asn"], e["platform"], e.get("region"))
        if key not in history or key in totals:
            continue
        if e["signal"] == "reachability":
            probes.setdefault((e["source"], e["platform"]), []).append((key, e["score"]))
            continue
        where = _where(key)
        panels.append(Panel(f"traffic, {where}", [key], e["score"], "volume"))
    for (_source, platform), members in probes.items():
        keys = [k for k, _ in members]
        nets = f"mean of {len(keys)} networks" if len(keys) > 1 else _where(keys[0])
        panels.append(
            Panel(
                f"probe success, {platform or 'all'} ({nets})",
                keys,
                min(s for _, s in members),
                "share",
            )
        )
    head, rest = panels[:1] if totals else [], panels[1:] if totals else panels
    rest.sort(key=lambda p: (p.score, p.title))
    chosen = head + rest
    return chosen[:MAX_PANELS], max(0, len(chosen) - MAX_PANELS)


def _scope(event: dict[str, Any]) -> str:
    """`PK x, youtube`, `IR AS44244, AS197207`, `PK PK-BA`, or `IQ country-wide`."""
    what = ", ".join(event["platforms"]) or ", ".join(f"AS{a}" for a in event["asns"])
    regions = ", ".join(event.get("regions") or ())
    where = " ".join(p for p in (regions, what) if p)
    return f"{event['country']} {where or 'country-wide'}"


def _where(key: SeriesKey) -> str:
    parts = []
    if key.region:
        parts.append(key.region)
    if key.platform:
        parts.append(key.platform)
    if key.asn is not None:
        parts.append(f"AS{key.asn}")
    return " ".join(parts) or "country total"


def _dates(ts: Sequence[float]) -> list[float]:
    """Epoch seconds as matplotlib date numbers (days since its 1970 epoch)."""
    return [t / 86400.0 for t in ts]


def _date_axis(ax: Any, seconds: float) -> None:
    """UTC dates with about six ticks across a window of `seconds`."""
    locator: mdates.DateLocator
    if seconds <= 3 * 86400:
        hours = next((h for h in (1, 2, 3, 6, 12) if seconds / (h * 3600) <= 8), 12)
        locator = mdates.HourLocator(byhour=range(0, 24, hours), tz=UTC)  # type: ignore[no-untyped-call]
        fmt = "%m-%d %H:%M"
    else:
        days = max(1, round(seconds / 86400 / 7))
        locator = mdates.DayLocator(interval=days, tz=UTC)  # type: ignore[no-untyped-call]
        fmt = "%Y-%m-%d"
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt, tz=UTC))  # type: ignore[no-untyped-call]


def draw_incident(
    incident: IncidentView,
    panels: list[Panel],
    history: dict[SeriesKey, History],
    data_end: float,
    bin_seconds: int,
) -> Figure:
    start, end = incident.start, incident.end(data_end)
    span = max(end - start, 6 * bin_seconds)
    lo, hi = start - max(span, 12 * 3600), end + max(span / 2, 6 * 3600)
    cols = 1 if len(panels) <= 2 else 2 if len(panels) <= 8 else 3
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(max(6.2 * cols, 9.5), 2.6 * rows + 1.0), squeeze=False, sharex=True
    )
    latest = incident.latest
    scope = ", ".join(latest["platforms"]) or "all platforms"
    networks = ", ".join(f"AS{a}" for a in latest["asns"]) or "every network"
    regions = ", ".join(latest.get("regions") or ()) or "country-wide"
    fig.suptitle(
        f"{latest['country']} {latest['kind'].replace('_', ' ')}: {scope}; {networks}; {regions}\n"
        f"{latest['started_at']} to {latest['ended_at'] or 'still open'}  ({incident.event_id})",
        fontsize=11,
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        ts, observed, expected = _panel_series(panel, history, lo, hi)
        dates = _dates(ts)
        # a bin's value holds from its start to the next: steps, so drops line up with the shading
        ax.plot(dates, observed, color="#1f4e79", lw=1.1, drawstyle="steps-post")
        ax.plot(dates, expected, color="#7f7f7f", lw=1.1, ls="--", drawstyle="steps-post")
        ax.axvspan(*_dates([start, end]), color=KIND_COLORS.get(latest["kind"], "red"), alpha=0.15)
        ax.axvline(_dates([parse_ts(latest["detected_at"])])[0], color="black", lw=0.6, ls=":")
        ax.set_title(
            panel.title + (f"  (score {panel.score:.0f} sigmas)" if panel.score else ""), fontsize=9
        )
        ax.set_ylabel(UNIT_LABELS.get(panel.unit, panel.unit), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_ylim(bottom=0)
        if panel.unit == "share":
            ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    _date_axis(axes[0][0], hi - lo)  # shared by every panel
    for ax in axes[-1]:
        ax.set_xlabel("UTC", fontsize=8)
    for i, ax in enumerate(axes.flat):
        if i < len(panels) and i + cols >= len(panels):  # nothing drawn below: label the dates
            ax.tick_params(labelbottom=True)
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_horizontalalignment("right")
    handles: list[Artist] = [
        Line2D([], [], color="#1f4e79", label="observed"),
        Line2D([], [], color="#7f7f7f", ls="--", label="expected"),
        Patch(color=KIND_COLORS.get(latest["kind"], "red"), alpha=0.15, label="incident"),
        Line2D([], [], color="black", lw=0.6, ls=":", label="detected"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _panel_series(
    panel: Panel, history: dict[SeriesKey, History], lo: float, hi: float
) -> tuple[list[float], list[float], list[float]]:
    """Bins in [lo, hi]; several keys are averaged bin by bin. Expected only once ready."""
    acc: dict[float, tuple[float, float, int, int]] = {}
    for key in panel.keys:
        h = history[key]
        for t, o, e, ready in zip(h.bins, h.observed, h.expected, h.ready, strict=True):
            if not lo <= t <= hi:
                continue
            so, se, n, nr = acc.get(t, (0.0, 0.0, 0, 0))
            acc[t] = (so + o, se + (e if ready else 0.0), n + 1, nr + ready)
    ts = sorted(acc)
    observed = [acc[t][0] / acc[t][2] for t in ts]
    expected = [acc[t][1] / acc[t][3] if acc[t][3] else math.nan for t in ts]
    return ts, observed, expected


def draw_timeline(incidents: list[IncidentView], data_start: float, data_end: float) -> Figure:
    """Every incident as a bar from start to end, one row each, with its messages as markers."""
    rows = max(1, len(incidents))
    fig, ax = plt.subplots(figsize=(12, 2.2 + 0.4 * rows))
    for i, incident in enumerate(incidents):
        latest = incident.latest
        start, end = incident.start, incident.end(data_end)
        color = KIND_COLORS.get(latest["kind"], "grey")
        ax.barh(
            i,
            (end - start) / 86400,
            left=_dates([start])[0],
            height=0.5,
            color=color,
            alpha=0.8 if incident.resolved else 0.45,
            hatch=None if incident.resolved else "//",
        )
        for message in incident.messages:
            at = _dates([parse_ts(message["emitted_at"])])[0]
            ax.plot(at, i, marker=STATUS_MARKERS[message["status"]], color="black", ms=5)
    ax.set_yticks(range(len(incidents)))
    ax.set_yticklabels([_scope(v.latest) for v in incidents], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(*_dates([data_start, data_end]))
    _date_axis(ax, data_end - data_start)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(
        f"{len(incidents)} incident(s), {sum(len(v.messages) for v in incidents)} event messages",
        fontsize=10,
    )
    handles: list[Artist] = [
        Patch(color=c, label=k.replace("_", " ")) for k, c in KIND_COLORS.items()
    ]
    handles += [
        Line2D([], [], marker=m, color="black", ls="", label=s) for s, m in STATUS_MARKERS.items()
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.tick_params(labelsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def write_report(
    directory: Path,
    result: ReplayResult,
    config: Config,
    recorder: VerdictRecorder | None = None,
    source: str | None = None,
) -> Path:
    """Write index.html, timeline.png and one PNG per incident into `directory`; returns the index.

    Without a recorder (a replay run without one) the incident pictures are left out.
    """
    directory.mkdir(parents=True, exist_ok=True)
    history = recorder.history if recorder is not None else {}
    all_bins = [t for h in history.values() for t in h.bins]
    event_times = [parse_ts(e[k]) for e in result.events for k in ("started_at", "emitted_at")]
    times = all_bins or event_times or [0.0]
    data_start, data_end = min(times), max(times) + config.bin_seconds
    incidents = incidents_of(result.events)

    fig = draw_timeline(incidents, data_start, data_end)
    fig.savefig(directory / "timeline.png", dpi=110)
    plt.close(fig)

    sections = []
    for incident in incidents:
        image = None
        omitted = 0
        if history:
            panels, omitted = panels_for(incident, incident.latest["country"], history)
            if panels:
                fig = draw_incident(incident, panels, history, data_end, config.bin_seconds)
                image = f"{incident.event_id}.png"
                fig.savefig(directory / image, dpi=100)
                plt.close(fig)
        sections.append(_incident_html(incident, image, omitted))
    index = directory / "index.html"
    index.write_text(_page(result, incidents, sections, source), encoding="utf-8")
    return index


UNIT_LABELS = {
    "volume": "traffic per bin (feed's unit)",
    "share": "share of probes succeeding",
}
SCORE_MEANING = (
    "A score is the standardized deviation of a bin from what its series' model expected: how "
    "many sigmas of the series' own noise it lies below (negative) or above expectation; an "
    "incident needs at least min_sigmas below. In the evidence, the most extreme score over the "
    "incident's anomalous bins."
)


def _evidence_html(evidence: list[dict[str, Any]]) -> str:
    esc = html.escape

    def cell(value: Any) -> str:
        if value is None or value == "":
            return "<td></td>"
        if isinstance(value, float):
            return f"<td>{value:g}</td>"
        if isinstance(value, dict):
            return "<td>" + esc(", ".join(f"{k} {n}" for k, n in value.items())) + "</td>"
        return f"<td>{esc(str(value))}</td>"

    columns = (
        "signal",
        "source",
        "region",
        "asn",
        "platform",
        "expected",
        "observed",
        "score",
        "bins",
        "failures",
        "latency_ratio",
        "reference",
        "note",
    )
    head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(cell(ev.get(c)) for c in columns) + "</tr>" for ev in evidence)
    return f"<h3>Evidence</h3><table><tr>{head}</tr>{rows}</table>"


def _incident_html(incident: IncidentView, image: str | None, omitted: int) -> str:
    e = incident.latest
    esc = html.escape
    started = parse_ts(e["started_at"])
    duration = format_duration(parse_ts(e["ended_at"]) - started) if e["ended_at"] else "still open"
    rows = "".join(
        f"<tr><td>{m['seq']}</td><td>{esc(m['status'])}</td><td>{esc(m['emitted_at'])}</td>"
        f"<td>{m['severity']:.2f}</td><td>{m['confidence']:.2f}</td></tr>"
        for m in incident.messages
    )
    picture = (
        f'<p><a href="{esc(image)}"><img src="{esc(image)}" alt="observed vs expected for '
        f'{esc(incident.event_id)}"></a></p>'
        if image
        else "<p><em>No series history recorded for this incident.</em></p>"
    )
    more = f"<p>{omitted} more series not drawn.</p>" if omitted else ""
    return f"""
<section id="{esc(incident.event_id)}">
<h2>{esc(e["summary"])}</h2>
<dl>
<dt>event id</dt><dd><code>{esc(incident.event_id)}</code></dd>
<dt>kind</dt><dd>{esc(e["kind"])}</dd>
<dt>country</dt><dd>{esc(e["country"])}</dd>
<dt>regions</dt><dd>{esc(", ".join(e.get("regions") or ()) or "country-wide")}</dd>
<dt>platforms</dt><dd>{esc(", ".join(e["platforms"]) or "all")}</dd>
<dt>networks</dt><dd>{esc(", ".join(f"AS{a}" for a in e["asns"]) or "all")}</dd>
<dt>started</dt><dd>{esc(e["started_at"])}</dd>
<dt>detected</dt><dd>{esc(e["detected_at"])}</dd>
<dt>ended</dt><dd>{esc(e["ended_at"] or "still open")}</dd>
<dt>duration</dt><dd>{esc(duration)}</dd>
<dt>severity</dt><dd>{e["severity"]:.2f} (peak {e.get("peak_severity", e["severity"]):.2f})</dd>
<dt>method</dt><dd>{esc(e.get("method") or "unknown")}</dd>
<dt>config</dt><dd><code>{esc(e["config_version"])}</code></dd>
</dl>
{picture}{more}
{_evidence_html(e["evidence"])}
<table><tr><th>seq</th><th>status</th><th>emitted at</th><th>severity</th><th>confidence</th></tr>{rows}</table>
</section>"""


def _page(
    result: ReplayResult,
    incidents: list[IncidentView],
    sections: list[str],
    source: str | None = None,
) -> str:
    esc = html.escape
    where = f" of <code>{esc(source)}</code>" if source else ""
    links = "".join(
        f'<li><a href="#{esc(v.event_id)}">{esc(v.latest["summary"])}</a> '
        f"({esc(v.latest['status'])})</li>"
        for v in incidents
    )
    summary = summary_table(result) if result.pipeline is not None else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>restrictwatch replay report</title>
<style>
body {{ font-family: sans-serif; max-width: 1300px; margin: 2em auto; color: #222; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
dl {{ display: grid; grid-template-columns: 8em auto; }}
dt {{ color: #666; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
pre {{ background: #f6f6f6; padding: 1em; }}
</style>
</head>
<body>
<h1>restrictwatch replay report</h1>
<p>{len(incidents)} incident(s) in {result.lines} records{where}.
Shaded: the incident, from its first anomalous bin to its recovery; dotted: when it was detected.
Times are UTC.</p>
<p>{esc(SCORE_MEANING)}</p>
<h2>Timeline</h2>
<p><img src="timeline.png" alt="timeline of all events"></p>
<ul>{links}</ul>
{"".join(sections)}
<h2>Replay summary</h2>
<pre>{esc(summary)}</pre>
</body>
</html>
"""
