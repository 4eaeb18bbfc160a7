from __future__ import annotations

from pathlib import Path

import pytest

from detectors.config import Config, config_as_yaml, load_config, parse_config
from detectors.exceptions import ConfigError


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
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        parse_config([1, 2])


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
