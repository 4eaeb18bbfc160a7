"""The watch list: which series a worker exports observed, expected and score for.

Parsed when the settings are (streams/settings.py validates `RW_METRICS_WATCH` with it), so a
bad entry stops the worker at start with one clear error, not at its first scrape.
"""

from __future__ import annotations

from dataclasses import dataclass

from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.vocabulary import SIGNALS


@dataclass(frozen=True, slots=True)
class WatchSelector:
    """One watch-list entry, `signal:country:asn:platform`, where `*` is any and `-` is absent.

    `traffic:*:-:-` is every country's total traffic (the default), `traffic:PK:*:-` each network
    of Pakistan, `traffic:PK:-:*` each platform, `reachability:PK:*:*` every probe series. The
    country may name a region (`traffic:PK-BA:-:-`) or any region of it (`traffic:PK-*:-:-`: its
    regional series and its country-level ones);
    a plain country or `*` selects country-level series only.
    """

    signal: str | None  # None: any
    country: str | None  # None: any
    asn: int | None
    platform: str | None
    any_asn: bool = False
    any_platform: bool = False
    region: str | None = None  # None: country-level series
    any_region: bool = False

    def matches(self, key: SeriesKey) -> bool:
        return (
            (self.signal is None or key.signal == self.signal)
            and (self.country is None or key.country == self.country)
            and (self.any_region or key.region == self.region)
            and (self.any_asn or key.asn == self.asn)
            and (self.any_platform or key.platform == self.platform)
        )


def parse_watchlist(text: str) -> tuple[WatchSelector, ...]:
    """Parse `signal:country:asn:platform[,...]`, e.g. the default `traffic:*:-:-`."""
    selectors = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        parts = [p.strip() for p in entry.split(":")]
        if len(parts) != 4:
            raise ConfigError(f"watch-list entry {entry!r}: want signal:country:asn:platform")
        signal, country, asn, platform = parts
        if signal not in ("*", *SIGNALS):
            raise ConfigError(f"watch-list entry {entry!r}: signal must be one of {SIGNALS} or *")
        country, _, region = country.partition("-")
        if country != "*" and not (len(country) == 2 and country.isalpha()):
            raise ConfigError(
                f"watch-list entry {entry!r}: country must be ISO alpha-2, a region such as "
                "PK-BA, PK-* or *"
            )
        if region and (country == "*" or not (region == "*" or region.isalnum())):
            raise ConfigError(f"watch-list entry {entry!r}: region must be like PK-BA or PK-*")
        if asn not in ("*", "-") and not asn.isdigit():
            raise ConfigError(f"watch-list entry {entry!r}: asn must be a number, * or -")
        if not platform:
            raise ConfigError(f"watch-list entry {entry!r}: platform must be a name, * or -")
        selectors.append(
            WatchSelector(
                signal=None if signal == "*" else signal,
                country=None if country == "*" else country.upper(),
                asn=int(asn) if asn.isdigit() else None,
                platform=None if platform in ("*", "-") else platform,
                any_asn=asn == "*",
                any_platform=platform == "*",
                region=f"{country.upper()}-{region.upper()}" if region and region != "*" else None,
                any_region=region == "*",
            )
        )
    return tuple(selectors)
