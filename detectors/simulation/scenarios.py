"""The scenario library: named, labeled situations to replay and score detectors on."""

from __future__ import annotations

from collections.abc import Callable

from detectors.simulation.model import Country, Effect, Network, Scenario, ts_of

SOCIAL = ("x", "facebook", "instagram", "youtube")

PAKISTAN = Country(
    code="PK",
    utc_offset=5,
    volume=400_000.0,
    networks=(
        Network(17557, 0.22),  # PTCL, fixed line
        Network(45669, 0.24, mobile=True),  # Jazz
        Network(59257, 0.14, mobile=True),  # Zong
        Network(24499, 0.12, mobile=True),  # Telenor
        Network(9541, 0.07),  # Cybernet
        Network(23674, 0.05),  # Nayatel
    ),
    platforms={
        "youtube": 0.20,
        "facebook": 0.10,
        "instagram": 0.06,
        "x": 0.02,
        "tiktok": 0.08,
        "whatsapp": 0.05,
        "google": 0.07,
        "netflix": 0.04,
    },
    peak_hour=21.5,
)


def pk_2023_12_17() -> Scenario:
    """X, Facebook, Instagram and YouTube restricted nationwide for ~7 h on 2023-12-17 (PTI rally)."""
    start, end = ts_of("2023-12-17T15:00:00"), ts_of("2023-12-17T22:00:00")
    return Scenario(
        name="pk-2023-12-17",
        description=pk_2023_12_17.__doc__ or "",
        start=ts_of("2023-12-03T00:00:00"),
        end=ts_of("2023-12-18T06:00:00"),
        countries=(PAKISTAN,),
        effects=(
            Effect(
                label="social media restricted during online rally",
                kind="platform_restriction",
                country="PK",
                start=start,
                end=end,
                action="block",
                platforms=SOCIAL,
                factor=0.18,  # what still gets through: VPNs, caches
                fail_share=0.95,
                method="tls",
                ramp_bins=2,
            ),
        ),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "pk-2023-12-17": pk_2023_12_17,
}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None
