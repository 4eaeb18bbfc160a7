from __future__ import annotations

import json
import math

import orjson
from hypothesis import given
from hypothesis import strategies as st

from restrictwatch.detectors.records import (
    KNOWN_COUNTRIES,
    KNOWN_REGIONS,
    ReachabilitySample,
    Rejection,
    TrafficSample,
    decode_sample,
)


def test_traffic_record_from_the_issue_decodes() -> None:
    raw = (
        b'{"signal":"traffic","ts":"2023-12-17T15:05:00Z","country":"PK","asn":17557,'
        b'"platform":"youtube","value":18234.0,"source":"edge-cdn"}'
    )
    s = decode_sample(raw)
    assert isinstance(s, TrafficSample)
    assert s.ts == 1702825500.0
    assert s.key == ("traffic", "edge-cdn", "PK", 17557, "youtube", None)
    assert s.value == 18234.0


def test_reachability_record_from_the_issue_decodes() -> None:
    raw = (
        b'{"signal":"reachability","ts":"2023-12-17T15:05:00Z","country":"PK","asn":17557,'
        b'"platform":"x","probes":40,"ok":3,"failures":{"dns":0,"tcp":2,"tls":35,"http":0,"timeout":0},'
        b'"latency_ms":412.0,"source":"probe-mesh"}'
    )
    s = decode_sample(raw)
    assert isinstance(s, ReachabilitySample)
    assert (s.probes, s.ok, s.failures["tls"], s.latency_ms) == (40, 3, 35, 412.0)


def test_epoch_seconds_and_offsets_are_accepted() -> None:
    a = decode_sample(b'{"signal":"traffic","ts":1702825500,"country":"PK","value":1,"source":"s"}')
    b = decode_sample(
        b'{"signal":"traffic","ts":"2023-12-17T20:05:00+05:00","country":"PK","value":1,"source":"s"}'
    )
    assert isinstance(a, TrafficSample) and isinstance(b, TrafficSample)
    assert a.ts == b.ts == 1702825500.0


BAD = {
    b"": "empty",
    b"   ": "empty",
    b"\xff\xfe{": "encoding",
    b'{"signal":"traffic"': "json",
    b'{"signal":"traffic","ts":1702825500,"country":"PK","value":NaN,"source":"s"}': "json",
    b'{"signal":"traffic","ts":1702825500,"country":"PK","value":1e999,"source":"s"}': "json",
    b"[1,2]": "schema",
    b'{"signal":"dns","ts":1702825500,"country":"PK","value":1,"source":"s"}': "schema",
    b'{"signal":"traffic","ts":1702825500,"country":"PK","source":"s"}': "schema",
    b'{"signal":"traffic","ts":1702825500,"country":"PK","value":"12","source":"s"}': "schema",
    b'{"signal":"traffic","ts":1702825500,"country":"PK","value":-1,"source":"s"}': "schema",
    b'{"signal":"traffic","ts":1702825500,"country":"pk","value":1,"source":"s"}': "schema",
    b'{"signal":"traffic","ts":"yesterday","country":"PK","value":1,"source":"s"}': "schema",
    b'{"signal":"traffic","ts":1702825500,"country":"ZZ","value":1,"source":"s"}': "unknown_country",
    b'{"signal":"reachability","ts":1702825500,"country":"PK","platform":"x","probes":3,"ok":4,"source":"s"}': "invalid_value",
    b'{"signal":"reachability","ts":1702825500,"country":"PK","platform":"x","probes":4,"ok":2,'
    b'"failures":{"tls":3},"source":"s"}': "invalid_value",
    b'{"signal":"traffic","ts":1702825500,"country":"PK","value":1,"source":"s","extra":1}': "schema",
}


def test_each_kind_of_bad_record_gets_its_reason() -> None:
    for raw, expected in BAD.items():
        got = decode_sample(raw)
        assert isinstance(got, Rejection), raw
        assert got.error_type == expected, (raw, got)
        assert got.reason


def test_schema_reason_names_the_field() -> None:
    got = decode_sample(
        b'{"signal":"traffic","ts":1702825500,"country":"PK","value":-1,"source":"s"}'
    )
    assert isinstance(got, Rejection)
    assert "value" in got.reason


