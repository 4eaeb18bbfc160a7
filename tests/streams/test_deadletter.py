"""Dead-letter headers: the reason and the record's origin travel beside the original bytes."""

from __future__ import annotations

from detectors.records import Rejection
from streams.deadletter import deadletter_headers
from streams.handler import Inbound


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
