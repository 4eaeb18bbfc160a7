"""The merge's decisions (streams/merge.py), case by case."""

from __future__ import annotations

import pytest

from restrictwatch.streams.merge import (
    MAX_WAIT_SECONDS,
    Wait,
    first_topic,
    topics_behind,
    wait_for,
)

IDLE, LATENESS = 1.0, 600.0


@pytest.mark.parametrize(
    ("lead", "waited", "backlog", "decision", "why"),
    [
        (10, 0.5, None, Wait.WAIT, "a little behind, nothing known: the short wait"),
        (10, 1.5, None, Wait.GO, "a little behind, the short wait ran out"),
        (10, 0.5, False, Wait.WAIT, "caught up: still the short wait"),
        (9999, 1.5, False, Wait.GO, "far behind but seen caught up: silent at its source"),
        (10, 1.5, True, Wait.WAIT, "a backlog on the broker: the long wait"),
        (9999, 1.5, None, Wait.WAIT, "far behind and not known to be caught up: the long wait"),
        (9999, MAX_WAIT_SECONDS - 0.1, True, Wait.WAIT, "the long wait, nearly out"),
        (9999, MAX_WAIT_SECONDS, True, Wait.GIVE_UP, "a topic that never delivers gives way"),
        (LATENESS, 1.5, None, Wait.GO, "exactly the lateness behind is not far"),
    ],
)
def test_how_long_an_empty_topic_holds_the_other_back(
    lead: float, waited: float, backlog: bool | None, decision: Wait, why: str
) -> None:
    assert wait_for(lead, waited, backlog, IDLE, LATENESS) is decision, why


def test_the_oldest_head_goes_first_and_a_tie_goes_to_the_first_topic() -> None:
    order = ("traffic", "reachability")
    assert first_topic({"traffic": 5.0, "reachability": 3.0}, order) == "reachability"
    assert first_topic({"traffic": 3.0, "reachability": 3.0}, order) == "traffic"


def test_only_an_empty_topic_not_yet_past_the_head_is_behind() -> None:
    order = ("traffic", "reachability", "extra")
    heads = {"traffic": 100.0}
    newest = {"traffic": 100.0, "reachability": 150.0, "extra": 50.0}
    assert topics_behind(order, heads, newest, 100.0) == ["extra"]
    assert topics_behind(order, heads, {}, 100.0) == ["reachability", "extra"]  # never heard of
