"""NAB's scoring, ported: window-based sigmoid scores, threshold optimisation, normalisation.

A port of nab/sweeper.py, nab/optimizer.py, nab/scorer.py and the normalisation of nab/runner.py
of the Numenta Anomaly Benchmark (https://github.com/numenta/NAB, commit
ea702d75cc2258d9d7dd35ca8e5e2539d71f3140; Copyright 2014-2024 Numenta Inc., MIT license, see
data/real/nab/LICENSE.txt). The logic is NAB's, line for line where it matters (the order of
ties, the probationary period, the first and last threshold rows); only the data structures are
plain Python instead of pandas.

* Every row is scored as if it were a detection: inside a labeled window by where it lies in
  the window (scaled sigmoid, 1 at the window's left edge after normalising by the maximum,
  towards 0 at its right edge), outside a window as a false positive weighted by how far past
  the previous window it lies (-1 with no window before it), times the profile's weight.
* For a threshold, the rows with an anomaly score at or above it are detections: each window
  scores the best of its detections (-A_fn when it has none), each false positive adds its
  weighted score. The first 15 % of each file (at most 750 rows) is probationary: never scored.
* The threshold is optimised over the whole corpus (all files at once), then each file is
  scored at it; the normalised score is 100 (S - S_null) / (S_perfect - S_null), where the null
  detector's score is that of NAB's null detector (a constant 0.5) and S_perfect is the number
  of windows times A_tp.

The standard profile: A_tp = 1.0, A_fp = 0.11 (a false positive costs up to 0.11), A_fn = 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class Profile:
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD = Profile(tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
PROFILES = {
    "standard": STANDARD,
    "reward_low_FP_rate": Profile(1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile(1.0, 0.11, 2.0),
}
PROBATIONARY = "probationary"


class AnomalyPoint(NamedTuple):
    timestamp: datetime
    anomaly_score: float
    sweep_score: float
    window_name: str | None


class ThresholdScore(NamedTuple):
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total: int


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def scaled_sigmoid(relative_position: float) -> float:
    """-1 is a window's left edge (0.98661), 0 its right edge (0), > 0 past it (towards -1)."""
    if relative_position > 3.0:
        return -1.0
    return 2 * sigmoid(-5 * relative_position) - 1.0


def probationary_length(rows: int, percent: float = PROBATION_PERCENT) -> float:
    return min(math.floor(percent * rows), percent * 5000)


def sweep_scores(
    timestamps: Sequence[datetime],
    anomaly_scores: Sequence[float],
    windows: Sequence[tuple[datetime, datetime]],
    name: str,
    profile: Profile = STANDARD,
    probation_percent: float = PROBATION_PERCENT,
) -> list[AnomalyPoint]:
    """Per row: its score if it were a detection, and the window it lies in (NAB calcSweepScore)."""
    if len(timestamps) != len(anomaly_scores):
        raise ValueError("timestamps and anomaly scores differ in length")
    index = {t: i for i, t in reversed(list(enumerate(timestamps)))}  # first occurrence
    pending = list(windows)
    max_tp = scaled_sigmoid(-1.0)
    probation = probationary_length(len(timestamps), probation_percent)
    out: list[AnomalyPoint] = []
    cur: tuple[datetime, datetime] | None = None
    cur_name: str | None = None
    cur_width = 0.0
    cur_right = 0
    prev_width: float | None = None
    prev_right: int | None = None
    for i, (t, score) in enumerate(zip(timestamps, anomaly_scores, strict=True)):
        if pending and t == pending[0][0]:
            cur = pending.pop(0)
            cur_name = f"{name}|{cur[0]}"
            cur_right = index[cur[1]]
            cur_width = float(cur_right - index[cur[0]] + 1)
        if cur is not None:
            position = -(cur_right - i + 1) / cur_width
            weighted = scaled_sigmoid(position) * profile.tp_weight / max_tp
        else:
            if prev_right is None or prev_width is None:
                unweighted = -1.0
            else:
                unweighted = scaled_sigmoid(abs(prev_right - i) / (prev_width - 1))
            weighted = unweighted * profile.fp_weight
        window = cur_name if i >= probation else PROBATIONARY
        out.append(AnomalyPoint(t, float(score), weighted, window))
        if cur is not None and t == cur[1]:
            prev_right, prev_width = i, cur_width
            cur, cur_name = None, None
    return out


