from __future__ import annotations

from detectors.config import Config, Thresholds
from detectors.correlate import OUTAGE, RESTRICTION, THROTTLING, classify_bin
from detectors.records import SeriesKey
from detectors.series import Verdict

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
    assert out[("platform", None, "x")].kind == RESTRICTION
    assert not out[("platform", None, "youtube")].anomalous


def test_moderate_drop_with_probes_passing_is_throttling() -> None:
    out = classify(tv(990, 1000), tv(60, 100, platform="x"), rv(0.97, 1, "x"), rv(0.96, 2, "x"))
    assert out[("platform", None, "x")].kind == THROTTLING


def test_moderate_drop_with_probes_failing_is_a_restriction() -> None:
    out = classify(tv(990, 1000), tv(60, 100, platform="x"), rv(0.5, 1, "x"), rv(0.45, 2, "x"))
    assert out[("platform", None, "x")].kind == RESTRICTION


def test_probes_failing_on_some_networks_only_scope_the_block() -> None:
    out = classify(tv(1000, 1000), rv(0.1, 1, "x"), rv(0.97, 2, "x"))
    assert out[("platform", 1, "x")].kind == RESTRICTION
    assert not out[("platform", 2, "x")].anomalous
    assert ("platform", None, "x") not in out


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
    assert out[("outage", 1, None)].kind == OUTAGE
    assert not out[("outage", 2, None)].anomalous
    assert ("outage", None, None) not in out
    # Probes on the dark network say nothing about platforms.
    assert not any(k[0] == "platform" and v.anomalous for k, v in out.items())


def test_national_collapse_is_country_wide_and_explains_platforms() -> None:
    out = classify(tv(30, 1000), tv(10, 700, asn=1), tv(5, 300, asn=2), tv(1, 100, platform="x"))
    assert out[("outage", None, None)].kind == OUTAGE
    assert all(k[0] == "outage" for k in out)


def test_small_noisy_series_needs_sigmas_too() -> None:
    out = classify(tv(1000, 1000), tv(60, 100, platform="x", z=-1.5))
    assert not out[("platform", None, "x")].anomalous


def test_unready_verdicts_are_ignored() -> None:
    v = Verdict(SeriesKey("traffic", "cdn", "PK", None, "x"), 1, 100, -30, False)
    assert classify_bin([v], {v.key: Config().thresholds}) == {}
