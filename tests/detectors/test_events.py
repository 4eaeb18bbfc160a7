from __future__ import annotations

from detectors.events import summarize

T0 = 1_700_000_000.0


def test_a_summary_names_the_platforms_or_says_all_traffic() -> None:
    assert (
        summarize("platform_restriction", "PK", [], ["X", "YouTube"], T0, T0 + 7 * 3600)
        == "X and YouTube restricted in Pakistan (PK) for ~7 h"
    )
    # Country or network throttling has no platform: the whole traffic is slowed.
    assert summarize("throttling", "IR", [], [], T0, T0 + 10 * 86400).startswith(
        "All traffic throttled in Iran"
    )
    assert summarize("throttling", "NG", [29465], [], T0, None).startswith(
        "All traffic throttled on AS29465 in Nigeria (NG) since"
    )
