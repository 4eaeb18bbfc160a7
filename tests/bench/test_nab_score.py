"""The port of NAB's scorer: hand-computed cases, and HTM's published scores reproduced."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta

import pytest

from bench import nab, nab_score
from bench.nab_score import STANDARD, DataFile
from restrictwatch.detectors.config import load_config

T0 = datetime(2020, 1, 1)


def tiny(rows: int = 20, window: tuple[int, int] = (10, 13)) -> DataFile:
    stamps = [T0 + timedelta(minutes=5 * i) for i in range(rows)]
    return DataFile("tiny.csv", stamps, [(stamps[window[0]], stamps[window[1]])])


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_one_detection_in_the_window_and_one_after_it_score_as_nab_defines() -> None:
    f = tiny()
    scores = [0.0] * 20
    scores[11] = 0.9  # inside the window of rows 10..13 (width 4): position -(13-11+1)/4
    scores[16] = 0.9  # after it: |13-16| / (4-1) = 1 window past its right edge
    row = nab_score.score_at(
        nab_score.scores_by_threshold(
            nab_score.sweep_scores(f.timestamps, scores, f.windows, f.name)
        ),
        0.9,
    )
    assert row is not None
    max_tp = 2 * sigmoid(5) - 1
    tp = (2 * sigmoid(-5 * -0.75) - 1) / max_tp
    fp = (2 * sigmoid(-5 * 1.0) - 1) * 0.11
    assert row.score == pytest.approx(tp + fp)
    assert (row.tp, row.fp, row.fn) == (1, 1, 3)


def test_probationary_rows_are_never_scored() -> None:
    f = tiny()
    scores = [0.0] * 20
    scores[2] = 1.0  # floor(0.15 * 20) = 3 rows of probation
    points = nab_score.sweep_scores(f.timestamps, scores, f.windows, f.name)
    assert [p.window_name for p in points[:3]] == ["probationary"] * 3
    row = nab_score.score_at(nab_score.scores_by_threshold(points), 1.0)
    assert row is not None and row.score == -1.0 and row.fp == 0


def test_a_perfect_detector_scores_100_and_the_null_detector_0() -> None:
    # Long enough that flagging every row costs more than missing every window, as on NAB.
    long = tiny(1000).timestamps
    files = [
        tiny(1000, (400, 409)),
        DataFile("two.csv", long, [(long[i], long[i + 9]) for i in (300, 700)]),
    ]
    perfect_scores = {}
    for f in files:
        starts = {a for a, _ in f.windows}
        perfect_scores[f.name] = [1.0 if t in starts else 0.0 for t in f.timestamps]
    null = nab_score.optimize_and_score(files, nab_score.null_scores(files)).total
    assert null == -3.0  # every window missed
    perfect = nab_score.perfect_score(files)
    best = nab_score.optimize_and_score(files, perfect_scores)
    assert best.total == pytest.approx(perfect) == 3.0
    assert nab_score.normalized(best.total, null, perfect) == pytest.approx(100.0)
    assert nab_score.normalized(null, null, perfect) == 0.0


@pytest.mark.parametrize(
    "name",
    [
        "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
        "realTraffic/occupancy_6005.csv",
        "realTweets/Twitter_volume_GOOG.csv",
    ],
)
def test_htm_s_published_score_is_reproduced_from_its_anomaly_scores(name: str) -> None:
    corpus = {s.file.name: s for s in nab.load_corpus()}
    with (nab.NAB / "numenta" / "numenta_standard_scores.csv").open(newline="") as f:
        published = next(r for r in csv.DictReader(f) if r["File"] == name)
    got = nab_score.score_corpus(
        [corpus[name].file], {name: nab.htm_scores(name)}, float(published["Threshold"]), STANDARD
    ).per_file[name]
    assert got.score == pytest.approx(float(published["Score"]), abs=1e-9)
    assert (got.tp, got.tn, got.fp, got.fn) == tuple(
        int(published[k]) for k in ("TP", "TN", "FP", "FN")
    )


def test_our_pipeline_gives_a_verdict_for_every_row_after_warm_up() -> None:
    series = next(s for s in nab.load_corpus() if s.file.name.endswith("ec2_network_in_257a54.csv"))
    run = nab.run_series(series, load_config())
    assert len(run.z) == len(series.values)
    # 3 days of warm-up at 5-minute rows (864), then every row's bin has a verdict but the last
    # three (still open at the end of the file); also the bin before the file's 10-minute gap at
    # row 1115, which the record after the gap closes together with its own.
    assert not any(run.ready[:860])
    missing = [i for i in range(863, len(run.ready)) if not run.ready[i]]
    assert missing == [4029, 4030, 4031]
