from __future__ import annotations

from restrictwatch.detectors.config import Config, Thresholds
from restrictwatch.detectors.correlate import NORMAL, classify_bin
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.series import Verdict
from restrictwatch.detectors.vocabulary import OUTAGE, RESTRICTION, THROTTLING

T = Thresholds()


def tv(
    observed: float,
    expected: float,
    asn: int | None = None,
    platform: str | None = None,
    z: float | None = None,
) -> Verdict:
    key = SeriesKey("traffic", "cdn", "PK", asn, platform)
    if z is None:
        z = -20.0 if observed < expected * 0.9 else 0.0
    return Verdict(key, observed, expected, z, True)


def rv(
    ok_rate: float, asn: int, platform: str, z: float | None = None, expected: float = 0.98
) -> Verdict:
    key = SeriesKey("reachability", "probes", "PK", asn, platform)
    if z is None:
        z = -20.0 if ok_rate < expected * 0.8 else 0.0
    return Verdict(key, ok_rate, expected, z, True, (0, 0, 30, 0, 0))


def classify(*verdicts: Verdict):  # type: ignore[no-untyped-def]
    return classify_bin(list(verdicts), {v.key: T for v in verdicts})


def test_holiday_dip_everywhere_is_not_a_platform_problem() -> None:
    out = classify(tv(850, 1000), tv(82, 100, platform="x"), tv(170, 200, platform="youtube"))
    assert not any(o.anomalous for o in out.values())


def test_one_platform_collapsing_is_a_restriction() -> None:
    out = classify(tv(960, 1000), tv(15, 100, platform="x"), tv(200, 200, platform="youtube"))
    assert out[("platform", None, "x", None)].kind == RESTRICTION
    assert not out[("platform", None, "youtube", None)].anomalous


def test_moderate_drop_with_probes_passing_is_throttling() -> None:
    out = classify(tv(990, 1000), tv(60, 100, platform="x"), rv(0.97, 1, "x"), rv(0.96, 2, "x"))
    assert out[("platform", None, "x", None)].kind == THROTTLING


def test_moderate_drop_with_probes_failing_is_a_restriction() -> None:
    out = classify(tv(990, 1000), tv(60, 100, platform="x"), rv(0.5, 1, "x"), rv(0.45, 2, "x"))
    assert out[("platform", None, "x", None)].kind == RESTRICTION


def test_probes_failing_on_some_networks_only_scope_the_block() -> None:
    out = classify(tv(1000, 1000), rv(0.1, 1, "x"), rv(0.97, 2, "x"))
    assert out[("platform", 1, "x", None)].kind == RESTRICTION
    assert not out[("platform", 2, "x", None)].anomalous
    assert ("platform", None, "x", None) not in out


def test_mobile_shutdown_is_an_outage_of_those_networks_not_the_country() -> None:
    # Mobile carries 70 % here: the total falls below the outage line, yet fixed lines are up.
    out = classify(
        tv(320, 1000),
        tv(5, 700, asn=1),
        tv(310, 300, asn=2),
        rv(0.0, 1, "x"),
        rv(0.0, 1, "youtube"),
        rv(0.97, 2, "x"),
        tv(35, 100, platform="x"),
    )
    assert out[("outage", 1, None, None)].kind == OUTAGE
    assert not out[("outage", 2, None, None)].anomalous
    assert ("outage", None, None, None) not in out
    # Probes on the dark network say nothing about platforms.
    assert not any(k[0] == "platform" and v.anomalous for k, v in out.items())


def test_national_collapse_is_country_wide_and_explains_platforms() -> None:
    out = classify(tv(30, 1000), tv(10, 700, asn=1), tv(5, 300, asn=2), tv(1, 100, platform="x"))
    assert out[("outage", None, None, None)].kind == OUTAGE
    assert all(k[0] == "outage" for k in out)


def test_small_noisy_series_needs_sigmas_too() -> None:
    out = classify(tv(1000, 1000), tv(60, 100, platform="x", z=-1.5))
    assert not out[("platform", None, "x", None)].anomalous


def test_unready_verdicts_are_ignored() -> None:
    v = Verdict(SeriesKey("traffic", "cdn", "PK", None, "x"), 1, 100, -30, False)
    assert classify_bin([v], {v.key: Config().thresholds}) == {}


