from __future__ import annotations

import io

import orjson

from restrictwatch.detectors.config import Config
from restrictwatch.streams.replay import replay
from tests.catalogue import good_stream, stateless, with_bad_records


def test_catalogue_is_large_enough() -> None:
    assert len(stateless(0)) + 3 >= 25
    assert len({b.name for b in stateless(0)}) == len(stateless(0))


def test_every_bad_record_is_dead_lettered_with_its_reason_and_nothing_else_changes(
    config: Config,
) -> None:
    good = good_stream()
    mixed, bad = with_bad_records(good)
    clean = replay(good, config)
    dead = io.BytesIO()
    dirty = replay(mixed, config, dead_out=dead)
    letters = [orjson.loads(line) for line in dead.getvalue().splitlines()]
    assert [(d["error_type"]) for d in letters] == [b.error_type for b in bad], [
        (b.name, d["reason"]) for b, d in zip(bad, letters, strict=False)
    ]
    for b, d in zip(bad, letters, strict=True):
        assert d["reason"], b.name
        import base64

        assert base64.b64decode(d["original_b64"]) == b.raw
    assert clean.events and dirty.events == clean.events
    assert [e["status"] for e in clean.events] == ["open", "resolved"]
    assert dirty.pipeline is not None and sum(dirty.pipeline.totals().rejected.values()) == len(bad)
