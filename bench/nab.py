"""Our traffic detector on seven Numenta Anomaly Benchmark series, scored the way NAB scores.

Each NAB series (data/real/nab/) is fed to the real pipeline (`streams.replay.replay`, the code
path of `restrictwatch replay`) as the country-wide traffic of one stand-in country (AQ) at
300-s bins, with the packaged default config. What the pipeline says is turned into NAB's
per-row anomaly scores in [0, 1] three ways:

* `events, 1 at each detection`: 1 on the rows of the bin in which an event was detected (its
  `detected_at` is that bin's end), else 0: one alert per event, what the service sends; scored
  at threshold 1 (NAB's optimiser would pick "never", the null score, whenever alerting loses);
* `events, 1 while open`: 1 on every row from that bin until the event's end (NAB counts each
  flagged row outside a window as one false positive);
* `drop score`: the seasonal model's verdict of the row's bin, d / (d + 3) with d how many sigmas
  the value lies below expectation (0 at or above it, and while the series warms up);
* `two-sided score` (a diagnostic, not what the service alerts on): the same of |z|, so spikes
  count too. NAB's labeled anomalies include spikes, which our detector, built for drops, ignores.

Each is scored with bench/nab_score.py, a port of NAB's own scorer (standard profile, threshold
optimised over these seven files as NAB optimises over its corpus, normalised with NAB's null
detector and a perfect detector). Numenta HTM's published anomaly scores for the same files are
re-scored the same way, next to its published per-file scores (threshold optimised over all 58
NAB files) and its published whole-corpus score.

    python -m bench.nab [--write]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench import nab_score
from bench.markdown import replace_section
from bench.real_data import REAL
from restrictwatch.detectors.config import Config, load_config
from restrictwatch.detectors.evaluation import final_events
from restrictwatch.streams.replay import replay
from restrictwatch.streams.report import VerdictRecorder

NAB = REAL / "nab"
COUNTRY = "AQ"  # Antarctica: a known code no real feed of ours reports
SOURCE = "nab"
# Numenta HTM ("numenta") in NAB's results/final_results.json at the commit in data/real/nab/.
HTM_CORPUS_STANDARD = 70.10105611943965


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def epoch(t: datetime) -> float:
    return t.replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Series:
    file: nab_score.DataFile
    values: list[float]


def load_corpus(folder: Path = NAB) -> list[Series]:
    windows = json.loads((folder / "combined_windows.json").read_text(encoding="utf-8"))
    out = []
    for name in sorted(windows):
        with (folder / name).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        stamps = [parse_ts(r["timestamp"]) for r in rows]
        spans = [(parse_ts(a), parse_ts(b)) for a, b in windows[name]]
        out.append(
            Series(nab_score.DataFile(name, stamps, spans), [float(r["value"]) for r in rows])
        )
    return out


def htm_scores(name: str, folder: Path = NAB) -> list[float]:
    group, base = name.split("/")
    with gzip.open(folder / "numenta" / group / f"numenta_{base}.gz", "rt", newline="") as f:
        return [float(r["anomaly_score"]) for r in csv.DictReader(f)]


def published(detector: str, folder: Path = NAB) -> dict[str, float]:
    with (folder / "numenta" / f"{detector}_standard_scores.csv").open(newline="") as f:
        return {r["File"]: float(r["Score"]) for r in csv.DictReader(f)}


def records(series: Series) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "signal": "traffic",
                "ts": epoch(t),
                "country": COUNTRY,
                "value": max(0.0, v),
                "source": SOURCE,
            }
        )
        for t, v in zip(series.file.timestamps, series.values, strict=True)
    ]


@dataclass(frozen=True)
class Run:
    """Per row of one series: the bin's z (None before its first verdict), and the event flag."""

    z: list[float | None]
    ready: list[bool]
    onsets: list[float]  # 1 on the rows of the bin in which an event was detected
    flags: list[float]  # 1 on every row while an event is open
    events: int