def crv(ok_rate: float, platform: str, latency_ratio: float | None = None) -> Verdict:
    """A probe verdict reported per country (no ASN)."""
    key = SeriesKey("reachability", "probes", "PK", None, platform)
    z = -20.0 if ok_rate < 0.98 * 0.8 else 0.0
    return Verdict(key, ok_rate, 0.98, z, True, (0, 0, 0, 0, 30), latency_ratio)


def lrv(asn: int, platform: str, latency_ratio: float, ok_rate: float = 0.97) -> Verdict:
    key = SeriesKey("reachability", "probes", "PK", asn, platform)
    return Verdict(key, ok_rate, 0.98, 0.0, True, (0, 0, 0, 0, 1), latency_ratio)


PLATFORMS = ("x", "facebook", "youtube", "google")


def test_country_wide_probes_failing_with_a_network_dark_are_the_outage_not_a_block() -> None:
    """One large mobile network dark; probes per country fail for every platform together."""
    out = classify(
        tv(450, 1000),
        tv(10, 550, asn=1),
        tv(440, 450, asn=2),
        *(tv(45, 100, platform=p) for p in PLATFORMS),
        *(crv(0.45, p) for p in PLATFORMS),
    )
    assert out[("outage", 1, None, None)].kind == OUTAGE
    platform_units = [k for k, o in out.items() if k[0] == "platform" and o.anomalous]
    assert platform_units == []


def test_country_wide_probes_failing_for_a_few_platforms_are_still_a_block() -> None:
    out = classify(
        tv(900, 1000),
        tv(10, 100, platform="x"),
        *(tv(100, 100, platform=p) for p in PLATFORMS[1:]),
        crv(0.1, "x"),
        *(crv(0.97, p) for p in PLATFORMS[1:]),
    )
    assert out[("platform", None, "x", None)].kind == RESTRICTION


def test_nationwide_slowdown_with_latency_up_is_country_throttling() -> None:
    out = classify(
        tv(640, 1000),
        tv(64, 100, platform="x"),
        tv(130, 200, platform="youtube"),
        *(lrv(a, p, 3.0) for a in (1, 2) for p in PLATFORMS),
    )
    obs = out[("outage", None, None, None)]
    assert obs.anomalous and obs.kind == THROTTLING
    assert not any(o.anomalous for k, o in out.items() if k[0] == "platform")


def test_the_same_dip_without_latency_rise_is_a_holiday_not_throttling() -> None:
    out = classify(tv(640, 1000), *(lrv(a, p, 1.05) for a in (1, 2) for p in PLATFORMS))
    assert not out[("outage", None, None, None)].anomalous


def test_a_nationwide_dip_with_probes_slower_than_weeks_ago_is_throttling() -> None:
    # Daily records and a 3-hour latency memory: by the second day the fast expectation has
    # taken the new latency, the slow reference has not.
    probes = [lrv(a, p, 1.05) for a in (1, 2) for p in PLATFORMS]
    for v in probes:
        v.slow_latency_ratio = 3.0
    assert classify(tv(640, 1000), *probes)[("outage", None, None, None)].kind == THROTTLING


def test_one_network_slowed_is_throttling_scoped_to_it() -> None:
    out = classify(
        tv(830, 1000),
        tv(330, 500, asn=1),
        tv(500, 500, asn=2),
        *(lrv(1, p, 2.5) for p in PLATFORMS),
        *(lrv(2, p, 1.0) for p in PLATFORMS),
    )
    assert out[("outage", 1, None, None)].kind == THROTTLING
    assert not out[("outage", 2, None, None)].anomalous
    assert ("outage", None, None, None) not in out or not out[
        ("outage", None, None, None)
    ].anomalous


def test_an_open_outage_stays_open_until_back_in_its_normal_band() -> None:
    """Traffic back to 55 % of normal is a partial recovery, not the end."""
    unit = ("outage", None, None, None)
    partial = classify_bin([tv(550, 1000)], {tv(0, 1).key: T}, active={unit}, hold=0.75)
    assert partial[unit].anomalous
    back = classify_bin([tv(900, 1000, z=-2.0)], {tv(0, 1).key: T}, active={unit}, hold=0.75)
    assert not back[unit].anomalous
    fresh = classify(tv(550, 1000))  # not open: a 45 % dip alone opens nothing
    assert not fresh[unit].anomalous


