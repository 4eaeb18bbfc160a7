"""Every matching rule of detectors.evaluation, on small hand-made events and truths."""

from __future__ import annotations

from typing import Any

import pytest

from restrictwatch.detectors.evaluation import ALL, FALSE, MISSED, Quality, evaluate, percentile
from restrictwatch.detectors.events import iso
from restrictwatch.detectors.schemas import validator
from restrictwatch.detectors.vocabulary import OUTAGE, RESTRICTION, THROTTLING

T0 = 1_704_103_200.0  # 2024-01-01T10:00:00Z
HOUR = 3600.0


def at(hours: float) -> str:
    return iso(T0 + hours * HOUR)


def event(
    eid: str = "a",
    kind: str = RESTRICTION,
    start: float = 0.0,
    end: float | None = 2.0,
    detected: float | None = None,
    country: str = "PK",
    asns: tuple[int, ...] = (),
    platforms: tuple[str, ...] = ("x",),
    seq: int | None = None,
) -> dict[str, Any]:
    """A schema-valid event message; `end` None is an event still open."""
    if kind == OUTAGE:
        platforms = ()
    detected = start + 1 / 6 if detected is None else detected
    m = {
        "schema": "restrictwatch.event.v1",
        "event_id": f"rw-{country}-20240101T1000Z-{eid.encode().hex()[:8].ljust(8, '0')}",
        "seq": (0 if end is None else 1) if seq is None else seq,
        "status": "open" if end is None else "resolved",
        "kind": kind,
        "country": country,
        "asns": list(asns),
        "platforms": list(platforms),
        "started_at": at(start),
        "detected_at": at(detected),
        "ended_at": None if end is None else at(end),
        "emitted_at": at(detected if end is None else end),
        "severity": 0.8,
        "confidence": 0.9,
        "evidence": [],
        "summary": "test",
        "config_version": "test",
    }
    validator("event.v1")(m)
    return m


def truth(
    kind: str = RESTRICTION,
    start: float = 0.0,
    end: float = 2.0,
    country: str = "PK",
    asns: tuple[int, ...] = (),
    platforms: tuple[str, ...] = ("x",),
    label: str = "incident",
) -> dict[str, Any]:
    row = {
        "scenario": "hand-made",
        "label": label,
        "kind": kind,
        "country": country,
        "asns": list(asns),
        "platforms": [] if kind == OUTAGE else list(platforms),
        "start": at(start),
        "end": at(end),
    }
    validator("truth.v1")(row)
    return row


def score(
    events: list[dict[str, Any]], rows: list[dict[str, Any]], **kw: Any
) -> dict[str, dict[str, float | None]]:
    return evaluate(events, rows, **kw).summary()


def test_an_exact_match_scores_perfectly_with_delay_in_seconds_and_bins() -> None:
    s = score([event(start=0.25, end=2.5, detected=0.5)], [truth(start=0, end=2)])
    assert s[ALL]["recall"] == 1.0 and s[ALL]["precision"] == 1.0 and s[ALL]["f1"] == 1.0
    assert s[ALL]["delay_median_s"] == 1800.0
    assert s[ALL]["delay_median_bins"] == 6.0
    assert s[ALL]["start_error_median_s"] == 900.0
    assert s[ALL]["end_error_median_s"] == 1800.0
    assert s[RESTRICTION]["platform_jaccard"] == 1.0
    assert s[ALL]["events_per_incident"] == 1.0


def test_no_time_overlap_is_a_miss_and_a_false_event() -> None:
    q = evaluate(
        [event(start=2.0, end=3.0)], [truth(start=0, end=2)]
    )  # touching is not overlapping
    s = q.summary()[ALL]
    assert (s["recall"], s["precision"], s["f1"]) == (0.0, 0.0, 0.0)
    assert q.confusion[RESTRICTION][MISSED] == 1
    assert q.confusion[FALSE][RESTRICTION] == 1


