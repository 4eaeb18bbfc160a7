from __future__ import annotations

import io

import orjson

from restrictwatch.detectors.config import Config, load_config
from restrictwatch.detectors.schemas import validator
from restrictwatch.streams.replay import replay
from tests.catalogue import good_stream, stateless, with_bad_records
from tests.conftest import START, traffic


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


def test_a_batch_line_is_replayed_record_by_record_and_a_bad_record_says_its_index() -> None:
    good = [traffic(START + i * 300, 1000.0) for i in range(3)]
    bad = good[0].replace(b'"PK"', b'"XX"')
    line = b"[" + b",".join([good[0], bad, good[1], good[2]]) + b"]"
    dead = io.BytesIO()
    result = replay([line], load_config(), dead_out=dead)
    (letter,) = [orjson.loads(x) for x in dead.getvalue().splitlines()]
    assert (letter["error_type"], letter["index"], letter["line"]) == ("unknown_country", 1, 1)
    assert letter["original"].encode() == line  # the whole message, and which record of it
    validator("deadletter.v1")(letter)
    assert result.pipeline is not None and result.pipeline.totals().accepted == 3
