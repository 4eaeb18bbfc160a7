"""Bytes shown safely: one printable line, nothing that drives a terminal, escaping unambiguous."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from restrictwatch.streams.display import escaped


def test_utf8_text_is_kept_as_it_is() -> None:
    assert escaped(b'{"country": "PK", "note": "\xc3\xbcber \xe2\x82\xac"}') == (
        '{"country": "PK", "note": "über €"}'
    )


def test_bytes_that_are_not_utf8_become_hex_escapes() -> None:
    assert escaped(b"\xff\xfeok\xc3") == "\\xff\\xfeok\\xc3"


def test_control_and_format_characters_are_escaped() -> None:
    assert escaped(b"\x1b[2J\x07\x00") == "\\x1b[2J\\x07\\x00"
    assert escaped(b"a\nb\r\tc") == "a\\nb\\r\\tc"
    assert escaped("evil\u202egnp.exe\u2028".encode()) == "evil\\u202egnp.exe\\u2028"
    assert escaped("\U000e0041".encode()) == "\\U000e0041"  # a tag character


def test_a_backslash_in_the_data_is_told_from_an_escape() -> None:
    assert escaped(b"\\xff") == "\\\\xff"
    assert escaped(b"\xff") == "\\xff"


def test_no_value_is_said_so() -> None:
    assert escaped(None) == "(no value)"
    assert escaped(b"") == ""


@given(st.binary(max_size=64))
def test_any_bytes_give_one_printable_line(data: bytes) -> None:
    shown = escaped(data)
    assert shown.isprintable()
    assert "\n" not in shown and "\x1b" not in shown


@given(st.binary(max_size=64))
def test_different_bytes_are_shown_differently(data: bytes) -> None:
    assert escaped(data + b"\\") != escaped(data + b"\\\\")
    assert escaped(data) == escaped(bytes(data))
