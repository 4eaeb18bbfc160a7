"""The scenario library: named, labeled situations to replay and score detectors on.

Each scenario keeps at least a week of quiet history before its first incident, so detectors are
judged after they could have learned the weekly rhythm, as they would be in service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from restrictwatch.detectors.simulation.model import DAY, Country, Effect, Network, Scenario, ts_of

SOCIAL = ("x", "facebook", "instagram", "youtube")
HOUR = 3600.0

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

IRAN = Country(
    code="IR",
    utc_offset=3.5,
    volume=250_000.0,
    networks=(
        Network(197207, 0.38, mobile=True),  # MCI
        Network(44244, 0.22, mobile=True),  # Irancell
        Network(58224, 0.20),  # TCI, fixed line
        Network(31549, 0.08),  # Shatel
    ),
    platforms={
        "instagram": 0.14,
        "whatsapp": 0.07,
        "telegram": 0.05,
        "google": 0.08,
        "youtube": 0.06,
    },
    peak_hour=22.0,
    depth=0.5,
    weekly=(1.0, 1.0, 1.0, 1.03, 1.08, 1.06, 1.0),
)

ETHIOPIA = Country(
    code="ET",
    utc_offset=3,
    volume=6_000.0,  # small and noisy
    networks=(Network(24757, 0.85, mobile=True, probes=12), Network(328988, 0.10, probes=8)),
    platforms={"facebook": 0.12, "telegram": 0.08, "youtube": 0.10, "tiktok": 0.05, "x": 0.02},
    peak_hour=20.0,
    depth=0.55,
    noise=0.04,
    probe_success=0.95,
)

RUSSIA = Country(
    code="RU",
    utc_offset=3,
    volume=900_000.0,
    networks=(
        Network(12389, 0.30),
        Network(8359, 0.20, mobile=True),
        Network(3216, 0.18, mobile=True),
        Network(25513, 0.12),
    ),
    platforms={"x": 0.03, "youtube": 0.18, "telegram": 0.06, "vk": 0.10, "google": 0.06},
    peak_hour=21.0,
)

IRAQ = Country(
    code="IQ",
    utc_offset=3,
    volume=120_000.0,
    networks=(
        Network(59588, 0.35, mobile=True),
        Network(50710, 0.25, mobile=True),
        Network(199739, 0.2),
    ),
    platforms={"facebook": 0.12, "youtube": 0.15, "telegram": 0.05, "tiktok": 0.08},
    peak_hour=22.5,
    depth=0.5,
    weekly=(1.0, 1.0, 1.0, 1.02, 1.06, 1.04, 1.0),
)

KENYA = Country(
    code="KE",
    utc_offset=3,
    volume=40_000.0,
    networks=(
        Network(33771, 0.55, mobile=True, probes=20),  # Safaricom
        Network(36926, 0.18, mobile=True, probes=15),  # Airtel
        Network(37061, 0.11, probes=10),  # a small ISP: < 15 % of the country
    ),
    platforms={"facebook": 0.10, "youtube": 0.14, "x": 0.03, "whatsapp": 0.06, "tiktok": 0.06},
    peak_hour=21.0,
    noise=0.03,
)

TURKEY = Country(
    code="TR",
    utc_offset=3,
    volume=500_000.0,
    networks=(
        Network(9121, 0.40),
        Network(16135, 0.22, mobile=True),
        Network(15897, 0.18, mobile=True),
    ),
    platforms={"x": 0.03, "youtube": 0.16, "instagram": 0.08, "discord": 0.02, "wikipedia": 0.01},
    peak_hour=21.5,
)

BRAZIL = Country(
    code="BR",
    utc_offset=-3,
    volume=1_200_000.0,
    networks=(Network(28573, 0.3), Network(26599, 0.25, mobile=True), Network(18881, 0.2)),
    platforms={"youtube": 0.2, "netflix": 0.12, "whatsapp": 0.06, "instagram": 0.08, "x": 0.02},
    peak_hour=21.0,
    depth=0.4,
    weekly=(0.98, 0.98, 0.98, 0.99, 1.0, 1.06, 1.08),
)

MYANMAR = Country(
    code="MM",
    utc_offset=6.5,
    volume=80_000.0,
    networks=(
        Network(136255, 0.35, mobile=True),
        Network(133385, 0.3, mobile=True),
        Network(9988, 0.2),
    ),
    platforms={"facebook": 0.25, "youtube": 0.1, "tiktok": 0.06, "x": 0.01},
    peak_hour=20.5,
    depth=0.5,
)


def _at(day: str, hour: float, country: Country) -> float:
    """UTC epoch seconds of a local wall-clock hour on a day."""
    return ts_of(f"{day}T00:00:00") + (hour - country.utc_offset) * HOUR


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


def ir_shutdown() -> Scenario:
    """A national shutdown of ~3.5 days (Iran, Nov 2019): traffic to a few %, probes silent."""
    start = ts_of("2019-11-16T12:30:00")
    return Scenario(
        name="ir-national-shutdown",
        description=ir_shutdown.__doc__ or "",
        start=ts_of("2019-11-05T00:00:00"),
        end=ts_of("2019-11-22T00:00:00"),
        countries=(IRAN,),
        effects=(
            Effect(
                "national shutdown",
                "network_outage",
                "IR",
                start,
                start + 3.5 * DAY,
                "outage",
                factor=0.04,
                probes="silent",
                ramp_bins=3,
            ),
        ),
    )


def pk_mobile_shutdown() -> Scenario:
    """Mobile networks cut on election day (Pakistan, 2024-02-08) while fixed lines stay up."""
    start = _at("2024-02-08", 7, PAKISTAN)
    mobile = tuple(n.asn for n in PAKISTAN.networks if n.mobile)
    return Scenario(
        name="pk-mobile-shutdown",
        description=pk_mobile_shutdown.__doc__ or "",
        start=ts_of("2024-01-28T00:00:00"),
        end=ts_of("2024-02-11T00:00:00"),
        countries=(PAKISTAN,),
        effects=(
            Effect(
                "mobile shutdown on election day",
                "network_outage",
                "PK",
                start,
                start + 30 * HOUR,
                "outage",
                asns=mobile,
                factor=0.03,
                fail_share=0.97,
                method="timeout",
            ),
        ),
    )


def ke_small_asn() -> Scenario:
    """One small ISP (11 % of Kenya's traffic) goes dark for 6 h; the national total barely moves."""
    start = _at("2024-06-25", 14, KENYA)
    return Scenario(
        name="ke-small-asn-outage",
        description=ke_small_asn.__doc__ or "",
        start=ts_of("2024-06-14T00:00:00"),
        end=ts_of("2024-06-28T00:00:00"),
        countries=(KENYA,),
        effects=(
            Effect(
                "small ISP dark",
                "network_outage",
                "KE",
                start,
                start + 6 * HOUR,
                "outage",
                asns=(37061,),
                factor=0.02,
                fail_share=0.98,
                method="timeout",
            ),
        ),
    )


def ir_long_block() -> Scenario:
    """Instagram and WhatsApp blocked for three weeks (Iran, Sep 2022) with nightly mobile curfews beside it."""
    block = _at("2022-09-21", 17, IRAN)
    mobile = (197207, 44244)
    curfews = tuple(
        Effect(
            f"evening mobile curfew day {i + 1}",
            "network_outage",
            "IR",
            _at("2022-09-24", 16, IRAN) + i * DAY,
            _at("2022-09-24", 24, IRAN) + i * DAY,
            "outage",
            asns=mobile,
            factor=0.05,
            fail_share=0.97,
            method="timeout",
        )
        for i in range(5)
    )
    return Scenario(
        name="ir-instagram-weeks",
        description=ir_long_block.__doc__ or "",
        start=ts_of("2022-09-10T00:00:00"),
        end=ts_of("2022-10-16T00:00:00"),
        countries=(IRAN,),
        effects=(
            Effect(
                "instagram and whatsapp blocked",
                "platform_restriction",
                "IR",
                block,
                block + 21 * DAY,
                "block",
                platforms=("instagram", "whatsapp"),
                factor=0.2,
                fail_share=0.96,
                method="tls",
            ),
            *curfews,
        ),
    )


def tr_dns_tls() -> Scenario:
    """X blocked by DNS tampering, later Wikipedia by SNI filtering (Turkey)."""
    dns = _at("2023-02-08", 16, TURKEY)
    tls = _at("2023-02-12", 10, TURKEY)
    return Scenario(
        name="tr-dns-and-sni-blocks",
        description=tr_dns_tls.__doc__ or "",
        start=ts_of("2023-01-30T00:00:00"),
        end=ts_of("2023-02-14T00:00:00"),
        countries=(TURKEY,),
        effects=(
            Effect(
                "x blocked by dns",
                "platform_restriction",
                "TR",
                dns,
                dns + 12 * HOUR,
                "block",
                platforms=("x",),
                factor=0.25,
                fail_share=0.93,
                method="dns",
            ),
            Effect(
                "wikipedia blocked by sni",
                "platform_restriction",
                "TR",
                tls,
                tls + 9 * HOUR,
                "block",
                platforms=("wikipedia",),
                factor=0.2,
                fail_share=0.95,
                method="tls",
            ),
        ),
    )


def et_partial() -> Scenario:
    """Partial blocking in a small, noisy country: 30-60 % of probes to Telegram and Facebook fail."""
    start = _at("2023-03-09", 12, ETHIOPIA)
    second = _at("2023-03-12", 9, ETHIOPIA)
    return Scenario(
        name="et-partial-blocking",
        description=et_partial.__doc__ or "",
        start=ts_of("2023-02-27T00:00:00"),
        end=ts_of("2023-03-14T00:00:00"),
        countries=(ETHIOPIA,),
        effects=(
            Effect(
                "telegram partially blocked",
                "platform_restriction",
                "ET",
                start,
                start + 10 * HOUR,
                "block",
                platforms=("telegram",),
                factor=0.5,
                fail_share=0.5,
                method="tcp",
            ),
            Effect(
                "facebook partially blocked",
                "platform_restriction",
                "ET",
                second,
                second + 8 * HOUR,
                "block",
                platforms=("facebook",),
                factor=0.6,
                fail_share=0.35,
                method="tls",
            ),
        ),
    )


def ru_throttle() -> Scenario:
    """X throttled (Russia, Mar 2021): volume -40 %, latency x3, few hard failures."""
    start = _at("2021-03-10", 10, RUSSIA)
    second = _at("2021-03-13", 15, RUSSIA)
    return Scenario(
        name="ru-x-throttling",
        description=ru_throttle.__doc__ or "",
        start=ts_of("2021-02-28T00:00:00"),
        end=ts_of("2021-03-15T00:00:00"),
        countries=(RUSSIA,),
        effects=(
            Effect(
                "x throttled",
                "throttling",
                "RU",
                start,
                start + 36 * HOUR,
                "throttle",
                platforms=("x",),
                factor=0.6,
                fail_share=0.04,
                method="timeout",
                latency_factor=3.0,
            ),
            Effect(
                "youtube throttled",
                "throttling",
                "RU",
                second,
                second + 8 * HOUR,
                "throttle",
                platforms=("youtube",),
                factor=0.7,
                fail_share=0.03,
                method="timeout",
                latency_factor=2.5,
            ),
        ),
    )


def iq_exams() -> Scenario:
    """Exam-season shutdowns (Iraq): the whole country off 06:00-08:00 local, five mornings running."""
    effects = tuple(
        Effect(
            f"exam shutdown day {i + 1}",
            "network_outage",
            "IQ",
            _at("2023-06-13", 6, IRAQ) + i * DAY,
            _at("2023-06-13", 8, IRAQ) + i * DAY,
            "outage",
            factor=0.05,
            probes="silent",
        )
        for i in range(5)
    )
    return Scenario(
        name="iq-exam-shutdowns",
        description=iq_exams.__doc__ or "",
        start=ts_of("2023-06-02T00:00:00"),
        end=ts_of("2023-06-20T00:00:00"),
        countries=(IRAQ,),
        effects=effects,
    )


def br_benign() -> Scenario:
    """Look-alikes that must raise nothing: a holiday, a football-final surge, a lasting upward shift, gaps."""
    holiday = ts_of("2024-02-12T03:00:00")
    surge = _at("2024-02-15", 16, BRAZIL)
    shift = _at("2024-02-17", 0, BRAZIL)
    end = ts_of("2024-02-22T00:00:00")
    return Scenario(
        name="br-benign-lookalikes",
        description=br_benign.__doc__ or "",
        start=ts_of("2024-02-01T00:00:00"),
        end=end,
        countries=(BRAZIL,),
        effects=(
            Effect(
                "carnival holiday dip", "benign", "BR", holiday, holiday + DAY, "scale", factor=0.85
            ),
            Effect(
                "football final surge",
                "benign",
                "BR",
                surge,
                surge + 3 * HOUR,
                "scale",
                platforms=("youtube",),
                factor=2.0,
            ),
            Effect(
                "cdn change lifts netflix for good",
                "benign",
                "BR",
                shift,
                end,
                "scale",
                platforms=("netflix",),
                factor=1.4,
            ),
            Effect(
                "gaps of a few bins",
                "benign",
                "BR",
                ts_of("2024-02-08T00:00:00"),
                end,
                "gaps",
                fail_share=0.01,
            ),
        ),
    )


def mm_feed_faults() -> Scenario:
    """Measurement faults that must raise nothing: probes silent everywhere, a late feed, duplicates."""
    silent = ts_of("2024-03-12T06:00:00")
    late = ts_of("2024-03-13T00:00:00")
    return Scenario(
        name="mm-feed-faults",
        description=mm_feed_faults.__doc__ or "",
        start=ts_of("2024-03-01T00:00:00"),
        end=ts_of("2024-03-16T00:00:00"),
        countries=(MYANMAR,),
        effects=(
            Effect(
                "probe fleet silent",
                "benign",
                "*",
                silent,
                silent + 6 * HOUR,
                "silence",
                source="probe-mesh",
            ),
            Effect(
                "traffic feed 20 min late",
                "benign",
                "*",
                late,
                late + DAY,
                "late",
                source="edge-cdn",
                delay=1200,
            ),
            Effect(
                "duplicated probe records",
                "benign",
                "*",
                ts_of("2024-03-10T00:00:00"),
                ts_of("2024-03-16T00:00:00"),
                "duplicate",
                source="probe-mesh",
                fail_share=0.05,
            ),
        ),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "pk-2023-12-17": pk_2023_12_17,
    "ir-national-shutdown": ir_shutdown,
    "pk-mobile-shutdown": pk_mobile_shutdown,
    "ke-small-asn-outage": ke_small_asn,
    "ir-instagram-weeks": ir_long_block,
    "tr-dns-and-sni-blocks": tr_dns_tls,
    "et-partial-blocking": et_partial,
    "ru-x-throttling": ru_throttle,
    "iq-exam-shutdowns": iq_exams,
    "br-benign-lookalikes": br_benign,
    "mm-feed-faults": mm_feed_faults,
}


def scenario_set(name: str) -> str:
    """ "tuning" or "validation": which half of the library a scenario belongs to."""
    from restrictwatch.detectors.simulation.patterns import VALIDATION

    return "validation" if name in VALIDATION else "tuning"


SETS = ("tuning", "validation")


def select_scenarios(selectors: Sequence[str]) -> list[str]:
    """Scenario names from names and the selectors 'all', 'tuning' and 'validation', in library
    order, each once; an unknown name raises KeyError."""
    chosen: set[str] = set()
    for sel in selectors:
        if sel == "all":
            chosen.update(SCENARIOS)
        elif sel in SETS:
            chosen.update(n for n in SCENARIOS if scenario_set(n) == sel)
        elif sel in SCENARIOS:
            chosen.add(sel)
        else:
            raise KeyError(
                f"unknown scenario {sel!r}; known: all, tuning, validation, "
                f"{', '.join(sorted(SCENARIOS))}"
            )
    return [n for n in SCENARIOS if n in chosen]


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise KeyError(
            f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}"
        ) from None


def country_days(s: Scenario) -> float:
    return len(s.countries) * (s.end - s.start) / DAY
