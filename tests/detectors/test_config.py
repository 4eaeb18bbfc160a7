from __future__ import annotations

from pathlib import Path

import pytest

from restrictwatch.detectors.config import (
    Config,
    config_as_yaml,
    load_config,
    overlay,
    parse_config,
)
from restrictwatch.detectors.exceptions import ConfigError


def test_packaged_default_is_valid_and_complete() -> None:
    cfg = load_config()
    assert cfg.bin_seconds == 300
    assert cfg.detectors.traffic.kind == "seasonal"
    assert cfg.platform_name("youtube") == "YouTube"
    # The YAML spells out every setting: re-parsing what it shows gives the same config.
    assert parse_config(load_config().model_dump(mode="json")) == cfg


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("detectors:\n  traffic:\n    seasonal:\n      daily_slotz: 12\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "detectors.traffic.seasonal.daily_slotz" in str(err.value)


def test_bad_values_are_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"bin_seconds": 7, "thresholds": {"throttle_drop": 0.9, "block_drop": 0.5}})
    text = str(err.value)
    assert "bin_seconds" in text and "throttle_drop must be below block_drop" in text


def test_not_yaml_and_missing_files_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML") as yaml_error:
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read") as read_error:
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="mapping") as shape_error:
        parse_config([1, 2])
    # bounded reasons, for the reload-failure metric
    assert (yaml_error.value.reason, read_error.value.reason) == ("yaml", "unreadable")
    assert shape_error.value.reason == "invalid"


def test_override_most_specific_wins() -> None:
    cfg = parse_config(
        {
            "overrides": [
                {"match": {"country": "IR"}, "thresholds": {"reach_drop": 0.3, "min_sigmas": 4}},
                {
                    "match": {"country": "IR", "platform": "instagram"},
                    "thresholds": {"reach_drop": 0.5},
                },
            ]
        }
    )
    assert cfg.thresholds_for("IR", None, "instagram").reach_drop == 0.5
    assert cfg.thresholds_for("IR", None, "instagram").min_sigmas == 4
    assert cfg.thresholds_for("IR", 44244, "x").reach_drop == 0.3
    assert cfg.thresholds_for("PK", None, "instagram").reach_drop == cfg.thresholds.reach_drop


def test_overrides_match_a_region_and_a_source() -> None:
    cfg = parse_config(
        {
            "overrides": [
                {"match": {"source": "index"}, "thresholds": {"outage_drop": 0.15}},
                {"match": {"region": "PK-BA"}, "thresholds": {"min_sigmas": 4}},
            ]
        }
    )
    assert cfg.thresholds_for("US", None, None, "US-LA", "index").outage_drop == 0.15
    assert cfg.thresholds_for("US", None, None, "US-LA", "cdn").outage_drop == 0.6
    assert cfg.thresholds_for("PK", None, None, "PK-BA", "cdn").min_sigmas == 4
    assert cfg.thresholds_for("PK", None, None, None, "cdn").min_sigmas == 3
    with pytest.raises(ConfigError, match="region"):
        parse_config({"overrides": [{"match": {"region": "Balochistan"}, "thresholds": {}}]})


def test_override_with_unknown_threshold_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown threshold"):
        parse_config({"overrides": [{"match": {"country": "IR"}, "thresholds": {"nope": 1}}]})


def test_fingerprint_changes_with_content_not_only_version() -> None:
    a = Config()
    b = parse_config({"thresholds": {"min_sigmas": 4}})
    assert a.fingerprint.startswith("default-1@")
    assert a.fingerprint != b.fingerprint
    assert Config().fingerprint == a.fingerprint


def test_show_output_round_trips() -> None:
    import yaml

    cfg = load_config()
    assert parse_config(yaml.safe_load(config_as_yaml(cfg))) == cfg


