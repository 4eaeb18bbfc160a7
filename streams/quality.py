"""`evaluate` and `backtest`: score events against labeled incidents, and compare configs on scenarios.

The scoring itself is `detectors.evaluation` (pure); this module reads files, simulates and replays
scenarios, and prints tables. A backtest replays scenarios in one process per core.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from restrictwatch.detectors.config import Config, load_config
from restrictwatch.detectors.evaluation import ALL, FALSE, MISSED, Quality, evaluate, parse_time
from restrictwatch.detectors.events import iso
from restrictwatch.detectors.schemas import SchemaError, validator
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import (
    SCENARIOS,
    country_days,
    scenario,
    select_scenarios,
)
from restrictwatch.detectors.vocabulary import KINDS
from restrictwatch.streams.display import table
from restrictwatch.streams.parallel_replay import every_core
from restrictwatch.streams.replay import read_lines, replay
from restrictwatch.streams.usage import UsageError

# One process per scenario at a time, as many as there are cores (each holds one scenario's state).
MAX_WORKERS = every_core()

# (key in Tally.summary, label, better: "higher" | "lower" | None, unit)
METRICS: tuple[tuple[str, str, str | None, str], ...] = (
    ("recall", "recall", "higher", "pct"),
    ("precision", "precision", "higher", "pct"),
    ("f1", "F1", "higher", "pct"),
    ("false_per_country_week", "false events / country-week", "lower", "rate"),
    ("delay_median_s", "delay median", "lower", "delay"),
    ("delay_p95_s", "delay p95", "lower", "delay"),
    ("start_error_median_s", "start error median", "lower", "seconds"),
    ("start_error_p95_s", "start error p95", "lower", "seconds"),
    ("end_error_median_s", "end error median", "lower", "seconds"),
    ("end_error_p95_s", "end error p95", "lower", "seconds"),
    ("asn_jaccard", "ASN scope (Jaccard)", "higher", "ratio"),
    ("region_jaccard", "region scope (Jaccard)", "higher", "ratio"),
    ("platform_jaccard", "platform scope (Jaccard)", "higher", "ratio"),
    ("events_per_incident", "events per incident", "lower", "ratio"),
    ("kind_accuracy", "right kind", "higher", "pct"),
    ("detected", "incidents detected", "higher", "count"),
    ("incidents", "incidents", None, "count"),
    ("events", "events", None, "count"),
    ("false_events", "false events", "lower", "count"),
)
BETTER, WORSE = "▲", "▼"


# reading ------------------------------------------------------------------------------------


def read_jsonl(path: str, schema: str) -> list[dict[str, Any]]:
    """JSON lines validated against `schemas/<schema>`; errors name the file and line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    check = validator(schema)
    rows = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
            # The simulator labels feed faults that hit every country with country "*".
            check({**doc, "country": "ZZ"} if doc.get("country") == "*" else doc)
        except (orjson.JSONDecodeError, SchemaError, AttributeError) as exc:
            article = "an" if schema[0] in "aeiou" else "a"
            raise UsageError(f"{path}:{n}: not {article} {schema} record: {exc}") from None
        rows.append(doc)
    return rows


@dataclass(frozen=True)
class Span:
    """What the truth says about the data it labels: country-days observed and the end of data."""

    country_days: float | None
    horizon: float | None


def span_of(truth: Iterable[dict[str, Any]], override_days: float | None = None) -> Span:
    """Country-days and end of data from the scenarios the truth rows name, when all are known."""
    names = {row.get("scenario", "") for row in truth}
    if names and names <= set(SCENARIOS):
        specs = [scenario(n) for n in sorted(names)]
        days = sum(country_days(s) for s in specs)
        return Span(override_days if override_days is not None else days, max(s.end for s in specs))
    return Span(override_days, None)


# running ------------------------------------------------------------------------------------


@dataclass
class Backtest:
    """Quality per config, merged over scenarios, and per scenario."""

    labels: list[str]
    scenarios: list[str]
    total: dict[str, Quality] = field(default_factory=dict)
    by_scenario: dict[tuple[str, str], Quality] = field(default_factory=dict)


