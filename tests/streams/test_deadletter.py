"""Dead-letter headers: the reason and the record's origin travel beside the original bytes."""

from __future__ import annotations

from restrictwatch.detectors.records import Rejection
from restrictwatch.streams.deadletter import DeadLetter, deadletter_headers
from restrictwatch.streams.handler import Inbound


def test_headers_carry_error_type_reason_stage_and_source_position() -> None:
    inbound = Inbound("rw.traffic.v1", 3, 1234, b"PK", b'{"signal": "traffic"}')
    headers = deadletter_headers(inbound, Rejection("schema", "'ts' is a required property"))
    assert headers == [
        ("rw-error-type", b"schema"),
        ("rw-reason", b"'ts' is a required property"),
        ("rw-stage", b"decode"),
        ("rw-source-topic", b"rw.traffic.v1"),
        ("rw-source-partition", b"3"),
        ("rw-source-offset", b"1234"),
    ]


def test_a_reason_is_utf8_and_bounded() -> None:
    inbound = Inbound("rw.reachability.v1", 0, 0, None, b"\xff")
    headers = dict(deadletter_headers(inbound, Rejection("json", "bad ünïcode " + "x" * 10_000)))
    assert headers["rw-reason"].startswith("bad ünïcode ".encode())
    assert len(headers["rw-reason"]) == 4096
    assert headers["rw-stage"] == b"decode"


def test_a_long_reason_is_cut_between_characters() -> None:
    inbound = Inbound("rw.traffic.v1", 0, 0, None, b"")
    headers = dict(deadletter_headers(inbound, Rejection("schema", "x" + "ü" * 3000)))
    assert headers["rw-reason"].decode("utf-8").endswith("ü")
    assert len(headers["rw-reason"]) == 4095


def test_a_dead_letter_reads_back_from_its_headers_as_one_line() -> None:
    inbound = Inbound("rw.traffic.v1", 3, 1234, b"PK", b"{not json\n\x1b[31m\xff")
    headers = deadletter_headers(inbound, Rejection("json", "unexpected character: line 1"))
    letter = DeadLetter.of(headers, inbound.key, inbound.value)
    assert letter.matches({"json"}, set()) and letter.matches(set(), {"rw.traffic.v1"})
    assert not letter.matches({"schema"}, set())
    assert not letter.matches({"json"}, {"rw.reachability.v1"})
    assert letter.line() == (
        "rw.traffic.v1[3]@1234  json/decode  unexpected character: line 1  key: PK  "
        "original: {not json\\n\\x1b[31m\\xff"
    )


def test_a_dead_letter_as_json_keeps_the_bytes_exactly() -> None:
    inbound = Inbound("rw.reachability.v1", 0, 7, None, b"\xff\xfe")
    letter = DeadLetter.of(
        deadletter_headers(inbound, Rejection("encoding", "not UTF-8")), None, b"\xff\xfe"
    )
    assert letter.as_dict() == {
        "error_type": "encoding",
        "reason": "not UTF-8",
        "stage": "decode",
        "source_topic": "rw.reachability.v1",
        "source_partition": 0,
        "source_offset": 7,
        "key_b64": None,
        "original_b64": "//4=",
    }
    text = DeadLetter.of([], None, b"ok").as_dict()
    assert text["original"] == "ok" and text["original_b64"] == "b2s="


def test_a_record_without_our_headers_or_with_hostile_ones_still_prints() -> None:
    assert DeadLetter.of([], None, None).line() == "?[?]@?  ?/?  (no reason)  original: (no value)"
    hostile = [("rw-reason", b"\x1b]0;owned\x07"), ("rw-source-topic", b"t\nx"), ("rw-stage", None)]
    line = DeadLetter.of(hostile, b"\x00", b"v").line()
    assert line == "t\\nx[?]@?  ?/?  \\x1b]0;owned\\x07  key: \\x00  original: v"
    assert (
        DeadLetter.of([("rw-source-offset", b"12a")], None, b"").as_dict()["source_offset"] is None
    )


def test_a_record_of_a_batch_carries_its_index_in_a_header_and_back() -> None:
    from restrictwatch.detectors.records import Rejection
    from restrictwatch.streams.deadletter import DeadLetter, deadletter_headers
    from restrictwatch.streams.handler import Inbound

    inbound = Inbound("rw.traffic.v1", 2, 17, b"PK", b"[{},{}]")
    headers = deadletter_headers(inbound, Rejection("schema", "bad", "validate", index=1))
    assert ("rw-index", b"1") in headers
    letter = DeadLetter.of(headers, inbound.key, inbound.value)
    assert letter.index == "1" and letter.as_dict()["index"] == 1
    assert "rw.traffic.v1[2]@17 record 1" in letter.line()
    plain = deadletter_headers(inbound, Rejection("schema", "bad", "validate"))
    assert all(name != "rw-index" for name, _ in plain)
