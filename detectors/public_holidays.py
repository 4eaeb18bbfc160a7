"""Public holidays per country and region: the benign dip that one uncorroborated signal cannot
tell from a slowdown (Tor users in Pakistan fall by half over Eid; a state's own holiday lowers
that state alone). Dates come from the `holidays` library, which follows each country's observed
calendar, lunar holidays included, and the calendars of subdivisions it knows."""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays

DAY = 86400


@cache
def _calendar(country: str, year: int, subdivision: str | None = None) -> frozenset[dt.date]:
    try:
        return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))
    except NotImplementedError:  # a calendar the library does not have
        # A subdivision it does not know keeps the country's; a country it does not know, none.
        return _calendar(country, year) if subdivision is not None else frozenset()


def is_public_holiday(country: str, ts: float, region: str | None = None) -> bool:
    """Whether the UTC day of `ts` is a public holiday of the country (ISO 3166-1 alpha-2), or,
    given a region (ISO 3166-2, "US-LA"), of that region: the country's and its own."""
    day = dt.datetime.fromtimestamp(ts - ts % DAY, dt.UTC).date()
    if region is None:
        return day in _calendar(country, day.year)
    return day in _calendar(country, day.year, region.partition("-")[2])
