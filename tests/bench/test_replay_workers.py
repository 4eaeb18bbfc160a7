from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.replay_workers import AFTER, build_file, render_markdown, summarize, write_section


def test_summary_is_the_medians_and_one_over_two() -> None:
    s = summarize({1: [10.0, 30.0, 12.0], 2: [8.0, 6.0, 40.0]})
    assert s["median_1"] == 12.0
    assert s["median_2"] == 8.0
    assert s["speedup"] == pytest.approx(1.5)


def test_the_file_holds_every_scenario_side_by_side(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    countries = build_file(path, ["ng-outage-in-warmup-daily", "ir-week-shutdown-daily"])
    lines = path.read_bytes().splitlines()
    assert set(countries) == {"NG", "IR"}
    assert sum(countries.values()) == len(lines) > 0


def test_the_section_goes_right_after_the_core_section_and_is_replaced(tmp_path: Path) -> None:
    md = tmp_path / "B.md"
    md.write_text(
        f"# B\n\n<!-- perf:start -->\n### Core\n\nrow\n{AFTER}\n\n<!-- soak:start -->\nx\n"
    )
    text = render_markdown(Counter({"IR": 3, "RU": 1}), ["a", "b"], {1: [4.0], 2: [2.0]}, True)
    assert "2 countries, 4 records (IR 3, RU 1)" in text
    assert "0.50 of one's time (2.00x as fast)" in text
    write_section(text, md)
    write_section(text.replace("yes", "maybe"), md)
    out = md.read_text()
    assert out.count("replay-workers:start") == 1
    assert out.index(AFTER) < out.index("replay-workers:start") < out.index("soak:start")
    assert "maybe" in out