def test_platform_only_feed_judges_a_platform_against_the_others_and_says_so() -> None:
    feed = [tv(20, 100, platform="x"), *(tv(95, 100, platform=p) for p in PLATFORMS[1:])]
    out = classify(*feed)
    assert out[("platform", None, "x", None)].kind == RESTRICTION
    assert feed[0].reference == "other_platforms"
    holiday = [tv(80, 100, platform=p) for p in PLATFORMS]
    assert not any(o.anomalous for o in classify(*holiday).values())


def test_platform_only_feed_all_collapsing_is_an_outage() -> None:
    out = classify(*(tv(5, 100, platform=p) for p in PLATFORMS))
    assert out[("outage", None, None, None)].kind == OUTAGE
    assert not any(o.anomalous for k, o in out.items() if k[0] == "platform")


def slow_tv(
    ratio_now: float, slow_ratio: float, platform: str, since: float | None = 0.0
) -> Verdict:
    """A platform whose fast level has followed a drop (fast ratio near 1) but not its slow one."""
    key = SeriesKey("traffic", "cdn", "PK", None, platform)
    expected = 1000.0
    return Verdict(
        key,
        expected * ratio_now,
        expected,
        0.0,
        True,
        slow_expected=expected * ratio_now / slow_ratio,
        slow_sigma=0.03,
        slow_since=since,
    )


def slow_total(platform_observed: float, platform_slow_expected: float) -> Verdict:
    key = SeriesKey("traffic", "cdn", "PK", None, None)
    return Verdict(
        key,
        10_000.0 - 1000.0 + platform_observed,
        10_000.0,
        0.0,
        True,
        slow_expected=10_000.0 - 1000.0 + platform_slow_expected,
        slow_sigma=0.03,
    )


def test_a_campaign_the_fast_level_followed_is_throttling_when_latency_says_so() -> None:
    x = slow_tv(1.0, 0.75, "x")
    probes = [lrv(a, "x", 1.0) for a in (1, 2)]
    for p in probes:
        p.slow_latency_ratio = 1.8  # slower than weeks ago; the 3-hour memory has absorbed it
    others = [slow_tv(1.0, 1.0, p, None) for p in ("youtube", "google")]
    out = classify(x, slow_total(x.observed, x.slow_expected or 0.0), *others, *probes)
    assert out[("platform", None, "x", None)].anomalous
    assert out[("platform", None, "x", None)].kind == THROTTLING


def test_one_platform_stepping_down_with_probes_as_fast_as_ever_is_a_benign_shift() -> None:
    yt = slow_tv(1.0, 0.7, "youtube")
    probes = [lrv(a, "youtube", 1.0) for a in (1, 2)]
    for p in probes:
        p.slow_latency_ratio = 1.0
    others = [slow_tv(1.0, 1.0, p, None) for p in ("x", "google")]
    out = classify(yt, slow_total(yt.observed, yt.slow_expected or 0.0), *others, *probes)
    assert not out.get(("platform", None, "youtube", None), NORMAL).anomalous


def test_two_platforms_leaving_their_slow_references_together_corroborate_each_other() -> None:
    ig, wa = slow_tv(1.0, 0.7, "instagram", 100.0), slow_tv(1.0, 0.7, "whatsapp", 3700.0)
    others = [slow_tv(1.0, 1.0, p, None) for p in ("x", "google", "youtube")]
    out = classify(ig, wa, *others)
    assert out[("platform", None, "instagram", None)].kind == THROTTLING
    assert out[("platform", None, "whatsapp", None)].kind == THROTTLING
    # ... but not a second platform whose step came weeks after the first (a cache, later)
    late = slow_tv(1.0, 0.7, "whatsapp", 100.0 + 20 * 86400)
    out = classify(ig, late, *others)
    assert not out.get(("platform", None, "whatsapp", None), NORMAL).anomalous


def test_a_national_dip_below_the_slow_references_is_nobodys_campaign() -> None:
    vs = [slow_tv(1.0, 0.8, p) for p in ("x", "google", "youtube", "facebook")]
    out = classify(*vs)
    assert not any(o.anomalous for o in out.values())


