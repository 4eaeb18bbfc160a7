"""Regional scenarios: shutdowns of one province, a storm's power cut, regional look-alikes.

IODA's curated outage list is 42 % regional. A regional shutdown hides inside a country total that
moves a few percent; these scenarios carry each region's own series (ISO 3166-2 `region` on the
records) beside the country's, and check that a regional incident is one event with region scope,
that the country total's dip is not a second event, and that a nationwide outage seen in every
region is one country event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from restrictwatch.detectors.simulation.model import (
    Country,
    Effect,
    Network,
    Region,
    Scenario,
    ts_of,
)
from restrictwatch.detectors.simulation.scenarios import IRAQ, PAKISTAN, TURKEY, _at

HOUR = 3600.0

PAKISTAN_REGIONS = replace(
    PAKISTAN,
    regions=(
        Region("PK-PB", 0.53),  # Punjab
        Region("PK-SD", 0.24),  # Sindh
        Region("PK-KP", 0.12),  # Khyber Pakhtunkhwa
        Region("PK-IS", 0.06),  # Islamabad
        Region("PK-BA", 0.05),  # Balochistan: ~10 probes per platform and bin, noisy
    ),
    region_views=("region", "region_platform", "region_probes"),
)

INDIA = Country(
    code="IN",
    utc_offset=5.5,
    volume=2_000_000.0,
    networks=(
        Network(55836, 0.40, mobile=True),  # Reliance Jio
        Network(45609, 0.30, mobile=True),  # Airtel
        Network(38266, 0.15, mobile=True),  # Vodafone Idea
        Network(9829, 0.08),  # BSNL
    ),
    platforms={"youtube": 0.22, "whatsapp": 0.06, "instagram": 0.08, "facebook": 0.06, "x": 0.01},
    peak_hour=21.5,
    regions=(
        Region("IN-MH", 0.30),  # Maharashtra
        Region("IN-UP", 0.25),  # Uttar Pradesh
        Region("IN-KA", 0.20),  # Karnataka
        Region("IN-KL", 0.12),  # Kerala
        Region("IN-OD", 0.09),  # Odisha
        Region("IN-JK", 0.04),  # Jammu and Kashmir
    ),
    region_views=("region", "region_platform", "region_probes"),
)

IRAQ_REGIONS = replace(
    IRAQ,
    regions=(
        Region("IQ-BG", 0.40),  # Baghdad
        Region("IQ-BA", 0.20),  # Basra
        Region("IQ-NI", 0.15),  # Nineveh
        Region("IQ-AR", 0.15),  # Erbil, Kurdistan Region: its own exam schedule
        Region("IQ-SU", 0.10),  # Sulaymaniyah, Kurdistan Region
    ),
)

TURKEY_REGIONS = replace(
    TURKEY,
    regions=(
        Region("TR-34", 0.45),  # Istanbul
        Region("TR-06", 0.25),  # Ankara
        Region("TR-35", 0.20),  # Izmir
        Region("TR-21", 0.10),  # Diyarbakir
    ),
    region_views=("region", "region_platform", "region_probes"),
    probe_scope="country",
)


def pk_balochistan_shutdown() -> Scenario:
    """Balochistan (5 % of Pakistan's traffic) cut off for 36 h; a storm's power cut across Sindh
    (ramping in, traffic to 40 %, probes failing) for 12 h; a regional holiday evening in Sindh
    (-20 %). The national total dips: one regional event each, nothing else."""
    start = ts_of("2024-02-07T18:00:00")
    storm = ts_of("2024-02-10T09:00:00")
    holiday = _at("2024-02-12", 17, PAKISTAN)
    return Scenario(
        name="pk-balochistan-shutdown",
        description=pk_balochistan_shutdown.__doc__ or "",
        start=ts_of("2024-01-27T00:00:00"),
        end=ts_of("2024-02-14T00:00:00"),
        countries=(PAKISTAN_REGIONS,),
        effects=(
            Effect(
                "Balochistan cut off",
                "network_outage",
                "PK",
                start,
                start + 36 * HOUR,
                "outage",
                factor=0.04,
                fail_share=0.96,
                regions=("PK-BA",),
            ),
            Effect(
                "storm power cut across Sindh",
                "network_outage",
                "PK",
                storm,
                storm + 12 * HOUR,
                "outage",
                factor=0.4,
                fail_share=0.6,
                ramp_bins=4,
                regions=("PK-SD",),
            ),
            Effect(
                "regional holiday evening in Sindh",
                "benign",
                "PK",
                holiday,
                holiday + 6 * HOUR,
                "scale",
                factor=0.8,
                regions=("PK-SD",),
            ),
        ),
    )


def in_kashmir_shutdown_hourly() -> Scenario:
    """Jammu and Kashmir dark for four days at hourly cadence; a week later a cyclone cuts power
    across Odisha for 30 h (an outage, whatever its cause); a regional holiday in Kerala (-15 %)."""
    start = ts_of("2019-08-05T00:00:00")
    storm = ts_of("2019-08-13T12:00:00")
    holiday = _at("2019-08-20", 8, INDIA)
    return Scenario(
        name="in-kashmir-shutdown-hourly",
        description=in_kashmir_shutdown_hourly.__doc__ or "",
        start=ts_of("2019-07-20T00:00:00"),
        end=ts_of("2019-08-24T00:00:00"),
        countries=(INDIA,),
        effects=(
            Effect(
                "Jammu and Kashmir shut down",
                "network_outage",
                "IN",
                start,
                start + 4 * 24 * HOUR,
                "outage",
                factor=0.03,
                fail_share=0.97,
                regions=("IN-JK",),
            ),
            Effect(
                "cyclone power cut in Odisha",
                "network_outage",
                "IN",
                storm,
                storm + 30 * HOUR,
                "outage",
                factor=0.35,
                fail_share=0.6,
                ramp_bins=2,
                regions=("IN-OD",),
            ),
            Effect(
                "regional holiday in Kerala",
                "benign",
                "IN",
                holiday,
                holiday + 14 * HOUR,
                "scale",
                factor=0.85,
                regions=("IN-KL",),
            ),
        ),
        bin_seconds=3600,
    )


def iq_exams_outside_kurdistan() -> Scenario:
    """Exam shutdowns in federal Iraq, 06:00-08:00 local for three mornings, while the Kurdistan
    Region stays up (one event scoped to the federal regions each morning); then a nationwide
    outage of 5 h in every region (one country event, not one per region)."""
    days = ("2023-06-12", "2023-06-13", "2023-06-14")
    federal = ("IQ-BG", "IQ-BA", "IQ-NI")
    national = _at("2023-06-18", 13, IRAQ)
    effects = [
        Effect(
            f"exam shutdown {day}",
            "network_outage",
            "IQ",
            _at(day, 6, IRAQ),
            _at(day, 8, IRAQ),
            "outage",
            factor=0.05,
            fail_share=0.95,
            regions=federal,
        )
        for day in days
    ]
    effects.append(
        Effect(
            "nationwide outage",
            "network_outage",
            "IQ",
            national,
            national + 5 * HOUR,
            "outage",
            factor=0.04,
            fail_share=0.96,
        )
    )
    return Scenario(
        name="iq-exams-outside-kurdistan",
        description=iq_exams_outside_kurdistan.__doc__ or "",
        start=ts_of("2023-06-01T00:00:00"),
        end=ts_of("2023-06-20T00:00:00"),
        countries=(IRAQ_REGIONS,),
        effects=tuple(effects),
    )


def tr_regional_social_block() -> Scenario:
    """X and YouTube blocked in Diyarbakir only for 10 h (5-minute bins, probes per region); two
    days later all traffic in Izmir 25 % down for an evening (a regional event, benign)."""
    start = _at("2016-11-04", 1, TURKEY)
    dip = _at("2016-11-06", 18, TURKEY)
    return Scenario(
        name="tr-regional-social-block",
        description=tr_regional_social_block.__doc__ or "",
        start=ts_of("2016-10-24T00:00:00"),
        end=ts_of("2016-11-09T00:00:00"),
        countries=(TURKEY_REGIONS,),
        effects=(
            Effect(
                "X and YouTube blocked in Diyarbakir",
                "platform_restriction",
                "TR",
                start,
                start + 10 * HOUR,
                "block",
                platforms=("x", "youtube"),
                factor=0.1,
                fail_share=0.9,
                method="tls",
                regions=("TR-21",),
            ),
            Effect(
                "regional evening dip in Izmir",
                "benign",
                "TR",
                dip,
                dip + 5 * HOUR,
                "scale",
                factor=0.75,
                regions=("TR-35",),
            ),
        ),
    )


REGIONAL: dict[str, Callable[[], Scenario]] = {
    "pk-balochistan-shutdown": pk_balochistan_shutdown,
    "in-kashmir-shutdown-hourly": in_kashmir_shutdown_hourly,
    "iq-exams-outside-kurdistan": iq_exams_outside_kurdistan,
    "tr-regional-social-block": tr_regional_social_block,
}

# Held out of tuning: see `detectors.simulation.patterns.VALIDATION`. in-kashmir-shutdown-hourly
# was held out too until its seed-3 false event (X "restricted" as Odisha's power cut ramped in)
# was studied and its cause fixed: tuned on since, it belongs to the tuning set.
REGIONAL_VALIDATION: frozenset[str] = frozenset({"tr-regional-social-block"})
