"""A catalogue of malformed and unusable records, and a stream to hide them in.

Shared by the replay tests and the broker tests: every entry must end in dead letters with its
reason, and the good records around it must give exactly the events they give alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from tests.conftest import START, diurnal, traffic

DAY = 86400


@dataclass(frozen=True)
class BadRecord:
    name: str
    raw: bytes
    error_type: str


def _t(at: float, **over: Any) -> bytes:
    rec: dict[str, Any] = {
        "signal": "traffic",
        "ts": at,
        "country": "PK",
        "value": 100.0,
        "source": "edge-cdn",
    }
    rec.update(over)
    return json.dumps({k: v for k, v in rec.items() if v is not _DROP}, allow_nan=True).encode()


def _r(at: float, **over: Any) -> bytes:
    rec: dict[str, Any] = {
        "signal": "reachability",
        "ts": at,
        "country": "PK",
        "platform": "x",
        "asn": 17557,
        "probes": 40,
        "ok": 39,
        "failures": {"timeout": 1},
        "source": "probe-mesh",
    }
    rec.update(over)
    return json.dumps({k: v for k, v in rec.items() if v is not _DROP}).encode()


_DROP = object()


def stateless(ts: float) -> list[BadRecord]:
    """Records that are bad whatever came before them."""
    return [
        BadRecord("truncated json", _t(ts)[:-5], "json"),
        BadRecord("trailing garbage", _t(ts) + b"}}", "json"),
        BadRecord("batch of a non-record", b"[1]", "schema"),  # a batch, its one record bad
        BadRecord("json scalar", b"42", "schema"),
        BadRecord("json null", b"null", "schema"),
        BadRecord("missing signal", _t(ts, signal=_DROP), "schema"),
        BadRecord("unknown signal", _t(ts, signal="bgp"), "schema"),
        BadRecord("missing ts", _t(ts, ts=_DROP), "schema"),
        BadRecord("missing country", _t(ts, country=_DROP), "schema"),
        BadRecord("missing value", _t(ts, value=_DROP), "schema"),
        BadRecord("missing probes", _r(ts, probes=_DROP), "schema"),
        BadRecord("value as string", _t(ts, value="100"), "schema"),
        BadRecord("asn as string", _t(ts, asn="AS17557"), "schema"),
        BadRecord("probes as float", _r(ts, probes=40.5), "schema"),
        BadRecord("boolean value", _t(ts, value=True), "schema"),
        BadRecord("NaN value", _t(ts, value=float("nan")), "json"),
        BadRecord("infinite value", _t(ts, value=float("inf")), "json"),
        BadRecord("overflowing number", _t(ts)[:-1] + b',"x":1e999}', "json"),
        BadRecord("negative value", _t(ts, value=-5.0), "schema"),
        BadRecord("zero probes", _r(ts, probes=0, ok=0, failures={}), "schema"),
        BadRecord("ok above probes", _r(ts, ok=41), "invalid_value"),
        BadRecord(
            "failures above probes - ok", _r(ts, ok=30, failures={"tls": 20}), "invalid_value"
        ),
        BadRecord("unknown failure layer", _r(ts, failures={"quic": 1}), "schema"),
        BadRecord("ts in 2150", _t(ts, ts="2150-01-01T00:00:00Z"), "future"),
        BadRecord("ts in 1990", _t(ts, ts=631152000), "schema"),
        BadRecord("ts not a time", _t(ts, ts="2023-13-45T99:00:00Z"), "schema"),
        BadRecord("unknown country", _t(ts, country="ZZ"), "unknown_country"),
        BadRecord("lower-case country", _t(ts, country="pk"), "schema"),
        BadRecord("asn zero", _t(ts, asn=0), "schema"),
        BadRecord("platform with spaces", _t(ts, platform="you tube"), "schema"),
        BadRecord("region not ISO 3166-2", _t(ts, region="Punjab"), "schema"),
        BadRecord("region of another country", _t(ts, region="IN-PB"), "unknown_region"),
        BadRecord("region that does not exist", _t(ts, region="PK-ZZ"), "unknown_region"),
        BadRecord("unknown field", _t(ts, province="Punjab"), "schema"),
        BadRecord("oversized", _t(ts)[:-1] + b',"pad":"' + b"x" * 70_000 + b'"}', "too_large"),
        BadRecord("binary garbage", bytes(range(256)) * 2, "encoding"),
        BadRecord(
            "latin-1 text", '{"signal":"traffic","source":"café"}'.encode("latin-1"), "encoding"
        ),
        BadRecord("utf-16 json", _t(ts).decode().encode("utf-16"), "encoding"),
        BadRecord("empty message", b"", "empty"),
        BadRecord("whitespace only", b"  \t ", "empty"),
        BadRecord("deeply nested", b"[" * 2000 + b"]" * 2000, "json"),
    ]


def good_stream(days: float = 9) -> list[bytes]:
    """Country total and one platform, with a 6 h block of the platform on day 8."""
    block = (START + 8 * DAY, START + 8.25 * DAY)
    out: list[bytes] = []
    t = START
    while t < START + days * DAY:
        out.append(traffic(t, diurnal(t, 100_000)))
        factor = 0.1 if block[0] <= t < block[1] else 1.0
        out.append(traffic(t, diurnal(t, 5_000) * factor, platform="x"))
        t += 300
    return out


def with_bad_records(good: list[bytes]) -> tuple[list[bytes], list[BadRecord]]:
    """Interleave the catalogue, plus records that are bad only in context, into a good stream."""
    mixed: list[bytes] = []
    bad: list[BadRecord] = []
    every = max(1, len(good) // 60)
    pending = stateless(START)
    for i, raw in enumerate(good):
        mixed.append(raw)
        if i and i % every == 0 and pending:
            entry = pending.pop()
            mixed.append(entry.raw)
            bad.append(entry)
        if i == 1000:
            dup = BadRecord("exact duplicate", raw, "duplicate")
            mixed.append(dup.raw)
            bad.append(dup)
        if i == 2000:
            ts = orjson.loads(raw)["ts"]
            late = BadRecord("late beyond the allowance", traffic(ts - 7200, 1.0), "late")
            future = BadRecord("ten days ahead", traffic(ts + 10 * DAY, 1.0), "future")
            mixed += [late.raw, future.raw]
            bad += [late, future]
        if i == 2500:
            ts = orjson.loads(raw)["ts"]
            # Out of order but inside the allowance: used, not rejected.
            mixed.append(traffic(ts - 300, 7.0, platform="whatsapp"))
    assert not pending, "stream too short for the catalogue"
    return mixed, bad
