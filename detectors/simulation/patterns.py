"""Scenarios for what real feeds do that the first library lacked, each beside a benign look-alike.

Country-wide probes during a network outage, nationwide and per-network throttling, an outage in
the warm-up, recurring shutdowns at hourly cadence, partial and stepwise recoveries, feeds that
move their reporting hours or pause, platform-only feeds. `SETS` splits the whole library into a
tuning set and a validation set of *different scenarios*: detectors are tuned on the first only,
and the second is reported beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from restrictwatch.detectors.simulation.model import DAY, Country, Effect, Network, Scenario, ts_of
from restrictwatch.detectors.simulation.regional import REGIONAL, REGIONAL_VALIDATION
from restrictwatch.detectors.simulation.scenarios import (
    BRAZIL,
    IRAN,
    IRAQ,
    KENYA,
    PAKISTAN,
    RUSSIA,
    SCENARIOS,
    TURKEY,
    _at,
)

HOUR = 3600.0

NIGERIA = Country(
    code="NG",
    utc_offset=1,
    volume=300_000.0,
    networks=(
        Network(29465, 0.35, mobile=True),  # MTN
        Network(36873, 0.25, mobile=True),  # Airtel
        Network(37148, 0.15, mobile=True),  # Globacom
        Network(37282, 0.10),  # fixed
    ),
    platforms={"x": 0.03, "facebook": 0.12, "youtube": 0.15, "whatsapp": 0.06, "instagram": 0.07},
    peak_hour=21.0,
)


def ke_mobile_outage_country_probes() -> Scenario:
    """Kenya's largest mobile network dark for 8 h; probes are reported per country, not per ASN."""
    start = _at("2024-06-25", 10, KENYA)
    return Scenario(
        name="ke-mobile-outage-country-probes",
        description=ke_mobile_outage_country_probes.__doc__ or "",
        start=ts_of("2024-06-14T00:00:00"),
        end=ts_of("2024-06-28T00:00:00"),
        countries=(replace(KENYA, probe_scope="country"),),
        effects=(
            Effect(
                "safaricom dark",
                "network_outage",
                "KE",
                start,
                start + 8 * HOUR,
                "outage",
                asns=(33771,),
                factor=0.03,
                fail_share=0.97,
                method="timeout",
            ),
        ),
    )


def pk_nightly_mobile_country_probes() -> Scenario:
    """Mobile data off 22:00-06:00 local for six nights at hourly cadence; probes per country."""
    mobile = tuple(n.asn for n in PAKISTAN.networks if n.mobile)
    nights = tuple(
        Effect(
            f"nightly mobile shutdown {i + 1}",
            "network_outage",
            "PK",
            _at("2024-02-05", 22, PAKISTAN) + i * DAY,
            _at("2024-02-06", 6, PAKISTAN) + i * DAY,
            "outage",
            asns=mobile,
            factor=0.03,
            fail_share=0.97,
            method="timeout",
        )
        for i in range(6)
    )
    return Scenario(
        name="pk-nightly-mobile-country-probes",
        description=pk_nightly_mobile_country_probes.__doc__ or "",
        start=ts_of("2024-01-22T00:00:00"),
        end=ts_of("2024-02-13T00:00:00"),
        countries=(replace(PAKISTAN, probe_scope="country"),),
        effects=nights,
        bin_seconds=3600,
    )


def tr_nationwide_throttling() -> Scenario:
    """All traffic 35 % down with latency x3 for 10 h (probes pass); a holiday dip two days later."""
    start = _at("2022-11-13", 16, TURKEY)
    holiday = _at("2022-11-16", 0, TURKEY)
    return Scenario(
        name="tr-nationwide-throttling",
        description=tr_nationwide_throttling.__doc__ or "",
        start=ts_of("2022-11-01T00:00:00"),
        end=ts_of("2022-11-18T00:00:00"),
        countries=(TURKEY,),
        effects=(
            Effect(
                "nationwide throttling",
                "throttling",
                "TR",
                start,
                start + 10 * HOUR,
                "throttle",
                factor=0.65,
                fail_share=0.03,
                method="timeout",
                latency_factor=3.0,
                ramp_bins=3,
            ),
            Effect(
                "national holiday dip", "benign", "TR", holiday, holiday + DAY, "scale", factor=0.85
            ),
        ),
    )


