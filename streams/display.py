"""What the command line shows: bytes from the broker safely on one line, and tables."""

from __future__ import annotations

from collections.abc import Sequence


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


def table(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] | None = None,
    rule: bool = False,
    group_first: bool = False,
) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing space: the one table
    format of the command line. `rule` draws dashes under the header; `group_first` leaves a
    first cell blank when it repeats the row above (rows grouped by it)."""
    shown = [list(r) for r in rows]
    if group_first:
        last = None
        for r in shown:
            r[0], last = ("" if r[0] == last else r[0]), r[0]
    everything = [list(header), *shown] if header is not None else shown
    if not everything:
        return ""
    widths = [max(len(r[i]) for r in everything) for i in range(len(everything[0]))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = []
    if header is not None:
        out.append(line(header))
        if rule:
            out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in shown]
    return "\n".join(out)