def test_oversized_record_is_rejected_before_parsing() -> None:
    got = decode_sample(b"{" + b" " * 70000 + b"}", max_bytes=65536)
    assert isinstance(got, Rejection) and got.error_type == "too_large"


countries = st.sampled_from(sorted(KNOWN_COUNTRIES))
platforms = st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,10}\Z")
timestamps = st.integers(min_value=946684800, max_value=4102444799)


@given(
    ts=timestamps,
    country=countries,
    asn=st.one_of(st.none(), st.integers(1, 4294967295)),
    platform=st.one_of(st.none(), platforms),
    value=st.floats(min_value=0, max_value=1e15, allow_nan=False),
    regional=st.booleans(),
)
def test_any_valid_traffic_record_round_trips(
    ts: int, country: str, asn: int | None, platform: str | None, value: float, regional: bool
) -> None:
    rec: dict[str, object] = {
        "signal": "traffic",
        "ts": ts,
        "country": country,
        "value": value,
        "source": "feed-1",
    }
    if asn is not None:
        rec["asn"] = asn
    if platform is not None:
        rec["platform"] = platform
    codes = sorted(r for r in KNOWN_REGIONS if r.startswith(country + "-"))
    region = codes[0] if regional and codes else None
    if region is not None:
        rec["region"] = region
    s = decode_sample(orjson.dumps(rec))
    assert isinstance(s, TrafficSample)
    assert s.key == ("traffic", "feed-1", country, asn, platform, region)
    assert s.ts == ts and s.value == value and math.isfinite(s.value)


@given(ts=timestamps, probes=st.integers(1, 10000), data=st.data())
def test_any_valid_reachability_record_round_trips(
    ts: int, probes: int, data: st.DataObject
) -> None:
    ok = data.draw(st.integers(0, probes))
    tls = data.draw(st.integers(0, probes - ok))
    rec = {
        "signal": "reachability",
        "ts": ts,
        "country": "IR",
        "platform": "instagram",
        "probes": probes,
        "ok": ok,
        "failures": {"tls": tls},
        "source": "probes",
    }
    s = decode_sample(orjson.dumps(rec))
    assert isinstance(s, ReachabilitySample)
    assert (s.probes, s.ok, s.failures) == (probes, ok, {"tls": tls})


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(decode_sample(raw), TrafficSample | ReachabilitySample | Rejection)


@given(
    st.dictionaries(
        st.sampled_from(["signal", "ts", "country", "value", "source", "asn", "probes", "ok"]),
        st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5), st.booleans()),
    )
)
def test_arbitrary_objects_never_raise(doc: dict[str, object]) -> None:
    raw = json.dumps(doc).encode()  # stdlib: also writes NaN and integers beyond 64 bits
    assert isinstance(decode_sample(raw), TrafficSample | ReachabilitySample | Rejection)


def test_a_batch_decodes_record_by_record_and_a_bad_one_says_its_index() -> None:
    from restrictwatch.detectors.records import decode_message

    good = b'{"signal":"traffic","ts":1700000000,"country":"PK","value":5.0,"source":"s"}'
    bad = b'{"signal":"traffic","ts":1700000000,"country":"XX","value":5.0,"source":"s"}'
    out = decode_message(b"[" + b",".join([good, bad, good]) + b"]")
    assert isinstance(out[0], TrafficSample) and isinstance(out[2], TrafficSample)
    assert isinstance(out[1], Rejection)
    assert (out[1].error_type, out[1].index) == ("unknown_country", 1)
    assert decode_message(good) == [decode_sample(good)]  # one record: as before, no index


def test_a_batch_that_cannot_be_read_is_one_rejection() -> None:
    from restrictwatch.detectors.records import MAX_BATCH_BYTES, decode_message

    for raw, error in [
        (b'[{"signal":"traffic"', "json"),
        (b"[]", "empty"),
        (b"[" + b" " * MAX_BATCH_BYTES + b"]", "too_large"),
    ]:
        (rejection,) = decode_message(raw)
        assert isinstance(rejection, Rejection)
        assert (rejection.error_type, rejection.index) == (error, None)
    (not_object,) = decode_message(b"[3]")
    assert isinstance(not_object, Rejection) and not_object.index == 0
