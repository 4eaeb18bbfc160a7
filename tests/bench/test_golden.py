"""Replay's bytes on a fast subset of the scenario library equal the recorded golden digests.

The whole library is checked with `python -m bench.golden` (a minute and a half); a change that
means to alter events re-records with `--write` and says why in its commit.
"""

from __future__ import annotations

import json

import pytest

from bench.golden import GOLDEN, digests

FAST = ["ir-week-shutdown-daily", "pk-partial-recovery-daily", "ir-curfews-hourly"]


@pytest.mark.parametrize("name", FAST)
def test_replay_writes_exactly_the_recorded_bytes(name: str) -> None:
    recorded = json.loads(GOLDEN.read_text())[name]
    assert recorded["event_messages"] > 0
    assert digests(name) == recorded