def run_series(series: Series, config: Config) -> Run:
    recorder = VerdictRecorder()
    result = replay(records(series), config, observe=recorder)
    width = config.bin_seconds
    verdicts: dict[float, tuple[float, bool]] = {}
    for history in recorder.history.values():
        for b, score, warm in zip(history.bins, history.score, history.ready, strict=True):
            verdicts[b] = (score, warm)
    spans = [(e.detected_at - width, e.ended_at) for e in final_events(result.events)]
    z: list[float | None] = []
    ready: list[bool] = []
    flags: list[float] = []
    onsets: list[float] = []
    for t in series.file.timestamps:
        ts = epoch(t)
        b = ts - ts % width
        verdict = verdicts.get(b)
        z.append(None if verdict is None else verdict[0])
        ready.append(verdict is not None and verdict[1])
        flags.append(1.0 if any(s <= b and (e is None or b < e) for s, e in spans) else 0.0)
        onsets.append(1.0 if any(s == b for s, _ in spans) else 0.0)
    return Run(z, ready, onsets, flags, len(spans))


def rises(corpus: list[Series]) -> tuple[int, int]:
    """Windows whose centre (the mean of the 24 rows around it) lies above the median of the
    day before the window, and all windows: how many of NAB's anomalies here are rises."""
    up = n = 0
    for s in corpus:
        ts, v = s.file.timestamps, s.values
        for a, b in s.file.windows:
            i, j = ts.index(a), ts.index(b)
            mid = (i + j) // 2
            before = v[max(0, i - 288) : i] or v[:50]
            centre = v[max(0, mid - 12) : mid + 12]
            up += statistics.mean(centre) > statistics.median(before)
            n += 1
    return up, n


def squash(d: float) -> float:
    return d / (d + 3.0)


def drop_score(run: Run) -> list[float]:
    return [
        squash(max(0.0, -z)) if z is not None and r else 0.0
        for z, r in zip(run.z, run.ready, strict=True)
    ]


def two_sided_score(run: Run) -> list[float]:
    return [
        squash(abs(z)) if z is not None and r else 0.0
        for z, r in zip(run.z, run.ready, strict=True)
    ]


@dataclass(frozen=True)
class Scored:
    label: str
    score: nab_score.CorpusScore
    normalized: float