def test_a_step_down_that_probes_time_as_fast_as_ever_opens_nothing_until_open() -> None:
    yt = tv(700, 1000, platform="youtube")
    total = tv(9700, 10_000)
    probes = [lrv(a, "youtube", 1.0) for a in (1, 2)]
    assert ("platform", None, "youtube", None) not in {
        u for u, o in classify(yt, total, *probes).items() if o.anomalous
    }
    unit = ("platform", None, "youtube", None)
    held = classify_bin([yt, total, *probes], {v.key: T for v in (yt, total, *probes)}, {unit})
    assert held[unit].kind == THROTTLING  # already open (a throttling the latency first showed)


def test_a_deep_drop_with_probes_passing_only_slower_is_throttling_not_a_block() -> None:
    # 60 % down is past block_drop, but a block makes probes fail; these get through, slower.
    x = tv(3800, 10_000, platform="x")
    total = tv(96_000, 100_000)
    probes = [lrv(a, "x", 2.0) for a in (1, 2, 3)]
    assert classify(x, total, *probes)[("platform", None, "x", None)].kind == THROTTLING
    # ... and with no probes to say so, the same drop is a restriction
    assert classify(x, total)[("platform", None, "x", None)].kind == RESTRICTION


def test_probes_passing_on_a_network_close_its_unit_during_a_throttling() -> None:
    # A probe blip opened a block on network 2 while the platform is throttled country-wide:
    # probes passing there again must say so, or the unit lingers and turns the throttling
    # into a block.
    x = tv(700, 1000, platform="x")
    total = tv(9700, 10_000)
    probes = [lrv(a, "x", 2.0) for a in (1, 2)]
    blip: tuple[str, int | None, str | None] = ("platform", 2, "x", None)
    country: tuple[str, int | None, str | None] = ("platform", None, "x", None)
    out = classify_bin(
        [x, total, *probes], {v.key: T for v in (x, total, *probes)}, {blip, country}
    )
    assert out[country].kind == THROTTLING
    assert out[blip] is NORMAL


def test_one_networks_probes_a_little_worse_need_a_longer_run_a_block_does_not() -> None:
    # 10 probes, 3 failing: a run of unlucky probes gives that too
    shallow = classify(tv(1000, 1000), rv(0.7, 1, "x", z=-4.0), rv(0.97, 2, "x"))
    assert shallow[("platform", 1, "x", None)].kind == RESTRICTION
    assert shallow[("platform", 1, "x", None)].weak
    blocked = classify(tv(1000, 1000), rv(0.1, 1, "x"), rv(0.97, 2, "x"))
    assert not blocked[("platform", 1, "x", None)].weak


def country_probe(ok_rate: float, platform: str, failed: int) -> Verdict:
    key = SeriesKey("reachability", "probes", "PK", None, platform)
    z = -20.0 if ok_rate < 0.98 * 0.8 else 0.0
    return Verdict(key, ok_rate, 0.98, z, True, (0, 0, failed, 0, 0))


def test_probes_failing_everywhere_as_the_total_falls_are_an_outage_beginning() -> None:
    # A power cut ramping in: the total 35 % down (not yet past outage_drop), every platform's
    # country-wide probes failing. One outage, not every platform restricted.
    platforms = ("x", "youtube", "facebook", "google")
    out = classify(tv(650, 1000), *(country_probe(0.5, p, 50) for p in platforms))
    assert out[("outage", None, None, None)].kind == OUTAGE
    assert not any(u[0] == "platform" and o.anomalous for u, o in out.items())


def test_some_platforms_probes_failing_as_the_total_falls_are_the_network_not_a_block() -> None:
    # A storm's power cut ramping in: the total and every platform's traffic half down, the
    # country-wide probes of two platforms of five failing, the others still passing. The
    # network going dark fails probes of whatever they try: no restriction beside the outage.
    platforms = ("x", "instagram", "youtube", "facebook", "whatsapp")
    out = classify(
        tv(480, 1000),
        *(tv(48, 100, platform=p) for p in platforms),
        country_probe(0.3, "x", 15),
        country_probe(0.2, "instagram", 12),
        *(country_probe(0.95, p, 15) for p in platforms[2:]),
    )
    assert not any(u[0] == "platform" and o.anomalous for u, o in out.items())


