"""Public holidays per country: the benign dip that one uncorroborated signal cannot tell from a
slowdown (Tor users in Pakistan fall by half over Eid). Dates come from the `holidays` library,
which follows each country's observed calendar, lunar holidays included."""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays

DAY = 86400


@cache
def _calendar(country: str, year: int) -> frozenset[dt.date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the library has no calendar for: no holidays
        return frozenset()


def is_public_holiday(country: str, ts: float) -> bool:
    """Whether the UTC day of `ts` is a public holiday of the country (ISO 3166-1 alpha-2)."""
    day = dt.datetime.fromtimestamp(ts - ts % DAY, dt.UTC).date()
    return day in _calendar(country, day.year)