def test_platform_order_follows_the_config() -> None:
    cfg = load_config()
    assert cfg.platform_order(["youtube", "zz", "x", "instagram", "facebook"]) == [
        "x",
        "facebook",
        "instagram",
        "youtube",
        "zz",
    ]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_a_partial_file_changes_only_its_keys(tmp_path: Path) -> None:
    default = load_config()
    cfg = load_config(write(tmp_path, "thresholds: {reach_drop: 0.3}\n"))
    assert cfg.thresholds.reach_drop == 0.3
    assert cfg.platform_names == default.platform_names and cfg.platform_name("x") == "X"
    assert cfg.platform_groups == default.platform_groups
    expected = default.model_dump(mode="json")
    expected["thresholds"]["reach_drop"] = 0.3
    assert cfg.model_dump(mode="json") == expected


def test_mappings_merge_key_by_key_at_every_depth(tmp_path: Path) -> None:
    default = load_config()
    cfg = load_config(
        write(
            tmp_path,
            "detectors: {traffic: {seasonal: {daily_slots: 24}}}\n"
            "platform_names: {x: Twitter, snapchat: Snapchat}\n"
            "sources: {ooni: {cadence_seconds: 86400}}\n",
        )
    )
    assert cfg.detectors.traffic.seasonal.daily_slots == 24
    assert cfg.detectors.traffic.kind == default.detectors.traffic.kind
    seasonal = cfg.detectors.traffic.seasonal.model_dump()
    assert seasonal == {**default.detectors.traffic.seasonal.model_dump(), "daily_slots": 24}
    assert cfg.detectors.reachability == default.detectors.reachability
    assert cfg.platform_names == {**default.platform_names, "x": "Twitter", "snapchat": "Snapchat"}
    assert set(cfg.sources) == set(default.sources) | {"ooni"}
    assert cfg.sources["ooni"].cadence_seconds == 86400


def test_lists_replace_whole(tmp_path: Path) -> None:
    default = load_config()
    cfg = load_config(
        write(
            tmp_path,
            "platform_groups: {meta: [facebook]}\n"
            "overrides: [{match: {country: IR}, thresholds: {reach_drop: 0.3}}]\n",
        )
    )
    assert cfg.platform_groups["meta"] == ["facebook"]
    assert cfg.platform_groups["social"] == default.platform_groups["social"]
    assert len(cfg.overrides) == 1
    again = load_config(write(tmp_path, "overrides: []\n"))
    assert again.overrides == []


def test_null_removes_a_default_entry(tmp_path: Path) -> None:
    default = load_config()
    cfg = load_config(
        write(
            tmp_path,
            "platform_names: {netflix: null}\n"
            "platform_groups: {social: null}\n"
            "sources: {edge-cdn: null}\n",
        )
    )
    assert "netflix" not in cfg.platform_names and cfg.platform_name("netflix") == "netflix"
    assert set(cfg.platform_groups) == {"meta"}
    assert set(cfg.sources) == set(default.sources) - {"edge-cdn"}


def test_unknown_keys_in_a_partial_file_are_named(tmp_path: Path) -> None:
    for text, path in [
        ("thresholds: {reach_dropp: 0.3}\n", "thresholds.reach_dropp"),
        ("thresholds: {bogus: null}\n", "thresholds.bogus"),
        ("sources: {ooni: {cadance_seconds: 60}}\n", "sources.ooni.cadance_seconds"),
        ("platform_names: {snapchat: null}\n", "platform_names.snapchat"),
    ]:
        with pytest.raises(ConfigError) as err:
            load_config(write(tmp_path, text))
        assert path in str(err.value), text
        assert str(tmp_path / "c.yaml") in str(err.value)


def test_overlay_is_pure() -> None:
    default = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    override = {"a": {"c": [3]}, "d": None}
    assert overlay(default, override) == {"a": {"b": 1, "c": [3]}}
    assert default == {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert override == {"a": {"c": [3]}, "d": None}


def test_parse_config_takes_a_document_as_given() -> None:
    # No overlay here: tests and benches build whole documents on purpose.
    assert parse_config({"thresholds": {"reach_drop": 0.3}}).platform_names == {}


def test_full_documents_mean_what_they_did() -> None:
    import yaml

    configs = sorted(Path(__file__).parents[2].joinpath("bench", "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        assert load_config(path) == parse_config(yaml.safe_load(path.read_text()))
