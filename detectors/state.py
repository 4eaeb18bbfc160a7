"""A country's detection state as data: plain values, versioned, never code.

A checkpoint is read back from a Kafka topic that anyone with write access to it can fill, so
restoring must not be able to run code (pickle can) and must say clearly when bytes are not a
checkpoint of this format. The encoding:

    b"RWS" + one byte FORMAT_VERSION + zlib(JSON)

The JSON is a tree of JSON scalars (null, booleans, integers, finite floats, strings) and tagged
arrays, the tag first: ``["L", items...]`` a list, ``["T", items...]`` a tuple, ``["S", items...]`` a
set, ``["D", k1, v1, k2, v2...]`` a dict (keys of any kind), ``["F", "inf"|"-inf"|"nan"]`` a float
JSON cannot hold, ``["A", base64]`` an array of float64, little-endian, ``["O", "Name", v1, v2...]``
an object of one of the classes `shapes()` lists with its fields in the listed order, and ``["R", n]``
the n-th object (counted in order of first appearance) again, so shared objects stay shared.
Nothing else decodes: an unknown tag, class, field count or version is a `StateError`.

Changing the state's shape (a class's fields, in `shapes()`) changes `shape_fingerprint()`;
tests/detectors/test_state.py then fails until FORMAT_VERSION is bumped and either a migration of
the older trees is added to `MIGRATIONS` or the older version is dropped on purpose (its
checkpoints are then refused and the worker falls back as for any unreadable checkpoint).
"""

from __future__ import annotations

import base64
import hashlib
import math
import sys
import zlib
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from restrictwatch.detectors.exceptions import RestrictwatchError

MAGIC = b"RWS"
FORMAT_VERSION = 4


def _probe_volume_added(tree: Any) -> Any:
    """1 -> 2: a probe series learns its usual probes per bin; an older one starts knowing none
    (its bins are judged as if every one had the usual count until it has learned)."""
    if isinstance(tree, list):
        tree = [_probe_volume_added(x) for x in tree]
        if tree[:2] == ["O", "ProbeBaseline"]:
            tree += [0.0, 0]
    return tree


def _below_band_added(tree: Any) -> Any:
    """2 -> 3: a series and its verdicts say since when it lies below its normal band; an older
    one starts outside such a run (an incident opening right after the restore is dated from its
    first anomalous bin, as before)."""
    if isinstance(tree, list):
        tree = [_below_band_added(x) for x in tree]
        if tree[:2] in (["O", "Series"], ["O", "Verdict"]):
            tree += [None]
    return tree


def _guarded_bins_added(tree: Any) -> Any:
    """3 -> 4: the start-up guard counts the bins it kept out; an older model counts none of its
    run yet (a run already past a day may then be kept out for up to three more bins)."""
    if isinstance(tree, list):
        tree = [_guarded_bins_added(x) for x in tree]
        if tree[:2] == ["O", "SeasonalBaseline"]:
            tree += [0]
    return tree


# Older format version -> a function turning its tree into the next version's.
MIGRATIONS: dict[int, Callable[[Any], Any]] = {
    1: _probe_volume_added,
    2: _below_band_added,
    3: _guarded_bins_added,
}
# zlib level 1: most of the gain for a fraction of the time of the default level.
COMPRESSION = 1
_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class StateError(RestrictwatchError):
    """Bytes that are not a checkpoint of this format: the caller falls back, nothing ran."""