def test_a_different_country_does_not_match() -> None:
    s = score([event(country="IR")], [truth(country="PK")])[ALL]
    assert s["recall"] == 0.0 and s["false_events"] == 1


def test_an_outage_event_does_not_match_a_platform_incident() -> None:
    q = evaluate([event(kind=OUTAGE)], [truth(kind=RESTRICTION)])
    assert q.summary()[ALL]["recall"] == 0.0
    assert q.confusion[RESTRICTION][MISSED] == 1
    assert q.confusion[FALSE][OUTAGE] == 1


def test_throttling_for_a_restriction_counts_as_found_but_wrong_kind() -> None:
    q = evaluate([event(kind=THROTTLING)], [truth(kind=RESTRICTION)])
    s = q.summary()
    assert s[ALL]["recall"] == 1.0 and s[ALL]["precision"] == 1.0
    assert s[ALL]["kind_accuracy"] == 0.0
    assert s[THROTTLING]["precision"] == 1.0  # precision by the event's own kind
    assert q.confusion[RESTRICTION][THROTTLING] == 1
    assert RESTRICTION not in q.confusion.get(RESTRICTION, {})


def test_platform_scope_must_intersect() -> None:
    s = score([event(platforms=("youtube",))], [truth(platforms=("x", "facebook"))])[ALL]
    assert s["recall"] == 0.0 and s["false_events"] == 1
    s = score(
        [event(platforms=("x", "youtube"))], [truth(platforms=("x", "facebook", "instagram"))]
    )[ALL]
    assert s["recall"] == 1.0
    assert s["platform_jaccard"] == pytest.approx(1 / 4)


def test_outage_asn_scopes() -> None:
    # disjoint networks: no match
    s = score([event(kind=OUTAGE, asns=(3,))], [truth(kind=OUTAGE, asns=(1, 2))])[ALL]
    assert s["recall"] == 0.0
    # overlapping networks: a match, scored by Jaccard
    s = score([event(kind=OUTAGE, asns=(2, 3))], [truth(kind=OUTAGE, asns=(1, 2))])[ALL]
    assert s["recall"] == 1.0 and s["asn_jaccard"] == pytest.approx(1 / 3)
    # empty means every network: country-wide event for a mobile outage matches, scope is wrong
    s = score([event(kind=OUTAGE, asns=())], [truth(kind=OUTAGE, asns=(1, 2))])[ALL]
    assert s["recall"] == 1.0 and s["asn_jaccard"] == 0.0
    s = score([event(kind=OUTAGE, asns=(1,))], [truth(kind=OUTAGE, asns=())])[ALL]
    assert s["recall"] == 1.0 and s["asn_jaccard"] == 0.0
    s = score([event(kind=OUTAGE)], [truth(kind=OUTAGE)])[ALL]
    assert s["asn_jaccard"] == 1.0


def test_platform_events_on_other_networks_do_not_match() -> None:
    s = score([event(asns=(5,))], [truth(asns=(4,))])[ALL]
    assert s["recall"] == 0.0


def test_fragmented_detection_counts_every_fragment_as_true() -> None:
    events = [
        event("a", start=0.0, end=1.0, detected=0.25),
        event("b", start=1.5, end=3.0, detected=1.75),
        event("c", start=2.5, end=4.0, platforms=("youtube",)),  # other platform: false
    ]
    q = evaluate(events, [truth(start=0, end=3)])
    s = q.summary()[ALL]
    assert s["recall"] == 1.0
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["events_per_incident"] == 2.0
    assert s["delay_median_s"] == 900.0  # the first fragment's detected_at
    assert s["start_error_median_s"] == 0.0 and s["end_error_median_s"] == 0.0


def test_one_event_across_two_incidents_detects_only_one() -> None:
    rows = [truth(start=0, end=2, label="day 1"), truth(start=24, end=26, label="day 2")]
    q = evaluate([event(start=0, end=26)], rows)
    s = q.summary()[ALL]
    assert s["recall"] == 0.5 and s["precision"] == 1.0
    assert [m["label"] for m in q.missed] == ["day 2"]  # equal overlap: the nearest start wins