def ng_network_throttling_hourly() -> Scenario:
    """Two mobile networks throttled (-40 %, latency x2.5) for 12 h at hourly cadence; a holiday dip."""
    start = _at("2024-10-14", 9, NIGERIA)
    holiday = _at("2024-10-17", 0, NIGERIA)
    return Scenario(
        name="ng-network-throttling-hourly",
        description=ng_network_throttling_hourly.__doc__ or "",
        start=ts_of("2024-10-01T00:00:00"),
        end=ts_of("2024-10-19T00:00:00"),
        countries=(NIGERIA,),
        effects=(
            Effect(
                "mtn and airtel throttled",
                "throttling",
                "NG",
                start,
                start + 12 * HOUR,
                "throttle",
                asns=(29465, 36873),
                factor=0.6,
                fail_share=0.03,
                method="timeout",
                latency_factor=2.5,
            ),
            Effect(
                "independence holiday dip",
                "benign",
                "NG",
                holiday,
                holiday + DAY,
                "scale",
                factor=0.85,
            ),
        ),
        bin_seconds=3600,
    )


def ir_outage_in_warmup_hourly() -> Scenario:
    """A national shutdown of 20 h on the second day of the data, at hourly cadence."""
    start = ts_of("2019-11-06T12:00:00")
    return Scenario(
        name="ir-outage-in-warmup-hourly",
        description=ir_outage_in_warmup_hourly.__doc__ or "",
        start=ts_of("2019-11-05T00:00:00"),
        end=ts_of("2019-11-15T00:00:00"),
        countries=(IRAN,),
        effects=(
            Effect(
                "shutdown in the warm-up",
                "network_outage",
                "IR",
                start,
                start + 20 * HOUR,
                "outage",
                factor=0.05,
                probes="silent",
            ),
        ),
        bin_seconds=3600,
    )


def ng_outage_in_warmup() -> Scenario:
    """A national shutdown of 30 h starting a day and a half into the data (5-minute bins)."""
    start = _at("2024-10-02", 14, NIGERIA)
    return Scenario(
        name="ng-outage-in-warmup",
        description=ng_outage_in_warmup.__doc__ or "",
        start=ts_of("2024-10-01T00:00:00"),
        end=ts_of("2024-10-10T00:00:00"),
        countries=(NIGERIA,),
        effects=(
            Effect(
                "shutdown in the warm-up",
                "network_outage",
                "NG",
                start,
                start + 30 * HOUR,
                "outage",
                factor=0.04,
                fail_share=0.97,
                method="timeout",
                ramp_bins=3,
            ),
        ),
    )


def iq_exam_shutdowns_hourly() -> Scenario:
    """Exam shutdowns 06:00-08:00 local for 15 mornings over three weeks, at hourly cadence."""
    days = [i for i in range(21) if i % 7 not in (4, 5)][:15]
    effects = tuple(
        Effect(
            f"exam shutdown day {n + 1}",
            "network_outage",
            "IQ",
            _at("2023-06-12", 6, IRAQ) + d * DAY,
            _at("2023-06-12", 8, IRAQ) + d * DAY,
            "outage",
            factor=0.05,
            probes="silent",
        )
        for n, d in enumerate(days)
    )
    return Scenario(
        name="iq-exam-shutdowns-hourly",
        description=iq_exam_shutdowns_hourly.__doc__ or "",
        start=ts_of("2023-06-01T00:00:00"),
        end=ts_of("2023-07-04T00:00:00"),
        countries=(IRAQ,),
        effects=effects,
        bin_seconds=3600,
    )