def render_markdown(
    corpus: list[Series],
    rows: list[Scored],
    htm_published: dict[str, float],
    null_total: float,
    perfect: float,
    events: dict[str, int],
    seconds: float,
) -> str:
    names = [s.file.name for s in corpus]
    up, n_windows = rises(corpus)
    windows = sum(len(s.file.windows) for s in corpus)
    pub_total = sum(htm_published[n] for n in names)
    pub_norm = nab_score.normalized(pub_total, null_total, perfect)
    short = [n.split("/")[1].removesuffix(".csv") for n in names]
    out = [
        "## NAB: seven real series, scored by NAB's method",
        "",
        f"Seven series of the Numenta Anomaly Benchmark ({len(names)} files, {windows} labeled "
        "windows, 5-minute volume-like metrics: EC2 network-in, ELB requests, road occupancy, "
        "Twitter mentions; [data/real/nab/](data/real/nab/README.md), MIT), each fed to the real "
        "pipeline as the country-wide traffic of a stand-in country (AQ) at 300-s bins with the "
        "packaged default config. Scores: our port of NAB's scorer ([bench/nab_score.py](bench/nab_score.py): "
        "standard profile A_tp = 1, A_fp = 0.11, A_fn = 1, sigmoid window scoring, the first 15 % "
        "of each file probationary, one threshold optimised over the seven files, normalised so "
        f"that NAB's null detector (raw {null_total:g}) scores 0 and a perfect one (raw "
        f"{perfect:g}) 100). The port reproduces HTM's published per-file raw scores to 1e-9 "
        "(tested).",
        "",
        "| detector | threshold | raw score | normalised | TP | FP | FN | "
        + " | ".join(short)
        + " |",
        "|" + "---|" * (7 + len(short)),
    ]
    for s in rows:
        tot = s.score.per_file.values()
        per = [f"{s.score.per_file[n].score:.2f}" for n in names]
        out.append(
            f"| {s.label} | {s.score.threshold:.4g} | {s.score.total:.2f} | **{s.normalized:.1f}** | "
            f"{sum(r.tp for r in tot)} | {sum(r.fp for r in tot)} | {sum(r.fn for r in tot)} | "
            + " | ".join(per)
            + " |"
        )
    out.append(
        f"| Numenta HTM, published (threshold 0.5422 optimised over all 58 NAB files) | 0.5422 | "
        f"{pub_total:.2f} | **{pub_norm:.1f}** | | | | "
        + " | ".join(f"{htm_published[n]:.2f}" for n in names)
        + " |"
    )
    out += [
        "",
        "TP/FP/FN count rows (NAB's counts: every row at or above the threshold is a detection). "
        "A threshold of 1.1 means NAB's optimiser found nothing better than never detecting (the "
        "null score); the event rows are scored at threshold 1 instead (a flag is a detection). "
        "Rows of bins still open at the end of a file get no verdict and score 0. "
        "Per-file columns are raw scores (a missed window costs 1, each false positive up to "
        f"0.11). Our pipeline raised {sum(events.values())} events over the seven files "
        f"({', '.join(f'{k} {v}' for k, v in zip(short, events.values(), strict=True))}).",
        "",
        f"For scale: HTM's published standard score over the whole NAB corpus (58 files) is "
        f"{HTM_CORPUS_STANDARD:.1f} (results/final_results.json at the NAB commit used; often "
        "quoted as 70.5 from earlier NAB versions); that figure is not comparable with a "
        "seven-file score, the rows above are.",
        "",
        "What the numbers say: our detector scores drops only (a restriction is traffic "
        f"missing), and in {up} of the {n_windows} windows the values around the window's centre "
        "lie above the day before it (spikes and rises), so the drop score and the events miss "
        "them by design and what they flag elsewhere costs false positives; the two-sided row "
        "shows what the same seasonal model's deviations give when rises count too. NAB's "
        "windows are wide (10 % of the file over its windows, centred on the anomaly) and "
        "reward the earliest detection.",
        "",
        "License: NAB's code and data are MIT at the commit used (data/real/nab/LICENSE.txt); "
        "bench/nab_score.py is a port of its scorer under that license.",
        "",
        "### Reproduce",
        "",
        "```",
        "make bench-nab                # python -m bench.nab --write: this section",
        "python -m pytest tests/bench/test_nab.py   # the port against HTM's published scores",
        "```",
        "",
        f"All runs took {seconds:.0f} s.",
    ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="rewrite the nab section of BENCHMARKS.md"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    config = load_config()
    corpus = load_corpus()
    files = [s.file for s in corpus]
    runs = {s.file.name: run_series(s, config) for s in corpus}
    null = nab_score.optimize_and_score(files, nab_score.null_scores(files)).total
    perfect = nab_score.perfect_score(files)
    # (label, per-row scores, fixed threshold or None to optimise it as NAB does)
    detectors: list[tuple[str, Callable[[str], list[float]], float | None]] = [
        (
            "ours: events, 1 at each detection (what the service alerts on)",
            lambda n: runs[n].onsets,
            1.0,
        ),
        ("ours: events, 1 while open", lambda n: runs[n].flags, 1.0),
        ("ours: drop score (seasonal z below expectation)", lambda n: drop_score(runs[n]), None),
        ("ours: two-sided score (diagnostic)", lambda n: two_sided_score(runs[n]), None),
        ("Numenta HTM, re-scored (its published anomaly scores)", htm_scores, None),
    ]
    rows = []
    for label, fn, fixed in detectors:
        scores = {f.name: fn(f.name) for f in files}
        if fixed is None:
            cs = nab_score.optimize_and_score(files, scores)
        else:
            cs = nab_score.score_corpus(files, scores, fixed)
        rows.append(Scored(label, cs, nab_score.normalized(cs.total, null, perfect)))
    text = render_markdown(
        corpus,
        rows,
        published("numenta"),
        null,
        perfect,
        {n: r.events for n, r in runs.items()},
        time.perf_counter() - started,
    )
    print(text)
    if args.write:
        replace_section("nab", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
