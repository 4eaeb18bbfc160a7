from __future__ import annotations

from typing import Any

from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.correlate import Observation
from restrictwatch.detectors.incidents import IncidentBook
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.schemas import validator
from restrictwatch.detectors.series import Verdict
from restrictwatch.detectors.vocabulary import OUTAGE, RESTRICTION, THROTTLING

CFG = load_config()
B = CFG.bin_seconds
T0 = 1_702_825_200.0  # 2023-12-17T15:00:00Z


def bad(platform: str = "x", kind: str = RESTRICTION) -> Observation:
    v = Verdict(SeriesKey("traffic", "cdn", "PK", None, platform), 20, 100, -15, True)
    return Observation(True, kind, [v])


def run(steps: list[dict[tuple[Any, ...], Observation]], start: float = T0) -> list[dict[str, Any]]:
    book = IncidentBook("PK")
    out: list[dict[str, Any]] = []
    for i, obs in enumerate(steps):
        out += book.step(start + i * B, obs, CFG)  # type: ignore[arg-type]
    return out


X = ("platform", None, "x", None)
YT = ("platform", None, "youtube", None)
OK = Observation(False)


def test_one_bad_bin_opens_nothing() -> None:
    assert run([{X: bad()}, {X: OK}, {X: OK}, {X: OK}]) == []


def test_opens_after_two_bins_and_resolves_after_three_normal() -> None:
    msgs = run([{X: bad()}, {X: bad()}, {X: bad()}, {X: OK}, {X: OK}, {X: OK}])
    assert [m["status"] for m in msgs] == ["open", "resolved"]
    opened, resolved = msgs
    assert opened["started_at"] == "2023-12-17T15:00:00Z"
    assert opened["detected_at"] == "2023-12-17T15:10:00Z"  # end of the confirming bin
    assert resolved["ended_at"] == "2023-12-17T15:15:00Z"  # first normal bin
    assert opened["event_id"] == resolved["event_id"]
    assert (opened["seq"], resolved["seq"]) == (0, 1)
    for m in msgs:
        validator("event.v1")(m)


def test_bins_without_evidence_hold_the_state() -> None:
    msgs = run([{X: bad()}, {}, {X: bad()}, {}, {}, {}, {}, {X: OK}, {X: OK}, {}, {X: OK}])
    assert [m["status"] for m in msgs] == ["open", "resolved"]


def test_flapping_inside_the_resolve_window_stays_one_incident() -> None:
    msgs = run([{X: bad()}, {X: bad()}, {X: OK}, {X: bad()}, {X: OK}, {X: OK}, {X: OK}])
    assert [m["status"] for m in msgs] == ["open", "resolved"]


def test_platforms_starting_together_fold_into_one_event() -> None:
    msgs = run(
        [{X: bad()}, {X: bad(), YT: bad("youtube")}, {X: bad(), YT: bad("youtube")}]
        + [{X: OK, YT: OK}] * 3
    )
    assert [m["status"] for m in msgs] == ["open", "update", "resolved"]
    assert msgs[1]["platforms"] == ["x", "youtube"]
    assert len({m["event_id"] for m in msgs}) == 1


def test_far_apart_onsets_are_separate_incidents() -> None:
    nf = ("platform", None, "netflix", None)  # shares no group with x
    steps: list[dict[tuple[Any, ...], Observation]] = [{X: bad()}] * 13  # beyond the 1 h window
    steps += [{X: bad(), nf: bad("netflix")}] * 3
    msgs = run(steps)
    assert len({m["event_id"] for m in msgs}) == 2


def test_platforms_of_one_group_fold_over_the_longer_window() -> None:
    steps: list[dict[tuple[Any, ...], Observation]] = [{X: bad()}] * 13
    steps += [{X: bad(), YT: bad("youtube")}] * 3  # both in the 'social' group
    msgs = run(steps)
    assert len({m["event_id"] for m in msgs}) == 1
    assert msgs[-1]["platforms"] == ["x", "youtube"]


def test_an_outage_and_a_long_block_run_side_by_side() -> None:
    mob = ("outage", 45669, None, None)
    steps: list[dict[tuple[Any, ...], Observation]] = [{X: bad()}] * 20
    steps += [{X: bad(), mob: Observation(True, OUTAGE, [])}] * 5
    steps += [{X: bad(), mob: OK}] * 4
    msgs = run(steps)
    kinds = [(m["kind"], m["status"]) for m in msgs]
    assert kinds == [(RESTRICTION, "open"), (OUTAGE, "open"), (OUTAGE, "resolved")]


def test_throttling_that_deepens_becomes_a_restriction() -> None:
    msgs = run([{X: bad(kind=THROTTLING)}] * 3 + [{X: bad()}] * 2)
    assert [(m["status"], m["kind"]) for m in msgs] == [
        ("open", THROTTLING),
        ("update", RESTRICTION),
    ]


def test_event_ids_are_deterministic() -> None:
    steps = [{X: bad()}] * 3
    assert run(steps)[0]["event_id"] == run(steps)[0]["event_id"]
    assert run(steps)[0]["event_id"] != run(steps, start=T0 + B)[0]["event_id"]