def ir_curfews_hourly() -> Scenario:
    """Evening mobile curfews 16:00-24:00 local for 21 nights running, at hourly cadence."""
    mobile = (197207, 44244)
    curfews = tuple(
        Effect(
            f"evening mobile curfew {i + 1}",
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
        for i in range(21)
    )
    return Scenario(
        name="ir-curfews-hourly",
        description=ir_curfews_hourly.__doc__ or "",
        start=ts_of("2022-09-10T00:00:00"),
        end=ts_of("2022-10-17T00:00:00"),
        countries=(IRAN,),
        effects=curfews,
        bin_seconds=3600,
    )


def pk_outage_partial_recovery() -> Scenario:
    """A grid failure: traffic to 5 % for 6 h, then back only to ~55 % for 18 h more (one incident)."""
    start = _at("2023-01-23", 7.5, PAKISTAN)
    return Scenario(
        name="pk-outage-partial-recovery",
        description=pk_outage_partial_recovery.__doc__ or "",
        start=ts_of("2023-01-09T00:00:00"),
        end=ts_of("2023-01-27T00:00:00"),
        countries=(PAKISTAN,),
        effects=(
            Effect(
                "grid failure until power is back everywhere",
                "network_outage",
                "PK",
                start,
                start + 24 * HOUR,
                "outage",
                factor=0.55,
                fail_share=0.4,
                method="timeout",
            ),
            Effect(
                "first hours: nearly everything dark",
                "network_outage",
                "PK",
                start,
                start + 6 * HOUR,
                "outage",
                factor=0.09,
                fail_share=0.95,
                method="timeout",
                labeled=False,
            ),
        ),
    )


def ir_stepwise_recovery() -> Scenario:
    """National shutdown: fixed lines back after two days, mobile networks only after four."""
    start = ts_of("2019-11-16T12:30:00")
    mobile = (197207, 44244)
    return Scenario(
        name="ir-stepwise-recovery",
        description=ir_stepwise_recovery.__doc__ or "",
        start=ts_of("2019-11-04T00:00:00"),
        end=ts_of("2019-11-23T00:00:00"),
        countries=(IRAN,),
        effects=(
            Effect(
                "national shutdown, stepwise end",
                "network_outage",
                "IR",
                start,
                start + 4 * DAY,
                "scale",
            ),
            Effect(
                "every network dark",
                "network_outage",
                "IR",
                start,
                start + 2 * DAY,
                "outage",
                factor=0.04,
                probes="silent",
                ramp_bins=3,
                labeled=False,
            ),
            Effect(
                "mobile still dark",
                "network_outage",
                "IR",
                start + 2 * DAY,
                start + 4 * DAY,
                "outage",
                asns=mobile,
                factor=0.04,
                fail_share=0.97,
                labeled=False,
            ),
        ),
    )


def pk_platform_only_feed() -> Scenario:
    """Per-platform traffic only (no totals, no probes), hourly: X blocked, then a national outage."""
    block = _at("2024-02-17", 14, PAKISTAN)
    outage = _at("2024-02-21", 10, PAKISTAN)
    holiday = _at("2024-02-24", 0, PAKISTAN)
    return Scenario(
        name="pk-platform-only-feed",
        description=pk_platform_only_feed.__doc__ or "",
        start=ts_of("2024-02-03T00:00:00"),
        end=ts_of("2024-02-27T00:00:00"),
        countries=(replace(PAKISTAN, traffic_views=("platform",), probed_platforms=()),),
        effects=(
            Effect(
                "x blocked",
                "platform_restriction",
                "PK",
                block,
                block + 30 * HOUR,
                "block",
                platforms=("x",),
                factor=0.15,
            ),
            Effect(
                "national outage",
                "network_outage",
                "PK",
                outage,
                outage + 5 * HOUR,
                "outage",
                factor=0.05,
            ),
            Effect("holiday dip", "benign", "PK", holiday, holiday + DAY, "scale", factor=0.85),
        ),
        bin_seconds=3600,
    )


def ru_platform_only_feed() -> Scenario:
    """Per-platform traffic only, 5-minute bins: YouTube blocked for 8 h, a football surge on it before."""
    surge = _at("2021-03-09", 19, RUSSIA)
    block = _at("2021-03-11", 12, RUSSIA)
    return Scenario(
        name="ru-platform-only-feed",
        description=ru_platform_only_feed.__doc__ or "",
        start=ts_of("2021-02-26T00:00:00"),
        end=ts_of("2021-03-13T00:00:00"),
        countries=(replace(RUSSIA, traffic_views=("platform",), probed_platforms=()),),
        effects=(
            Effect(
                "football surge",
                "benign",
                "RU",
                surge,
                surge + 3 * HOUR,
                "scale",
                platforms=("youtube",),
                factor=2.0,
            ),
            Effect(
                "youtube blocked",
                "platform_restriction",
                "RU",
                block,
                block + 8 * HOUR,
                "block",
                platforms=("youtube",),
                factor=0.2,
            ),
        ),
    )


def ir_lone_feed_pauses() -> Scenario:
    """One platform alone in its feed (hourly), pausing 26 h at month end; a block after the pause."""
    pause = ts_of("2022-09-30T12:00:00")
    block = _at("2022-10-05", 17, IRAN)
    return Scenario(
        name="ir-lone-feed-pauses",
        description=ir_lone_feed_pauses.__doc__ or "",
        start=ts_of("2022-09-10T00:00:00"),
        end=ts_of("2022-10-10T00:00:00"),
        countries=(
            replace(
                IRAN,
                platforms={"instagram": 0.14},
                traffic_views=("platform",),
                probed_platforms=(),
                traffic_source="transparency-report",
            ),
        ),
        effects=(
            Effect(
                "month-end pause of the feed",
                "benign",
                "IR",
                pause,
                pause + 26 * HOUR,
                "silence",
                source="transparency-report",
            ),
            Effect(
                "instagram blocked",
                "platform_restriction",
                "IR",
                block,
                block + 2 * DAY,
                "block",
                platforms=("instagram",),
                factor=0.2,
            ),
        ),
        bin_seconds=3600,
    )


def br_feed_moves_hours() -> Scenario:
    """Hourly records that move from :00 to :30 after ten days, and a lone feed gap: nothing to raise."""
    move = ts_of("2024-02-11T00:00:00")
    end = ts_of("2024-02-22T00:00:00")
    return Scenario(
        name="br-feed-moves-hours",
        description=br_feed_moves_hours.__doc__ or "",
        start=ts_of("2024-02-01T00:00:00"),
        end=end,
        countries=(BRAZIL,),
        effects=(
            Effect(
                "traffic reported at :30 from now on",
                "benign",
                "BR",
                move,
                end,
                "shift",
                source="edge-cdn",
                delay=1800,
            ),
            Effect(
                "probes reported at :30 from now on",
                "benign",
                "BR",
                move,
                end,
                "shift",
                source="probe-mesh",
                delay=1800,
            ),
        ),
        bin_seconds=3600,
    )


def ru_slow_campaign_hourly() -> Scenario:
    """X throttled in steps over weeks (-20 %, a month later -45 %, latency up each time), at
    hourly cadence; beside it YouTube drops 30 % for good in one step (a local cache now serves
    it: a benign level shift, probes unchanged)."""
    first = _at("2021-02-01", 12, RUSSIA)
    second = first + 28 * DAY
    end = second + 21 * DAY
    cache = _at("2021-02-15", 3, RUSSIA)
    return Scenario(
        name="ru-slow-campaign-hourly",
        description=ru_slow_campaign_hourly.__doc__ or "",
        start=ts_of("2021-01-04T00:00:00"),
        end=end + 7 * DAY,
        countries=(RUSSIA,),
        effects=(
            Effect(
                "x throttled in steps",
                "throttling",
                "RU",
                first,
                end,
                "throttle",
                platforms=("x",),
                factor=0.8,
                fail_share=0.02,
                method="timeout",
                latency_factor=1.6,
            ),
            Effect(
                "x throttled deeper",
                "throttling",
                "RU",
                second,
                end,
                "throttle",
                platforms=("x",),
                factor=0.56,
                fail_share=0.02,
                method="timeout",
                latency_factor=1.6,
                labeled=False,  # the same campaign: one incident
            ),
            Effect(
                "youtube served from a local cache",
                "benign",
                "RU",
                cache,
                end + 7 * DAY,
                "scale",
                platforms=("youtube",),
                factor=0.7,
            ),
        ),
        bin_seconds=3600,
    )


def ir_slow_campaign_daily() -> Scenario:
    """Instagram and WhatsApp slowed in steps at daily cadence (-25 %, three weeks later -50 %),
    probes still passing; beside it traffic grows 15 % in one step (a new network joins)."""
    first = ts_of("2022-06-01T00:00:00")
    second = first + 21 * DAY
    end = second + 21 * DAY
    growth = ts_of("2022-06-10T00:00:00")
    meta = ("instagram", "whatsapp")
    return Scenario(
        name="ir-slow-campaign-daily",
        description=ir_slow_campaign_daily.__doc__ or "",
        start=ts_of("2022-04-01T00:00:00"),
        end=end + 14 * DAY,
        countries=(IRAN,),
        effects=(
            Effect(
                "instagram and whatsapp slowed in steps",
                "throttling",
                "IR",
                first,
                end,
                "throttle",
                platforms=meta,
                factor=0.75,
                fail_share=0.02,
                method="timeout",
            ),
            Effect(
                "instagram and whatsapp slowed deeper",
                "throttling",
                "IR",
                second,
                end,
                "throttle",
                platforms=meta,
                factor=0.67,
                fail_share=0.02,
                method="timeout",
                labeled=False,
            ),
            Effect(
                "a new network lifts all traffic",
                "benign",
                "IR",
                growth,
                end + 14 * DAY,
                "scale",
                factor=1.15,
            ),
        ),
        bin_seconds=86400,
    )


def tr_slow_campaign_5min() -> Scenario:
    """Instagram throttled in steps over weeks (-25 %, three weeks later -50 %, latency up), at
    5-minute cadence; beside it Wikipedia drops 35 % for good in one step (a CDN change: a
    benign level shift, probes unchanged)."""
    first = _at("2022-10-03", 11, TURKEY)
    second = first + 21 * DAY
    end = second + 14 * DAY
    cdn = _at("2022-10-12", 4, TURKEY)
    return Scenario(
        name="tr-slow-campaign-5min",
        description=tr_slow_campaign_5min.__doc__ or "",
        start=ts_of("2022-09-05T00:00:00"),
        end=end + 5 * DAY,
        countries=(TURKEY,),
        effects=(
            Effect(
                "instagram throttled in steps",
                "throttling",
                "TR",
                first,
                end,
                "throttle",
                platforms=("instagram",),
                factor=0.75,
                fail_share=0.02,
                method="timeout",
                latency_factor=1.5,
            ),
            Effect(
                "instagram throttled deeper",
                "throttling",
                "TR",
                second,
                end,
                "throttle",
                platforms=("instagram",),
                factor=0.67,
                fail_share=0.02,
                method="timeout",
                latency_factor=1.5,
                labeled=False,  # the same campaign: one incident
            ),
            Effect(
                "wikipedia moved to another CDN",
                "benign",
                "TR",
                cdn,
                end + 5 * DAY,
                "scale",
                platforms=("wikipedia",),
                factor=0.65,
            ),
        ),
    )


def ir_week_shutdown_daily() -> Scenario:
    """A national shutdown of five days at daily cadence (every network dark, probes failing);
    three weeks later a holiday week with traffic 20 % lower, which must raise nothing."""
    start = ts_of("2019-11-16T00:00:00")
    holiday = start + 26 * DAY
    return Scenario(
        name="ir-week-shutdown-daily",
        description=ir_week_shutdown_daily.__doc__ or "",
        start=ts_of("2019-09-23T00:00:00"),
        end=holiday + 14 * DAY,
        countries=(IRAN,),
        effects=(
            Effect(
                "national shutdown",
                "network_outage",
                "IR",
                start,
                start + 5 * DAY,
                "outage",
                factor=0.05,
                fail_share=0.95,
            ),
            Effect("holiday week", "benign", "IR", holiday, holiday + 7 * DAY, "scale", factor=0.8),
        ),
        bin_seconds=86400,
    )


def ir_nationwide_throttling_daily() -> Scenario:
    """All traffic 40 % down with latency x3 for ten days at daily cadence, probes passing (a
    slowdown during protests); a month later a holiday week 20 % down, latency as ever."""
    start = ts_of("2022-10-03T00:00:00")
    holiday = start + 31 * DAY
    return Scenario(
        name="ir-nationwide-throttling-daily",
        description=ir_nationwide_throttling_daily.__doc__ or "",
        start=ts_of("2022-08-22T00:00:00"),
        end=holiday + 14 * DAY,
        countries=(IRAN,),
        effects=(
            Effect(
                "nationwide throttling",
                "throttling",
                "IR",
                start,
                start + 10 * DAY,
                "throttle",
                factor=0.6,
                fail_share=0.03,
                method="timeout",
                latency_factor=3.0,
            ),
            Effect("holiday week", "benign", "IR", holiday, holiday + 7 * DAY, "scale", factor=0.8),
        ),
        bin_seconds=86400,
    )


def pk_stepwise_recovery_hourly() -> Scenario:
    """Every network dark for 12 h at hourly cadence; fixed lines back first, the mobile networks
    a day later; a week on, a holiday evening 15 % down."""
    start = ts_of("2023-05-09T10:00:00")
    mobile = (45669, 59257, 24499)
    holiday = _at("2023-05-17", 18, PAKISTAN)
    return Scenario(
        name="pk-stepwise-recovery-hourly",
        description=pk_stepwise_recovery_hourly.__doc__ or "",
        start=ts_of("2023-04-24T00:00:00"),
        end=ts_of("2023-05-22T00:00:00"),
        countries=(PAKISTAN,),
        effects=(
            Effect(
                "national shutdown, stepwise end",
                "network_outage",
                "PK",
                start,
                start + 36 * HOUR,
                "scale",
            ),
            Effect(
                "every network dark",
                "network_outage",
                "PK",
                start,
                start + 12 * HOUR,
                "outage",
                factor=0.03,
                fail_share=0.97,
                labeled=False,
            ),
            Effect(
                "mobile still dark",
                "network_outage",
                "PK",
                start + 12 * HOUR,
                start + 36 * HOUR,
                "outage",
                asns=mobile,
                factor=0.03,
                fail_share=0.97,
                labeled=False,
            ),
            Effect(
                "holiday evening", "benign", "PK", holiday, holiday + 6 * HOUR, "scale", factor=0.85
            ),
        ),
        bin_seconds=3600,
    )


def tr_nationwide_throttling_hourly() -> Scenario:
    """All traffic 35 % down with latency x3 for 14 h at hourly cadence, probes reported per
    country and passing; a holiday day 15 % down three days later."""
    start = _at("2022-11-13", 14, TURKEY)
    holiday = _at("2022-11-17", 0, TURKEY)
    return Scenario(
        name="tr-nationwide-throttling-hourly",
        description=tr_nationwide_throttling_hourly.__doc__ or "",
        start=ts_of("2022-10-30T00:00:00"),
        end=ts_of("2022-11-21T00:00:00"),
        countries=(replace(TURKEY, probe_scope="country"),),
        effects=(
            Effect(
                "nationwide throttling",
                "throttling",
                "TR",
                start,
                start + 14 * HOUR,
                "throttle",
                factor=0.65,
                fail_share=0.03,
                method="timeout",
                latency_factor=3.0,
            ),
            Effect(
                "national holiday dip", "benign", "TR", holiday, holiday + DAY, "scale", factor=0.85
            ),
        ),
        bin_seconds=3600,
    )


def ng_outage_in_warmup_daily() -> Scenario:
    """A national shutdown of three days starting on the second day of the data, at daily
    cadence (every network dark, probes failing)."""
    start = ts_of("2024-10-02T00:00:00")
    return Scenario(
        name="ng-outage-in-warmup-daily",
        description=ng_outage_in_warmup_daily.__doc__ or "",
        start=ts_of("2024-10-01T00:00:00"),
        end=ts_of("2024-11-10T00:00:00"),
        countries=(NIGERIA,),
        effects=(
            Effect(
                "shutdown in the warm-up",
                "network_outage",
                "NG",
                start,
                start + 3 * DAY,
                "outage",
                factor=0.04,
                fail_share=0.97,
            ),
        ),
        bin_seconds=86400,
    )


def pk_partial_recovery_daily() -> Scenario:
    """A grid failure at daily cadence: every network dark for two days, then back only to ~55 %
    for three more (one incident, ending where traffic is back); a holiday day 20 % down later."""
    start = ts_of("2023-01-23T00:00:00")
    holiday = start + 20 * DAY
    return Scenario(
        name="pk-partial-recovery-daily",
        description=pk_partial_recovery_daily.__doc__ or "",
        start=ts_of("2022-12-01T00:00:00"),
        end=holiday + 10 * DAY,
        countries=(PAKISTAN,),
        effects=(
            Effect(
                "grid failure, partial recovery",
                "network_outage",
                "PK",
                start,
                start + 5 * DAY,
                "scale",
            ),
            Effect(
                "every network dark",
                "network_outage",
                "PK",
                start,
                start + 2 * DAY,
                "outage",
                factor=0.05,
                fail_share=0.95,
                labeled=False,
            ),
            Effect(
                "back to about half",
                "network_outage",
                "PK",
                start + 2 * DAY,
                start + 5 * DAY,
                "scale",
                factor=0.55,
                labeled=False,
            ),
            Effect("holiday day", "benign", "PK", holiday, holiday + DAY, "scale", factor=0.8),
        ),
        bin_seconds=86400,
    )


PATTERNS: dict[str, Callable[[], Scenario]] = {
    "ke-mobile-outage-country-probes": ke_mobile_outage_country_probes,
    "pk-nightly-mobile-country-probes": pk_nightly_mobile_country_probes,
    "tr-nationwide-throttling": tr_nationwide_throttling,
    "ng-network-throttling-hourly": ng_network_throttling_hourly,
    "ir-outage-in-warmup-hourly": ir_outage_in_warmup_hourly,
    "ng-outage-in-warmup": ng_outage_in_warmup,
    "iq-exam-shutdowns-hourly": iq_exam_shutdowns_hourly,
    "ir-curfews-hourly": ir_curfews_hourly,
    "pk-outage-partial-recovery": pk_outage_partial_recovery,
    "ir-stepwise-recovery": ir_stepwise_recovery,
    "pk-platform-only-feed": pk_platform_only_feed,
    "ru-platform-only-feed": ru_platform_only_feed,
    "ir-lone-feed-pauses": ir_lone_feed_pauses,
    "br-feed-moves-hours": br_feed_moves_hours,
    "ru-slow-campaign-hourly": ru_slow_campaign_hourly,
    "ir-slow-campaign-daily": ir_slow_campaign_daily,
    "tr-slow-campaign-5min": tr_slow_campaign_5min,
    "ir-week-shutdown-daily": ir_week_shutdown_daily,
    "ir-nationwide-throttling-daily": ir_nationwide_throttling_daily,
    "pk-stepwise-recovery-hourly": pk_stepwise_recovery_hourly,
    "tr-nationwide-throttling-hourly": tr_nationwide_throttling_hourly,
    "ng-outage-in-warmup-daily": ng_outage_in_warmup_daily,
    "pk-partial-recovery-daily": pk_partial_recovery_daily,
}

# Scenarios whose incident lies inside the detector's warm-up on purpose: every other incident has a
# week of history before it.
IN_WARMUP: frozenset[str] = frozenset(
    {"ir-outage-in-warmup-hourly", "ng-outage-in-warmup", "ng-outage-in-warmup-daily"}
)

# The validation set is never tuned on: at least one scenario of each new pattern, and three of the first
# library, held out. Everything else is the tuning set.
VALIDATION: frozenset[str] = frozenset(
    {
        "ke-mobile-outage-country-probes",
        "ng-network-throttling-hourly",
        "ng-outage-in-warmup",
        "ir-curfews-hourly",
        "ir-stepwise-recovery",
        "ru-platform-only-feed",
        "ir-lone-feed-pauses",
        "br-feed-moves-hours",
        "ir-slow-campaign-daily",
        "ir-week-shutdown-daily",
        "pk-stepwise-recovery-hourly",
        "ng-outage-in-warmup-daily",
        "pk-partial-recovery-daily",
        "et-partial-blocking",
        "ru-x-throttling",
        "mm-feed-faults",
    }
    | REGIONAL_VALIDATION
)

SCENARIOS.update(PATTERNS)
SCENARIOS.update(REGIONAL)
