"""Input records: raw bytes in, a typed `Sample` or a `Rejection` out (errors are data, never exceptions)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from sys import intern
from typing import Any, NamedTuple

import orjson
import pycountry

from restrictwatch.detectors.schemas import SchemaError, validator

FAILURE_LAYERS: tuple[str, ...] = ("dns", "tcp", "tls", "http", "timeout")

# Kosovo is in common use (XK) but not in ISO 3166-1.
KNOWN_COUNTRIES: frozenset[str] = frozenset(c.alpha_2 for c in pycountry.countries) | {"XK"}
KNOWN_REGIONS: frozenset[str] = frozenset(s.code for s in pycountry.subdivisions)

ERROR_TYPES: tuple[str, ...] = (
    "too_large",
    "empty",
    "encoding",
    "json",
    "schema",
    "invalid_value",
    "unknown_country",
    "unknown_region",
    "future",
    "late",
    "duplicate",
    "wrong_key",
)


_SIGNALS = {"traffic": "traffic", "reachability": "reachability"}


class SeriesKey(NamedTuple):
    """Identity of one time series."""

    signal: str
    source: str
    country: str
    asn: int | None
    platform: str | None
    region: str | None = None


@dataclass(slots=True)
class TrafficSample:
    key: SeriesKey
    ts: float
    value: float


@dataclass(slots=True)
class ReachabilitySample:
    key: SeriesKey
    ts: float
    probes: int
    ok: int
    failures: dict[str, int] = field(default_factory=dict)
    latency_ms: float | None = None


Sample = TrafficSample | ReachabilitySample


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record cannot be used; `error_type` is a bounded code fit for a metric label."""

    error_type: str
    reason: str
    stage: str = "decode"
    index: int | None = None  # the record's place in its batch; None: the message was one record


def parse_ts(value: str | int | float) -> float:
    """Epoch seconds from RFC 3339 (`Z` or an offset; a time without one is UTC, never the
    machine's zone) or from epoch seconds: the one time parser of the project."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return float(value)


# A batch message may be this large (Kafka's default max.message.bytes); its records are held to
# this limit together, not to `max_record_bytes` one by one.
MAX_BATCH_BYTES = 1_048_576


def decode_message(raw: bytes, max_bytes: int = 65536) -> list[Sample | Rejection]:
    """One message of an input topic: a record (a JSON object) or a batch of records (a JSON
    array of them, schemas/batch.v1.schema.json), one entry per record in order. Each record of a
    batch is validated on its own and its rejection carries its index, so a bad one never costs
    its neighbours; a batch that is not valid JSON, empty or too large is one rejection."""
    stripped = raw.lstrip()
    if not stripped.startswith(b"["):
        return [decode_sample(raw, max_bytes)]
    if len(raw) > MAX_BATCH_BYTES:
        return [Rejection("too_large", f"batch is {len(raw)} bytes, limit is {MAX_BATCH_BYTES}")]
    try:
        docs = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return [_undecodable(raw, exc)]
    if not docs:
        return [Rejection("empty", "batch holds no records")]
    out: list[Sample | Rejection] = []
    for i, doc in enumerate(docs):
        decoded = sample_from_dict(doc)
        out.append(replace(decoded, index=i) if isinstance(decoded, Rejection) else decoded)
    return out


def _undecodable(raw: bytes, exc: orjson.JSONDecodeError) -> Rejection:
    try:  # only now, off the hot path: was it the encoding or the JSON?
        raw.decode("utf-8")
    except UnicodeDecodeError as enc:
        return Rejection("encoding", f"not UTF-8: {enc.reason} at byte {enc.start}")
    return Rejection("json", f"invalid JSON: {exc}")


def decode_sample(raw: bytes, max_bytes: int = 65536) -> Sample | Rejection:
    """Decode and validate one record against `schemas/`, then check what a schema cannot say."""
    if len(raw) > max_bytes:
        return Rejection("too_large", f"record is {len(raw)} bytes, limit is {max_bytes}")
    if not raw.strip():
        return Rejection("empty", "record is empty")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _undecodable(raw, exc)
    return sample_from_dict(doc)


def sample_from_dict(doc: Any) -> Sample | Rejection:
    """Validate an already parsed record."""
    if not isinstance(doc, dict):
        return Rejection(
            "schema", f"record must be a JSON object, got {type(doc).__name__}", "validate"
        )
    signal = doc.get("signal")
    if signal not in ("traffic", "reachability"):
        return Rejection(
            "schema", f"unknown signal {signal!r}: expected traffic or reachability", "validate"
        )
    try:
        validator(f"{signal}.v1")(doc)
    except SchemaError as exc:
        return Rejection("schema", f"{signal}: {exc}", "validate")
    country = doc["country"]
    if country not in KNOWN_COUNTRIES:
        return Rejection("unknown_country", f"unknown country code {country!r}", "validate")
    region = doc.get("region")
    if region is not None and (not region.startswith(country + "-") or region not in KNOWN_REGIONS):
        return Rejection(
            "unknown_region",
            f"region {region!r} is not an ISO 3166-2 subdivision of {country}",
            "validate",
        )
    try:
        ts = parse_ts(doc["ts"])
    except ValueError as exc:
        return Rejection("schema", f"bad timestamp {doc['ts']!r}: {exc}", "validate")
    platform = doc.get("platform")
    # Interned: a series' key lives as long as the series, and millions of copies of "PK" add up.
    key = SeriesKey(
        _SIGNALS[signal],
        intern(doc["source"]),
        intern(country),
        doc.get("asn"),
        None if platform is None else intern(platform),
        None if region is None else intern(region),
    )
    if signal == "traffic":
        value = float(doc["value"])
        if not math.isfinite(value):
            return Rejection("invalid_value", f"value {value} is not finite", "validate")
        return TrafficSample(key, ts, value)
    return _reachability(doc, key, ts)


def _reachability(doc: dict[str, Any], key: SeriesKey, ts: float) -> ReachabilitySample | Rejection:
    probes: int = doc["probes"]
    ok: int = doc["ok"]
    if ok > probes:
        return Rejection("invalid_value", f"ok ({ok}) exceeds probes ({probes})", "validate")
    failures: dict[str, int] = doc.get("failures") or {}
    failed = sum(failures.values())
    if failed > probes - ok:
        return Rejection(
            "invalid_value",
            f"failures sum to {failed}, more than probes - ok ({probes - ok})",
            "validate",
        )
    latency = doc.get("latency_ms")
    return ReachabilitySample(
        key, ts, probes, ok, failures, None if latency is None else float(latency)
    )