def test_a_platform_falling_far_more_than_a_falling_total_is_still_restricted() -> None:
    # The same falling total, but X's own traffic collapsing beyond the rest: a block within it.
    out = classify(
        tv(480, 1000),
        tv(2, 100, platform="x"),
        *(tv(48, 100, platform=p) for p in ("youtube", "facebook")),
        country_probe(0.1, "x", 15),
        *(country_probe(0.95, p, 15) for p in ("youtube", "facebook")),
    )
    assert out[("platform", None, "x", None)].kind == RESTRICTION


def test_few_country_wide_probes_a_little_worse_need_a_longer_run() -> None:
    few = classify(tv(1000, 1000), country_probe(0.7, "x", 3))[("platform", None, "x", None)]
    assert few.kind == RESTRICTION and few.weak
    many = classify(tv(1000, 1000), country_probe(0.7, "x", 900))[("platform", None, "x", None)]
    assert many.kind == RESTRICTION and not many.weak
    blocked = classify(tv(1000, 1000), country_probe(0.1, "x", 9))[("platform", None, "x", None)]
    assert blocked.kind == RESTRICTION and not blocked.weak


def test_relaxed_thresholds_follow_the_thresholds_they_came_from() -> None:
    # A reloaded config's Thresholds may take a freed one's address: it must never be served the
    # freed one's relaxed copy.
    from restrictwatch.detectors import correlate

    old = Thresholds(min_sigmas=3.0)
    assert correlate._relaxed(old, 0.5).min_sigmas == 1.5
    new = Thresholds(min_sigmas=5.0)
    key = (id(new), 0.5)
    correlate._RELAXED[key] = (old, correlate._relaxed(old, 0.5))  # as if new reused old's id
    assert correlate._relaxed(new, 0.5).min_sigmas == 2.5


def test_networks_slowed_without_probes_of_their_own_do_not_veto_a_country_throttling() -> None:
    # Probes are reported per country: no network can be found throttled on its own, and each
    # one's traffic is down like the country's. The slowdown is the country's.
    probes = [country_probe(0.97, p, 1) for p in ("x", "youtube", "facebook")]
    for v in probes:
        v.latency_ratio = 3.0
    out = classify(
        tv(650, 1000, z=-8.0), tv(320, 500, asn=1, z=-8.0), tv(330, 500, asn=2, z=-8.0), *probes
    )
    assert out[("outage", None, None, None)].kind == THROTTLING


def region_total(observed: float, expected: float, region: str | None) -> Verdict:
    z = -20.0 if observed < expected * 0.9 else 0.0
    return Verdict(
        SeriesKey("traffic", "ipo", "US", None, None, region), observed, expected, z, True
    )


def test_a_region_falling_a_third_while_its_neighbours_stay_up_is_partly_out() -> None:
    # Hurricane Laura: Louisiana's index fell ~30 %, Texas' and Arkansas' did not move.
    out = classify(
        region_total(1800, 1950, None),
        region_total(190, 270, "US-LA"),
        region_total(1140, 1145, "US-TX"),
        region_total(280, 282, "US-AR"),
    )
    obs = out[("outage", None, None, "US-LA")]
    assert obs.anomalous and obs.kind == OUTAGE and obs.weak  # one signal: opens as weak ones do
    assert not out[("outage", None, None, "US-TX")].anomalous
    assert not out.get(("outage", None, None, None), NORMAL).anomalous


def test_every_region_falling_a_third_together_is_a_national_dip_not_regional_outages() -> None:
    out = classify(
        region_total(1300, 1950, None),
        region_total(190, 270, "US-LA"),
        region_total(800, 1145, "US-TX"),
    )
    assert not any(o.anomalous for o in out.values())


def test_every_network_out_with_no_country_total_to_judge_is_the_country_dark() -> None:
    """Probes failing on every network, in days when no total is fit to judge (all still warming
    up): one country-wide outage, not one per network; with one network up, only the others."""
    platforms = ("x", "youtube", "facebook")
    out = classify(*(rv(0.02, a, p) for a in (1, 2) for p in platforms))
    assert out[("outage", None, None, None)].kind == OUTAGE
    out = classify(*(rv(0.02 if a == 1 else 0.97, a, p) for a in (1, 2) for p in platforms))
    assert not out[("outage", None, None, None)].anomalous
    assert out[("outage", 1, None, None)].kind == OUTAGE