def _run_scenario(
    name: str, seed: int, configs: list[Config], traffic_only: bool = False
) -> list[Quality]:
    spec = scenario(name)
    rendered = render(spec, seed)
    lines = rendered.lines
    if traffic_only:
        lines = [line for line in lines if b'"reachability"' not in line]
    out = []
    for config in configs:
        result = replay(lines, config)
        out.append(
            evaluate(
                result.events,
                rendered.truth,
                bin_seconds=config.bin_seconds,
                country_days=country_days(spec),
                horizon=spec.end,
            )
        )
    return out


def backtest_processes(workers: int = MAX_WORKERS, scenarios: int = 1) -> int:
    """Processes of a backtest: as asked (every core by default), no more than the cores or the
    scenarios (one process holds one scenario at a time), at least one."""
    return max(1, min(workers, MAX_WORKERS, scenarios))


def run_backtest(
    configs: Sequence[tuple[str, Config]],
    scenarios: Sequence[str],
    seed: int = 1,
    workers: int = MAX_WORKERS,
    traffic_only: bool = False,
) -> Backtest:
    """Simulate each scenario once, replay it with every config, score every replay."""
    labels = [label for label, _ in configs]
    plain = [c for _, c in configs]
    bt = Backtest(labels, list(scenarios))
    workers = backtest_processes(workers, len(scenarios))
    if workers == 1:
        results = [_run_scenario(n, seed, plain, traffic_only) for n in scenarios]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_scenario, n, seed, plain, traffic_only) for n in scenarios]
            results = [f.result() for f in futures]
    for name, qualities in zip(scenarios, results, strict=True):
        for label, q in zip(labels, qualities, strict=True):
            bt.by_scenario[(label, name)] = q
            bt.total[label] = bt.total[label].merge(q) if label in bt.total else q
    return bt


# formatting ---------------------------------------------------------------------------------


def format_value(value: float | None, unit: str, bin_seconds: int = 300) -> str:
    if value is None:
        return "n/a"
    if unit == "pct":
        return f"{100 * value:.1f} %"
    if unit == "delay":
        return f"{value:.0f} s ({value / bin_seconds:.1f} bins)"
    if unit == "seconds":
        return f"{value:.0f} s"
    if unit == "rate":
        return f"{value:.3f}"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.2f}"


def marker(value: float | None, reference: float | None, better: str | None) -> str:
    """▲ when better than the reference column, ▼ when worse, nothing when equal or unknown."""
    if better is None or value is None or reference is None or math.isclose(value, reference):
        return ""
    higher = value > reference
    return BETTER if higher == (better == "higher") else WORSE


def comparison_rows(columns: Sequence[tuple[str, Quality]]) -> list[list[str]]:
    """Rows [kind, metric, col1, col2, ...] with markers against the first column."""
    summaries = [(label, q.summary(), q.bin_seconds) for label, q in columns]
    kinds = [ALL] + [k for k in KINDS if any(k in s for _, s, _ in summaries)]
    rows = []
    for kind in kinds:
        for key, name, better, unit in METRICS:
            values = [s.get(kind, {}).get(key) for _, s, _ in summaries]
            if all(v is None for v in values):
                continue
            cells = []
            for i, (v, (_, _, bins)) in enumerate(zip(values, summaries, strict=True)):
                mark = marker(v, values[0], better) if i else ""
                cells.append(f"{format_value(v, unit, bins)} {mark}".rstrip())
            rows.append([kind, name, *cells])
    return rows


def confusion_table(q: Quality) -> str:
    cols = [*KINDS, MISSED]
    empty: Counter[str] = Counter()
    rows = [[k, *(str(q.confusion.get(k, empty)[c]) for c in cols)] for k in KINDS]
    rows.append(
        [f"{FALSE} (no incident)", *(str(q.confusion.get(FALSE, empty)[c]) for c in KINDS), ""]
    )
    return table(rows, ["truth \\ event", *cols])


