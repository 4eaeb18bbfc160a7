"""Public holidays (detectors/public_holidays.py) and what they quiet (detectors/monitor.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from restrictwatch.detectors.config import Config, default_document, overlay, parse_config
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.public_holidays import is_public_holiday
from tests.conftest import START, diurnal, stream

DAY = 86400
THANKSGIVING = START + 8 * DAY  # 2023-11-23, a US public holiday; START + 7 days is not one


def at(day: str, hour: int = 12) -> float:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC).timestamp()


def test_lunar_and_fixed_holidays_by_their_observed_dates() -> None:
    assert is_public_holiday("PK", at("2022-05-03"))  # Eid ul-Fitr
    assert is_public_holiday("PK", at("2022-07-10"))  # Eid ul-Adha
    assert not is_public_holiday("PK", at("2022-05-13"))
    assert is_public_holiday("US", THANKSGIVING)
    assert not is_public_holiday("US", THANKSGIVING - DAY)
    assert not is_public_holiday("ZZ", at("2022-05-03"))  # no calendar for it: no holidays


def kinds(
    day: float, x_factor: float, total_factor: float = 1.0, quiet: bool = True
) -> list[tuple[str, str]]:
    """Nine days of a US total and platform x; from 06:00 to 14:00 of `day`, x at `x_factor`
    of normal and the total at `total_factor` (no probes: nothing corroborates x's drop)."""
    window = (day + 6 * 3600, day + 14 * 3600)

    def factor(t: float, f: float) -> float:
        return f if window[0] <= t < window[1] else 1.0

    series: dict[str, Callable[[float], float | None]] = {
        "total": lambda t: diurnal(t, 100_000) * factor(t, total_factor),
        "platform:x": lambda t: diurnal(t, 5_000) * factor(t, x_factor) * factor(t, total_factor),
    }
    config: Config = parse_config(
        overlay(default_document(), {"lifecycle": {"quiet_on_holidays": quiet}})
    )
    p = Pipeline(config)
    events = [
        e
        for raw in (r.replace(b'"PK"', b'"US"') for r in stream(9.5, series))
        for e in p.process(raw).events
    ]
    return [(e["status"], e["kind"]) for e in events]


@pytest.mark.parametrize("quiet", [True, False])
def test_an_uncorroborated_dip_of_one_platform_on_a_holiday_is_no_event(quiet: bool) -> None:
    ordinary = kinds(THANKSGIVING - DAY, 0.65, quiet=quiet)
    holiday = kinds(THANKSGIVING, 0.65, quiet=quiet)
    assert ordinary == [("open", "throttling"), ("resolved", "throttling")]
    assert holiday == ([] if quiet else ordinary)


def test_a_collapse_on_a_holiday_is_still_an_outage() -> None:
    """Shutdowns are ordered on holidays too (Ashura in Pakistan): only weak signals are quiet."""
    assert kinds(THANKSGIVING, 1.0, total_factor=0.1) == [
        ("open", "network_outage"),
        ("resolved", "network_outage"),
    ]


def test_a_region_has_its_own_holidays_and_the_country_s() -> None:
    mardi_gras = at("2020-02-25")  # a Louisiana holiday, not a federal one
    assert is_public_holiday("US", mardi_gras, "US-LA")
    assert not is_public_holiday("US", mardi_gras)
    assert not is_public_holiday("US", mardi_gras, "US-TX")
    assert is_public_holiday("US", at("2020-11-26"), "US-TX")  # Thanksgiving: the country's
    assert is_public_holiday("PK", at("2022-05-03"), "PK-ZZ")  # no calendar for it: the country's


MARDI_GRAS_2024 = at("2024-02-13", 0)  # a Louisiana holiday, not a federal one


def regional_kinds(day: float) -> list[tuple[str, str, list[str]]]:
    """Nine days of a US total, Louisiana and Texas; from 06:00 to 14:00 of `day` Louisiana at
    68 % of normal (a third dark, or a holiday off) while Texas stays up."""

    def la(t: float) -> float:
        return diurnal(t, 20_000) * (0.68 if day + 6 * 3600 <= t < day + 14 * 3600 else 1.0)

    series: dict[str, Callable[[float], float | None]] = {
        "total": lambda t: la(t) + diurnal(t, 80_000),
        "region:US-LA": la,
        "region:US-TX": lambda t: diurnal(t, 80_000),
    }
    p = Pipeline(parse_config(default_document()))
    start = MARDI_GRAS_2024 - 8 * DAY
    events = [
        e
        for raw in (r.replace(b'"PK"', b'"US"') for r in stream(9.5, series, start=start))
        for e in p.process(raw).events
    ]
    return [(e["status"], e["kind"], e["regions"]) for e in events]


def test_a_region_partly_dark_is_an_outage_there_but_not_on_its_own_holiday() -> None:
    ordinary = regional_kinds(MARDI_GRAS_2024 - DAY)
    assert ordinary and {k for _, k, _ in ordinary} == {"network_outage"}
    assert all(regions == ["US-LA"] for _, _, regions in ordinary)
    assert regional_kinds(MARDI_GRAS_2024) == []
