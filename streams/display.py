"""Bytes from the broker shown safely: one line of text, whatever the bytes are."""

from __future__ import annotations


def escaped(data: bytes | None) -> str:
    r"""`data` as one printable line: UTF-8 text kept, everything else escaped.

    A byte that is not valid UTF-8 becomes \xNN; a character that is not printable (control
    characters such as ESC or a newline, bidirectional overrides, other format characters)
    becomes \xNN, \uNNNN or \UNNNNNNNN; a backslash becomes \\, so the escaping can be told
    from the data. A record can therefore neither drive the terminal nor span two lines.

    >>> escaped(b'{"a": 1}')
    '{"a": 1}'
    >>> escaped(b"\xff\x1b[31m\n\\")
    '\\xff\\x1b[31m\\n\\\\'
    >>> escaped(None)
    '(no value)'
    """
    if data is None:
        return "(no value)"
    text = data.decode("utf-8", "surrogateescape")
    return "".join(_escape_char(c) for c in text)


_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(c: str) -> str:
    if c in _SHORT:
        return _SHORT[c]
    if c.isprintable():
        return c
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