@dataclass(frozen=True, slots=True)
class Shape:
    """How one class is stored: its fields in order, and fields rebuilt on restore instead."""

    cls: type
    fields: tuple[str, ...]
    transient: Mapping[str, Callable[[], Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.cls.__name__


def _slots(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return tuple(n for n in names if n not in ("__weakref__", "__dict__"))


@cache
def shapes() -> dict[str, Shape]:
    """Every class a checkpoint may hold, by name. Imported here, not at the top: the state
    classes import this module's users."""
    from restrictwatch.detectors.correlate import Observation
    from restrictwatch.detectors.incidents import Evidence, Incident, IncidentBook, UnitTracker
    from restrictwatch.detectors.monitor import CountryMonitor, MonitorStats, SourceClock
    from restrictwatch.detectors.probes import EWStat, ProbeBaseline
    from restrictwatch.detectors.records import SeriesKey
    from restrictwatch.detectors.seasonal import SeasonalBaseline
    from restrictwatch.detectors.series import (
        ReachabilityBin,
        SeasonalModel,
        Series,
        TrafficBin,
        Verdict,
    )
    from restrictwatch.detectors.timing import Cadence, SlowReference

    def slotted(cls: type, **transient: Callable[[], Any]) -> Shape:
        return Shape(cls, tuple(n for n in _slots(cls) if n not in transient), transient)

    out = [
        Shape(
            CountryMonitor,
            (
                "country",
                "series",
                "sources",
                "pending",
                "evaluated_until",
                "max_ts",
                "book",
                "stats",
                "last_bin",
            ),
            # The config and thresholds come from the restoring worker (it may have reloaded);
            # the last verdicts only feed views and are refilled as the next bins close.
            {"config": lambda: None, "thresholds": dict, "last_verdicts": dict},
        ),
        Shape(SeriesKey, SeriesKey._fields),
        slotted(SourceClock),
        slotted(MonitorStats),
        slotted(Series, thresholds=lambda: None),
        slotted(
            SeasonalModel,
            provisional=lambda: False,
            slow_expected=lambda: None,
            slow_sigma=lambda: None,
            slow_since=lambda: None,
        ),
        Shape(SeasonalBaseline, SEASONAL_FIELDS),
        Shape(ProbeBaseline, PROBE_FIELDS),
        slotted(EWStat),
        slotted(Cadence),
        slotted(SlowReference),
        slotted(TrafficBin),
        slotted(ReachabilityBin),
        slotted(Verdict),
        Shape(IncidentBook, ("country", "trackers", "incidents")),
        slotted(UnitTracker),
        slotted(Incident),
        slotted(Evidence),
        slotted(Observation),
    ]
    return {s.name: s for s in out}


# The plain (not slotted) classes' attributes; tests/detectors/test_state.py checks that a live
# instance has exactly these, so an attribute added without a place in the state fails there.
SEASONAL_FIELDS = (
    "bin_seconds",
    "daily_slots",
    "level_halflife_seconds",
    "daily_halflife_seconds",
    "weekly_halflife_seconds",
    "noise_halflife_seconds",
    "noise_floor",
    "warmup_seconds",
    "clip_sigmas",
    "protect_sigmas",
    "protect_drop",
    "protect_max_seconds",
    "slow_halflife_seconds",
    "slow_hold_seconds",
    "_slot_seconds",
    "_daily_halflife_days",
    "_weekly_halflife_weeks",
    "level",
    "level_n",
    "daily",
    "daily_n",
    "weekly",
    "weekly_n",
    "noise_mean",
    "noise_var",
    "noise_n",
    "slow_noise_var",
    "slow_noise_n",
    "slow_onset",
    "median_log",
    "first_ts",
    "cadence",
    "guarded_since",
    "moderate_since",
    "slow",
    "last_day",
    "guarded_bins",
)
PROBE_FIELDS = (
    "rate_halflife_seconds",
    "latency_halflife_seconds",
    "rate_floor",
    "warmup_seconds",
    "protect_sigmas",
    "protect_drop",
    "bin_seconds",
    "rate",
    "error",
    "log_latency",
    "cadence",
    "first_ts",
    "slow_latency",
    "slow_latency_ratio",
    "usual_log_probes",
    "probes_seen",
)


def shape_fingerprint() -> str:
    """A digest of every stored class's name and fields: it changes when the format does."""
    text = ";".join(f"{n}:{','.join(s.fields)}" for n, s in sorted(shapes().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# encoding -----------------------------------------------------------------------------------


class _Encoder:
    def __init__(self) -> None:
        self.by_class = {s.cls: s for s in shapes().values()}
        self.memo: dict[int, int] = {}
        self.keep: list[object] = []  # holds memoised objects so their ids stay unique

    def value(self, v: Any) -> Any:
        t = type(v)
        if v is None or t is bool or t is int or t is str:
            return v
        if t is float:
            return v if math.isfinite(v) else ["F", repr(v)]
        if t is list:
            return ["L", *map(self.value, v)]
        if t is dict:
            out: list[Any] = ["D"]
            for k, item in v.items():
                out.append(self.value(k))
                out.append(self.value(item))
            return out
        shape = self.by_class.get(t)
        if shape is not None:
            return self.obj(v, shape)
        if t is tuple:
            return ["T", *map(self.value, v)]
        if t is set:
            return ["S", *map(self.value, v)]
        if t is array and v.typecode == "d":
            data = v if sys.byteorder == "little" else array("d", v)
            if sys.byteorder != "little":
                data.byteswap()
            return ["A", base64.b64encode(data.tobytes()).decode("ascii")]
        raise StateError(f"a {t.__module__}.{t.__qualname__} cannot be part of a checkpoint")

    def obj(self, v: object, shape: Shape) -> list[Any]:
        ref = self.memo.get(id(v))
        if ref is not None:
            return ["R", ref]
        self.memo[id(v)] = len(self.memo)
        self.keep.append(v)
        return ["O", shape.name, *(self.value(getattr(v, f)) for f in shape.fields)]


def encode(value: Any) -> bytes:
    """State (a tree of plain values and `shapes()` objects) as checkpoint bytes."""
    body = orjson.dumps(_Encoder().value(value))
    return MAGIC + bytes([FORMAT_VERSION]) + zlib.compress(body, COMPRESSION)


# decoding -----------------------------------------------------------------------------------


class _Decoder:
    def __init__(self) -> None:
        self.shapes = shapes()
        self.memo: list[object] = []

    def value(self, v: Any) -> Any:
        if not isinstance(v, list):
            if isinstance(v, dict):
                raise StateError("a JSON object where a value was expected")
            return v
        if not v or not isinstance(v[0], str):
            raise StateError("an untagged array")
        tag, rest = v[0], v[1:]
        if tag == "L":
            return [self.value(x) for x in rest]
        if tag == "D":
            if len(rest) % 2:
                raise StateError("a dict with a key and no value")
            it = iter(rest)
            try:
                return {self.value(k): self.value(x) for k, x in zip(it, it, strict=True)}
            except TypeError as exc:  # an unhashable key
                raise StateError(f"a dict key that cannot be one: {exc}") from None
        if tag == "T":
            return tuple(self.value(x) for x in rest)
        if tag == "S":
            try:
                return {self.value(x) for x in rest}
            except TypeError as exc:
                raise StateError(f"a set member that cannot be one: {exc}") from None
        if tag == "F":
            if len(rest) != 1 or not isinstance(rest[0], str) or rest[0] not in _NONFINITE:
                raise StateError(f"a float tag of {rest!r}")
            return _NONFINITE[rest[0]]
        if tag == "A":
            return self.floats(rest)
        if tag == "O":
            return self.obj(rest)
        if tag == "R":
            if len(rest) != 1 or type(rest[0]) is not int or not 0 <= rest[0] < len(self.memo):
                raise StateError(f"a reference to object {rest!r}, not one read before")
            return self.memo[rest[0]]
        raise StateError(f"unknown tag {tag!r}")

    def floats(self, rest: list[Any]) -> array[float]:
        if len(rest) != 1 or not isinstance(rest[0], str):
            raise StateError("an array tag without its data")
        try:
            raw = base64.b64decode(rest[0], validate=True)
        except ValueError as exc:
            raise StateError(f"array data that is not base64: {exc}") from None
        if len(raw) % 8:
            raise StateError("array data that is not whole float64s")
        out = array("d", raw)
        if sys.byteorder != "little":
            out.byteswap()
        return out

    def obj(self, rest: list[Any]) -> object:
        if not rest or not isinstance(rest[0], str) or rest[0] not in self.shapes:
            raise StateError(f"an object of unknown class {rest[:1]!r}")
        shape = self.shapes[rest[0]]
        values = rest[1:]
        if len(values) != len(shape.fields):
            raise StateError(
                f"a {shape.name} of {len(values)} fields, this version stores {len(shape.fields)}"
            )
        if issubclass(shape.cls, tuple):  # a NamedTuple: built from its decoded fields
            index = len(self.memo)
            self.memo.append(None)
            obj: object = shape.cls(*(self.value(x) for x in values))
            self.memo[index] = obj
            return obj
        obj = object.__new__(shape.cls)
        self.memo.append(obj)
        for name, x in zip(shape.fields, values, strict=True):
            object.__setattr__(obj, name, self.value(x))
        for name, make in shape.transient.items():
            object.__setattr__(obj, name, make())
        return obj


def decode(data: bytes) -> Any:
    """Checkpoint bytes back into state; anything else is a `StateError`, and nothing runs."""
    if len(data) < len(MAGIC) + 1 or not data.startswith(MAGIC):
        raise StateError(f"not a restrictwatch state (starts {bytes(data[:8])!r})")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION and version not in MIGRATIONS:
        raise StateError(f"state format {version}, this version reads {FORMAT_VERSION}")
    try:
        tree = orjson.loads(zlib.decompress(data[len(MAGIC) + 1 :]))
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise StateError(f"unreadable state: {exc}") from None
    while version != FORMAT_VERSION:
        tree, version = MIGRATIONS[version](tree), version + 1
    try:
        return _Decoder().value(tree)
    except RecursionError:
        raise StateError("state nested too deeply") from None
