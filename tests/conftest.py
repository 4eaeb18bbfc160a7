"""Shared factories: configs, records and small synthetic streams."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from restrictwatch.detectors.config import Config, load_config


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


def traffic(ts: float, value: float, country: str = "PK", **extra: Any) -> bytes:
    rec: dict[str, Any] = {
        "signal": "traffic",
        "ts": ts,
        "country": country,
        "value": value,
        "source": "edge-cdn",
    }
    rec.update(extra)
    return orjson.dumps(rec)


def reach(
    ts: float, probes: int, ok: int, platform: str = "x", country: str = "PK", **extra: Any
) -> bytes:
    rec: dict[str, Any] = {
        "signal": "reachability",
        "ts": ts,
        "country": country,
        "platform": platform,
        "probes": probes,
        "ok": ok,
        "source": "probe-mesh",
    }
    rec.update(extra)
    return orjson.dumps(rec)


def diurnal(ts: float, base: float = 10_000.0) -> float:
    """A clean daily curve: no noise, so tests can reason about exact expectations."""
    return base * (1 + 0.4 * math.cos(2 * math.pi * ((ts % 86400) / 86400 - 0.8)))


START = 1_700_006_400.0  # 2023-11-15T00:00:00Z, a Wednesday


def stream(
    days: float,
    series: dict[str, Callable[[float], float | None]],
    step: int = 300,
    start: float = START,
) -> Iterator[bytes]:
    """Traffic records for named series ('total', 'platform:x', 'asn:17557', 'region:PK-BA');
    None skips a bin."""
    t = start
    while t < start + days * 86400:
        for name, fn in series.items():
            value = fn(t)
            if value is None:
                continue
            extra: dict[str, Any] = {}
            if name.startswith("platform:"):
                extra["platform"] = name.split(":", 1)[1]
            elif name.startswith("asn:"):
                extra["asn"] = int(name.split(":", 1)[1])
            elif name.startswith("region:"):
                extra["region"] = name.split(":", 1)[1]
            yield traffic(t, value, **extra)
        t += step


@pytest.fixture
def make_stream() -> Callable[..., Iterator[bytes]]:
    return stream