def scope_text(event: dict[str, Any]) -> str:
    """'throttling KE AS37061 whatsapp': kind, country, networks (or none: country-wide), platforms."""
    parts = [event["kind"], event["country"], *(f"AS{a}" for a in event["asns"])]
    return " ".join([*parts, *event["platforms"]])


def quality_report(columns: Sequence[tuple[str, Quality]]) -> str:
    """Metrics side by side, then each column's confusion matrix, misses and false events."""
    out = [
        table(
            comparison_rows(columns),
            ["kind", "metric", *(label for label, _ in columns)],
            rule=True,
            group_first=True,
        )
    ]
    if len(columns) > 1:
        out.append(f"\n{BETTER} better, {WORSE} worse than {columns[0][0]}")
    for label, q in columns:
        days = "unknown" if q.country_days is None else f"{q.country_days:g}"
        out.append(
            f"\n[{label}] kind confusion (incidents by first event; false: events), country-days {days}"
        )
        out.append(confusion_table(q))
        for m in q.missed:
            out.append(f"  missed: {m['kind']} {m['country']} {m['start']} {m['label']}")
        for f in q.false:
            where = f" (during benign: {f['benign']})" if f["benign"] else ""
            out.append(f"  false: {scope_text(f)} {f['started_at']}{where}")
    return "\n".join(out)


def scenario_table(bt: Backtest) -> str:
    """Detected / labeled incidents and false events, per scenario and config."""
    rows = []
    for name in bt.scenarios:
        cells = []
        for label in bt.labels:
            s = bt.by_scenario[(label, name)].summary()[ALL]
            cells.append(f"{s['detected']:.0f}/{s['incidents']:.0f}, {s['false_events']:.0f} false")
        rows.append([name, *cells])
    return table(rows, ["scenario", *bt.labels])