def scores_by_threshold(
    points: Sequence[AnomalyPoint], profile: Profile = STANDARD
) -> list[ThresholdScore]:
    """The score at every distinct threshold, from above the highest score down (NAB
    calcScoreByThreshold); the row of threshold T counts every point scoring at least T."""
    scorable = sorted(
        (p for p in points if p.window_name != PROBATIONARY),
        key=lambda p: p.anomaly_score,
        reverse=True,
    )
    parts: dict[str, float] = {"fp": 0.0}
    for p in scorable:
        if p.window_name is not None:
            parts[p.window_name] = -profile.fn_weight
    out: list[ThresholdScore] = []
    threshold = 1.1
    tn = sum(1 for p in scorable if p.window_name is None)
    fn = len(scorable) - tn
    tp = fp = 0
    for p in scorable:
        if p.anomaly_score != threshold:
            out.append(
                ThresholdScore(threshold, sum(parts.values()), tp, tn, fp, fn, tp + tn + fp + fn)
            )
            threshold = p.anomaly_score
        if p.window_name is not None:
            tp += 1
            fn -= 1
            parts[p.window_name] = max(parts[p.window_name], p.sweep_score)
        else:
            fp += 1
            tn -= 1
            parts["fp"] += p.sweep_score
    out.append(ThresholdScore(threshold, sum(parts.values()), tp, tn, fp, fn, tp + tn + fp + fn))
    return out


def score_at(rows: Sequence[ThresholdScore], threshold: float) -> ThresholdScore | None:
    """The row for `threshold` (NAB scoreDataSet): its own, or the one just above it."""
    prev = None
    for row in rows:
        if row.threshold == threshold:
            return row
        if row.threshold < threshold:
            return prev
        prev = row
    return None


@dataclass(frozen=True)
class DataFile:
    name: str  # e.g. realTweets/Twitter_volume_AAPL.csv
    timestamps: list[datetime]
    windows: list[tuple[datetime, datetime]]


@dataclass(frozen=True)
class CorpusScore:
    threshold: float
    per_file: dict[str, ThresholdScore]

    @property
    def total(self) -> float:
        return sum(r.score for r in self.per_file.values())


def optimize_threshold(
    files: Sequence[DataFile],
    scores: Mapping[str, Sequence[float]],
    profile: Profile = STANDARD,
) -> float:
    """The threshold with the best score over all files at once (NAB optimizeThreshold)."""
    points: list[AnomalyPoint] = []
    for f in files:
        points += sweep_scores(f.timestamps, scores[f.name], f.windows, f.name, profile)
    rows = scores_by_threshold(points, profile)
    best = sorted(rows, key=lambda r: r.score, reverse=True)[0]
    return best.threshold


def score_corpus(
    files: Sequence[DataFile],
    scores: Mapping[str, Sequence[float]],
    threshold: float,
    profile: Profile = STANDARD,
) -> CorpusScore:
    per_file = {}
    for f in files:
        points = sweep_scores(f.timestamps, scores[f.name], f.windows, f.name, profile)
        row = score_at(scores_by_threshold(points, profile), threshold)
        assert row is not None
        per_file[f.name] = row
    return CorpusScore(threshold, per_file)


def optimize_and_score(
    files: Sequence[DataFile], scores: Mapping[str, Sequence[float]], profile: Profile = STANDARD
) -> CorpusScore:
    return score_corpus(files, scores, optimize_threshold(files, scores, profile), profile)


def null_scores(files: Sequence[DataFile]) -> dict[str, list[float]]:
    """NAB's null detector: a constant 0.5 for every row."""
    return {f.name: [0.5] * len(f.timestamps) for f in files}


def perfect_score(files: Sequence[DataFile], profile: Profile = STANDARD) -> float:
    return profile.tp_weight * sum(len(f.windows) for f in files)


def normalized(raw: float, null: float, perfect: float) -> float:
    return 100 * (raw - null) / (perfect - null)
