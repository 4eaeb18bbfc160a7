"""When a partition's checkpoint is due (streams/checkpoints.py), case by case."""

from __future__ import annotations

import pytest

from restrictwatch.streams.checkpoints import Checkpoints

BIN, EVERY = Checkpoints("bin", 100, 1.0), Checkpoints("interval", 100, 1.0)


@pytest.mark.parametrize(
    ("policy", "elapsed", "pause", "records", "bin_evaluated", "due", "why"),
    [
        (Checkpoints("record"), 0.0, 9.0, 1, False, True, "per record: always, pause or not"),
        (BIN, 0.1, 0.0, 1, True, True, "per bin: a bin was evaluated"),
        (BIN, 0.1, 0.0, 1, False, False, "per bin: no bin, not yet the timer"),
        (BIN, 0.1, 0.5, 1, True, False, "a bin, but inside the pause after the last one"),
        (BIN, 0.1, 0.0, 100, False, True, "every N records"),
        (BIN, 1.0, 0.0, 1, False, True, "the timer"),
        (EVERY, 0.1, 0.0, 1, True, False, "per interval: a bin is not enough"),
        (EVERY, 1.0, 0.0, 1, False, True, "per interval: the timer"),
        (EVERY, 0.5, 0.8, 100, False, False, "N records, but inside the pause"),
    ],
)
def test_when_a_checkpoint_is_due(
    policy: Checkpoints,
    elapsed: float,
    pause: float,
    records: int,
    bin_evaluated: bool,
    due: bool,
    why: str,
) -> None:
    got = policy.due(elapsed=elapsed, pause=pause, records=records, bin_evaluated=bin_evaluated)
    assert got is due, why


def test_the_pause_keeps_checkpoints_within_their_share_of_the_time() -> None:
    cost = 0.02
    pause = Checkpoints(max_share=0.1).pause_after(cost)
    assert cost / (cost + pause) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="checkpoint_max_share"):
        Checkpoints(max_share=0)