def _json(obj: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


# commands -----------------------------------------------------------------------------------


def mismatch(messages: Sequence[dict[str, Any]], truth: Sequence[dict[str, Any]]) -> str | None:
    """Why the truth cannot be what these events are scored against, or None.

    An empty truth file, or one whose countries or time range the events do not touch at all,
    is most likely the wrong file: recall 0 % from it says nothing about the detector.
    """
    if not truth:
        return "the truth file labels no incidents: there is nothing to score against"
    if not messages:
        return None  # no events at all is a result (recall 0 %), not a mismatch
    labeled = {row["country"] for row in truth}
    seen = {m["country"] for m in messages}
    if "*" not in labeled and not labeled & seen:
        return (
            f"the truth labels {_some(labeled)} but the events are in {_some(seen)}: "
            "no country in common"
        )
    truth_span = labeled_period(truth)
    event_span = (
        min(parse_time(m["started_at"]) for m in messages),
        max(parse_time(m["ended_at"] or m["emitted_at"]) for m in messages),
    )
    if truth_span[1] < event_span[0] or event_span[1] < truth_span[0]:
        return (
            f"the truth covers {_span(truth_span)} but the events {_span(event_span)}: "
            "no time in common"
        )
    return None


def labeled_period(truth: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """The time the truth speaks for: its scenarios' whole data when all are known (a false
    event far from any incident is still inside it), else first start to last end."""
    names = {row.get("scenario", "") for row in truth}
    if names and names <= set(SCENARIOS):
        specs = [scenario(n) for n in names]
        return min(s.start for s in specs), max(s.end for s in specs)
    return (
        min(parse_time(row["start"]) for row in truth),
        max(parse_time(row["end"]) for row in truth),
    )


def _some(countries: set[str], most: int = 5) -> str:
    names = sorted(countries)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _span(span: tuple[float, float]) -> str:
    return f"{iso(span[0])} to {iso(span[1])}"


def cmd_evaluate(args: argparse.Namespace) -> int:
    messages = read_jsonl(args.events, "event.v1")
    truth = read_jsonl(args.truth, "truth.v1")
    problem = mismatch(messages, truth)
    if problem is not None:
        if args.strict:
            raise UsageError(f"{args.truth} does not fit {args.events}: {problem}")
        print(
            f"restrictwatch: warning: {args.truth} does not fit {args.events}: {problem}; "
            "the scores below say nothing about the detector (--strict makes this an error)",
            file=sys.stderr,
        )
    span = span_of(truth, args.country_days)
    horizon = parse_time(args.end) if args.end else span.horizon
    q = evaluate(
        messages,
        truth,
        bin_seconds=args.bin_seconds,
        country_days=span.country_days,
        horizon=horizon,
    )
    if args.format == "json":
        _json(q.as_dict())
    else:
        print(quality_report([(Path(args.events).name, q)]))
        if q.country_days is None:
            print(
                "\nfalse events per country-week: pass --country-days (the truth names no known scenario)"
            )
    return 0


def _configs(paths: list[str] | None) -> list[tuple[str, Config]]:
    if not paths:
        return [("default", load_config())]
    out: list[tuple[str, Config]] = []
    for p in paths:
        label = Path(p).stem
        if any(label == seen for seen, _ in out):
            label = p
        out.append((label, load_config(p)))
    return out


def cmd_backtest(args: argparse.Namespace) -> int:
    configs = _configs(args.config)
    if args.scenario and args.input:
        raise UsageError("backtest takes --scenario or --input/--truth, not both")
    if args.scenario:
        try:
            names = select_scenarios(args.scenario)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
        bt = run_backtest(configs, names, args.seed, args.workers, args.traffic_only)
        columns = [(label, bt.total[label]) for label in bt.labels]
    elif args.input and args.truth:
        truth = read_jsonl(args.truth, "truth.v1")
        try:
            with Path(args.input).open("rb") as source:
                lines = list(read_lines(source))
        except OSError as exc:
            raise UsageError(f"cannot read {args.input}: {exc.strerror}") from None
        if args.traffic_only:
            lines = [line for line in lines if b'"reachability"' not in line]
        span = span_of(truth, args.country_days)
        columns = []
        for label, config in configs:
            result = replay(lines, config)
            q = evaluate(
                result.events,
                truth,
                bin_seconds=config.bin_seconds,
                country_days=span.country_days,
                horizon=span.horizon,
            )
            columns.append((label, q))
        bt = None
    else:
        raise UsageError("backtest needs --scenario NAME (or all), or --input FILE --truth FILE")
    if args.format == "json":
        doc: dict[str, Any] = {
            "seed": args.seed,
            "configs": {label: q.as_dict() for label, q in columns},
        }
        if bt is not None:
            doc["scenarios"] = {
                name: {label: bt.by_scenario[(label, name)].summary()[ALL] for label in bt.labels}
                for name in bt.scenarios
            }
        _json(doc)
        return 0
    print(quality_report(columns))
    if bt is not None:
        print("\nper scenario: incidents detected / labeled, false events")
        print(scenario_table(bt))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evaluate", help="score event messages against labeled incidents")
    p.add_argument("--events", required=True, help="event messages (JSON lines, as replay writes)")
    p.add_argument(
        "--truth", required=True, help="labeled incidents (JSON lines, as simulate writes)"
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument(
        "--country-days",
        type=float,
        help="countries x days observed, for false events per country-week "
        "(default: from the scenarios the truth names)",
    )
    p.add_argument(
        "--bin-seconds", type=int, default=300, help="bin width, to state delays in bins"
    )
    p.add_argument("--end", help="end of the data (RFC 3339), where open events are taken to end")
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2) when the truth is empty or shares no country or time with the events",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("backtest", help="replay scenarios with several configs and compare quality")
    p.add_argument(
        "--config",
        action="append",
        help="detector config YAML; repeat to compare (first is the reference)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        help="scenario name, repeatable; 'all', 'tuning' or 'validation' for a set",
    )
    p.add_argument("--input", help="records file to replay instead of scenarios (needs --truth)")
    p.add_argument("--truth", help="labeled incidents of --input")
    p.add_argument("--country-days", type=float, help="countries x days of --input")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--workers",
        type=int,
        default=MAX_WORKERS,
        help="processes, one scenario each (default and at most: the machine's cores)",
    )
    p.add_argument(
        "--traffic-only",
        action="store_true",
        help="drop reachability records first: judge the traffic detectors alone",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_backtest)
