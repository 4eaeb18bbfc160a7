"""The replay report: the recorder's history, the files, and what index.html links."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from matplotlib.image import imread

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.streams.cli import main
from restrictwatch.streams.replay import ReplayResult, replay
from restrictwatch.streams.report import VerdictRecorder, incidents_of, panels_for, write_report
from tests.catalogue import good_stream
from tests.conftest import START

DAY = 86400.0
BLOCK = (START + 8 * DAY, START + 8.25 * DAY)  # good_stream blocks platform x here
TOTAL = SeriesKey("traffic", "edge-cdn", "PK", None, None)
X = SeriesKey("traffic", "edge-cdn", "PK", None, "x")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def recorded(config: Config) -> tuple[ReplayResult, VerdictRecorder]:
    recorder = VerdictRecorder()
    result = replay(good_stream(), config, observe=recorder)
    return result, recorder


def test_recorder_keeps_every_closed_bin_of_every_series(
    recorded: tuple[ReplayResult, VerdictRecorder], config: Config
) -> None:
    _, recorder = recorded
    assert set(recorder.history) == {TOTAL, X}
    lines = len(good_stream())
    bins = sum(len(h.bins) for h in recorder.history.values())
    # every record is one bin of one series; the last bins stay open (lateness)
    assert lines - 2 * (config.lateness_seconds // config.bin_seconds + 1) <= bins < lines
    x = recorder.history[X]
    assert x.bins == sorted(set(x.bins))
    assert all(b - a == config.bin_seconds for a, b in zip(x.bins, x.bins[1:], strict=False))
    inside = [
        (o, e)
        for t, o, e, ready in zip(x.bins, x.observed, x.expected, x.ready, strict=True)
        if BLOCK[0] <= t < BLOCK[1] and ready
    ]
    assert inside and all(o < 0.2 * e for o, e in inside)  # the block, as the detector saw it


def test_report_has_a_picture_per_incident_a_timeline_and_an_index_linking_them(
    recorded: tuple[ReplayResult, VerdictRecorder], config: Config, tmp_path: Path
) -> None:
    result, recorder = recorded
    index = write_report(tmp_path / "report", result, config, recorder)
    incidents = incidents_of(result.events)
    assert len(incidents) == 1
    files = {p.name for p in index.parent.iterdir()}
    assert files == {"index.html", "timeline.png", f"{incidents[0].event_id}.png"}
    for name in files - {"index.html"}:
        data = (index.parent / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
        height, width, _ = imread(index.parent / name).shape
        assert width >= 600 and height >= 200, (name, width, height)
    page = index.read_text()
    images = set(re.findall(r'<img src="([^"]+)"', page))
    assert images == files - {"index.html"}
    assert f'id="{incidents[0].event_id}"' in page
    assert f'href="#{incidents[0].event_id}"' in page
    assert "platform_restriction" in page and "2023-11-23T00:00:00Z" in page  # BLOCK start


def test_an_incident_still_open_is_drawn_to_the_end_of_the_data(
    config: Config, tmp_path: Path
) -> None:
    lines = [raw for raw in good_stream() if orjson.loads(raw)["ts"] < BLOCK[0] + 3 * 3600]
    recorder = VerdictRecorder()
    result = replay(lines, config, observe=recorder)
    (incident,) = incidents_of(result.events)
    assert not incident.resolved
    index = write_report(tmp_path, result, config, recorder)
    assert (tmp_path / f"{incident.event_id}.png").stat().st_size > 10_000
    assert "still open" in index.read_text()


def test_panels_lead_with_the_country_total_then_the_evidence(
    recorded: tuple[ReplayResult, VerdictRecorder],
) -> None:
    result, recorder = recorded
    (incident,) = incidents_of(result.events)
    panels, omitted = panels_for(incident, "PK", recorder.history)
    assert [p.keys for p in panels] == [[TOTAL], [X]]
    assert panels[1].score < -3 and omitted == 0


def test_without_a_recorder_the_report_still_has_the_timeline(
    recorded: tuple[ReplayResult, VerdictRecorder], config: Config, tmp_path: Path
) -> None:
    result, _ = recorded
    index = write_report(tmp_path, result, config)
    assert {p.name for p in tmp_path.iterdir()} == {"index.html", "timeline.png"}
    assert "No series history" in index.read_text()


def test_cli_replay_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(good_stream()) + b"\n")
    report = tmp_path / "report"
    code = main(
        ["replay", str(records), "--out", str(tmp_path / "events"), "--report", str(report)]
    )
    assert code == 0
    assert capsys.readouterr().err.splitlines()[-1] == f"report: {report / 'index.html'}"
    pngs = sorted(p.name for p in report.glob("*.png"))
    assert len(pngs) == 2 and "timeline.png" in pngs
    assert all(name in (report / "index.html").read_text() for name in pngs)


@pytest.mark.parametrize("where", ["non-empty directory", "a file", "below a file"])
def test_cli_replay_checks_the_report_directory_before_replaying(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(good_stream(days=1)) + b"\n")
    events = tmp_path / "events"
    if where == "non-empty directory":
        report = tmp_path / "old-report"
        report.mkdir()
        (report / "index.html").write_text("an older report")
        says = "the directory is not empty"
    elif where == "a file":
        report = records
        says = "it exists and is not a directory"
    else:
        report = records / "report"
        says = "cannot create the report directory"
    code = main(["replay", str(records), "--out", str(events), "--report", str(report)])
    assert code == 2
    err = capsys.readouterr().err
    assert err == f"restrictwatch: error: {err.split(': error: ')[1]}"  # one line, nothing else
    assert says in err and str(report) in err
    assert not events.exists()  # nothing was replayed
    if where == "non-empty directory":
        assert (report / "index.html").read_text() == "an older report"


def test_cli_replay_report_into_an_empty_directory(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(good_stream(days=1)) + b"\n")
    report = tmp_path / "empty"
    report.mkdir()
    assert (
        main(["replay", str(records), "--out", str(tmp_path / "ev"), "--report", str(report)]) == 0
    )
    assert (report / "index.html").is_file()


def test_a_regional_incident_says_its_regions_and_its_panels_name_them(
    config: Config, tmp_path: Path
) -> None:
    from restrictwatch.detectors.simulation.render import render
    from restrictwatch.detectors.simulation.scenarios import scenario

    recorder = VerdictRecorder()
    lines = render(scenario("iq-exams-outside-kurdistan"), 1).lines
    result = replay(lines, config, observe=recorder)
    index = write_report(tmp_path / "report", result, config, recorder)
    html = index.read_text(encoding="utf-8")
    assert "<dt>regions</dt><dd>IQ-BA, IQ-BG, IQ-NI</dd>" in html
    first = incidents_of(result.events)[0]
    titles = [p.title for p in panels_for(first, "IQ", recorder.history)[0]]
    assert titles[0] == "IQ total traffic"
    assert any(t.startswith("traffic, IQ-BG") for t in titles)


def test_the_index_says_what_a_score_is_and_lists_each_incidents_record(
    recorded: tuple[ReplayResult, VerdictRecorder], config: Config, tmp_path: Path
) -> None:
    result, recorder = recorded
    index = write_report(tmp_path / "report", result, config, recorder, "records.jsonl")
    page = index.read_text()
    latest = incidents_of(result.events)[0].latest
    assert "many sigmas of the series" in page
    assert "<code>records.jsonl</code>" in page
    for field in ("detected_at", "config_version"):
        assert latest[field] in page
    assert "<dt>duration</dt><dd>~" in page
    assert "<h3>Evidence</h3>" in page and page.count("<tr>") > len(latest["evidence"])