def test_assignment_prefers_the_same_kind() -> None:
    rows = [truth(kind=THROTTLING, start=0, end=4, label="slow"), truth(start=1, end=3)]
    q = evaluate([event(kind=RESTRICTION, start=0, end=4)], rows)
    assert [m["label"] for m in q.missed] == ["slow"]


def test_an_event_during_a_benign_episode_is_false_and_says_so() -> None:
    rows = [truth(kind="benign", start=0, end=24, platforms=(), label="holiday dip")]
    q = evaluate([event(kind=OUTAGE, start=3, end=5)], rows, country_days=14)
    s = q.summary()[ALL]
    assert s["incidents"] == 0 and s["recall"] is None and s["f1"] is None
    assert s["precision"] == 0.0
    assert s["false_in_benign"] == 1
    assert s["false_per_country_week"] == 0.5
    assert q.false[0]["benign"] == "holiday dip"


def test_a_benign_row_for_every_country_covers_them_all() -> None:
    rows = [truth(kind="benign", platforms=(), label="feed fault")]
    rows[0]["country"] = "*"  # what the simulator writes for a fault of the whole feed
    q = evaluate([event(country="MM")], rows)
    assert q.false[0]["benign"] == "feed fault"


def test_open_events_last_until_the_end_of_the_data() -> None:
    rows = [truth(start=0, end=10)]
    q = evaluate([event(start=0.5, end=None)], rows, horizon=T0 + 12 * HOUR)
    s = q.summary()[ALL]
    assert s["recall"] == 1.0
    assert s["end_error_median_s"] == 2 * HOUR
    # an open event overlaps an incident that begins long after it opened
    s = score([event(start=0.0, end=None)], [truth(start=30, end=31)], horizon=T0 + 40 * HOUR)[ALL]
    assert s["recall"] == 1.0 and s["delay_median_s"] < 0
    # without a horizon the end of data is the latest time either file mentions
    s = score([event(start=0.5, end=None)], [truth(start=0, end=10)])[ALL]
    assert s["end_error_median_s"] == 0.0


def test_the_final_state_is_the_highest_seq_whatever_the_order() -> None:
    first = event(platforms=("youtube",), end=None, seq=0)
    last = event(platforms=("x",), end=2.0, seq=2)
    middle = event(platforms=("x", "youtube"), end=None, seq=1)
    q = evaluate([last, first, middle, first], [truth(platforms=("x",))])
    s = q.summary()[ALL]
    assert s["events"] == 1 and s["recall"] == 1.0 and s["platform_jaccard"] == 1.0


def test_no_events_gives_zero_f1_and_no_false_rate_without_country_days() -> None:
    s = score([], [truth()])[ALL]
    assert (s["recall"], s["precision"], s["f1"]) == (0.0, None, 0.0)
    assert s["false_per_country_week"] is None


def test_results_merge_over_runs() -> None:
    a = evaluate([event(start=0, detected=0.5)], [truth()], country_days=7)
    b = evaluate(
        [event("b", start=0, detected=1.0), event("c", start=20, end=21)],
        [truth(), truth(start=40, end=41)],
        country_days=7,
    )
    m = a.merge(b)
    s = m.summary()[ALL]
    assert (s["incidents"], s["detected"], s["events"], s["false_events"]) == (3, 2, 3, 1)
    assert s["false_per_country_week"] == 0.5
    assert s["delay_median_s"] == 1800.0 and s["delay_p95_s"] == 3600.0
    assert m.confusion[RESTRICTION] == {RESTRICTION: 2, MISSED: 1}
    assert Quality(country_days=None).merge(a).country_days is None


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) is None


def test_as_dict_is_plain_data() -> None:
    d = evaluate([event()], [truth()], country_days=7).as_dict()
    assert d["kinds"][ALL]["f1"] == 1.0
    assert d["confusion"] == {RESTRICTION: {RESTRICTION: 1}}
    assert d["missed"] == [] and d["false_events"] == []
