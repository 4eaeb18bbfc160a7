"""The real OONI and Tor data: converter output, labels, and what the detector finds on them."""

from __future__ import annotations

import orjson
import pytest

from bench import real, real_data
from restrictwatch.detectors.config import config_as_yaml
from restrictwatch.detectors.evaluation import final_events, parse_time
from restrictwatch.detectors.records import Rejection, decode_sample
from restrictwatch.detectors.schemas import validator
from restrictwatch.streams.replay import replay


@pytest.mark.parametrize("country", real_data.COUNTRIES)
def test_every_converted_record_is_valid_and_accepted(country: str) -> None:
    rows = real_data.records(country)
    assert len(rows) > 700
    check = {s: validator(f"{s}.v1") for s in ("traffic", "reachability")}
    for row in rows:
        check[row["signal"]](row)
        assert not isinstance(decode_sample(orjson.dumps(row), 65536), Rejection)
        if row["signal"] == "reachability":
            assert sum(row["failures"].values()) == row["probes"] - row["ok"]
    times = [parse_time(r["ts"]) for r in rows]
    assert times == sorted(times)
    assert all(t % 86400 == 0 for t in times)


def test_a_converted_day_carries_the_source_counts() -> None:
    # data/real/acsac/ooni-data-ru.csv, 2021-01-02: ok 57160, dns 3968, http 3683, tls 1558,
    # total 66369; tor-data-ru.csv the same day: 328676 users.
    day = [r for r in real_data.records("RU") if r["ts"] == "2021-01-02T00:00:00Z"]
    probes = next(r for r in day if r["signal"] == "reachability")
    assert (probes["probes"], probes["ok"], probes["platform"]) == (66369, 57160, "web")
    assert probes["failures"] == {"dns": 3968, "http": 3683, "tls": 1558}
    tor = next(r for r in day if r["signal"] == "traffic")
    assert (tor["value"], tor["platform"], tor["source"]) == (328676.0, "tor", "tor-metrics")


def test_mm_has_no_tor_series_and_days_without_data_are_left_out() -> None:
    assert {r["signal"] for r in real_data.records("MM")} == {"reachability"}
    # data/real/acsac/ooni-data-ir.csv has 821 days, 2021-02-26 missing (no measurement).
    ooni = [r["ts"][:10] for r in real_data.records("IR") if r["signal"] == "reachability"]
    assert len(ooni) == 821 and "2021-02-26" not in ooni
    # PK has days with total 0: no record for them (probes must be at least 1).
    assert len([r for r in real_data.records("PK") if r["signal"] == "reachability"]) < 761


@pytest.mark.parametrize("country", real_data.COUNTRIES)
def test_labels_follow_the_truth_schema_and_say_how_they_were_set(country: str) -> None:
    check = validator("truth.v1")
    for row in real.truth_rows(country):
        check(row)
        assert row["country"] == country
        assert "reported" in row["note"] and "data:" in row["note"]
        assert parse_time(row["start"]) < parse_time(row["end"])
    assert bool(real.truth_rows(country)) == (country != "CN")  # CN is the control


def test_the_written_configs_are_the_overlay_on_the_current_default() -> None:
    for kind, config in real.configs():
        written = (real.CONFIGS / f"{kind}.yaml").read_text(encoding="utf-8")
        assert written.endswith(config_as_yaml(config)), (
            f"regenerate: python -m bench.real --write ({kind})"
        )
        assert config.bin_seconds == 86400


@pytest.fixture(scope="module")
def iran() -> real.CountryRun:
    kind, config = real.configs()[0]
    assert kind == "seasonal"
    return real.run_country("IR", kind, config)


def test_iran_september_2022_block_is_found_within_two_weeks_as_a_web_restriction(
    iran: real.CountryRun,
) -> None:
    case = next(c for c in iran.cases if c.label == "ir-instagram-whatsapp-blocked")
    assert case.found and case.event_kind == "platform_restriction"
    assert case.delay_s is not None and 0 < case.delay_s <= 14 * 86400


def test_iran_web_probes_raise_nothing_before_the_block() -> None:
    # 20 months of real OONI noise (ok share wandering between 0.5 and 0.75) before 2022-09.
    _, config = real.configs()[0]
    events = final_events(replay(real_data.lines("IR"), config).events)
    web = [e for e in events if "web" in e.platforms]
    assert web, "the block itself is a web event"
    assert all(e.started_at >= parse_time("2022-09-21T00:00:00Z") for e in web)
