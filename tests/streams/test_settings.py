"""Worker settings: RW_ environment, security rules, secrets that never show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.streams.settings import load_settings

PASSWORD = "s3cret-Pa55"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own RW_ variables must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("RW_"):
            monkeypatch.delenv(name)


def sasl(**extra: object) -> dict[str, object]:
    return {
        "security_protocol": "SASL_SSL",
        "sasl_username": "rw",
        "sasl_password": PASSWORD,
        **extra,
    }


def test_defaults_name_the_v1_topics_and_a_plaintext_local_broker() -> None:
    s = load_settings()
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.security_protocol == "PLAINTEXT"
    assert (s.traffic_topic, s.reachability_topic, s.events_topic, s.deadletter_topic) == (
        "rw.traffic.v1",
        "rw.reachability.v1",
        "rw.events.v1",
        "rw.deadletter.v1",
    )
    assert s.store == "rocksdb://"
    assert s.kafka_kwargs() == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }


def test_settings_come_from_rw_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RW_BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("RW_PARTITIONS", "8")
    monkeypatch.setenv("RW_EVENTS_TOPIC", "custom.events")
    monkeypatch.setenv("RW_STORE", "memory://")
    monkeypatch.setenv("RW_CONNECT_TIMEOUT_SECONDS", "2.5")
    s = load_settings()
    assert s.connect_timeout_seconds == 2.5
    assert s.partitions == 8
    assert s.events_topic == "custom.events"
    assert s.store == "memory://"
    assert s.kafka_kwargs()["bootstrap_servers"] == ["k1:9093", "k2:9093"]


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValueError):
        s.partitions = 2


def test_sasl_over_plaintext_is_refused_unless_explicitly_allowed() -> None:
    with pytest.raises(ConfigError, match="SASL over PLAINTEXT"):
        load_settings(**sasl(security_protocol="SASL_PLAINTEXT"))
    allowed = load_settings(**sasl(security_protocol="SASL_PLAINTEXT", allow_insecure_sasl=True))
    assert allowed.security_protocol == "SASL_PLAINTEXT"


def test_sasl_needs_a_username_and_a_password() -> None:
    with pytest.raises(ConfigError, match="RW_SASL_USERNAME"):
        load_settings(security_protocol="SASL_SSL", sasl_password=PASSWORD)
    with pytest.raises(ConfigError, match="RW_SASL_PASSWORD"):
        load_settings(security_protocol="SASL_SSL", sasl_username="rw")


def test_sasl_ssl_with_scram_gives_kafka_python_its_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = load_settings(**sasl(ssl_cafile=ca, sasl_mechanism="SCRAM-SHA-256"))
    assert s.kafka_kwargs() == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "SASL_SSL",
        "ssl_cafile": str(ca),
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "rw",
        "sasl_plain_password": PASSWORD,
    }


def test_the_password_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    s = load_settings(security_protocol="SASL_SSL", sasl_username="rw", sasl_password_file=secret)
    assert s.password() == PASSWORD
    assert PASSWORD not in str(s.masked())


def test_secrets_never_show_in_logs_reprs_or_errors() -> None:
    s = load_settings(**sasl())
    assert s.masked()["sasl_password"] == "**********"
    assert s.masked()["sasl_username"] == "rw"
    assert PASSWORD not in str(s.masked())
    assert PASSWORD not in repr(s)
    assert PASSWORD not in str(s)
    assert s.password() == PASSWORD
    # pydantic's own message would echo every input value, the password among them
    with pytest.raises(ConfigError) as refused:
        load_settings(**sasl(security_protocol="SASL_PLAINTEXT"))
    assert PASSWORD not in str(refused.value)
    with pytest.raises(ConfigError) as bad:
        load_settings(**sasl(partitions=0))
    assert PASSWORD not in str(bad.value)


def test_errors_name_the_environment_variable() -> None:
    with pytest.raises(ConfigError, match="RW_PARTITIONS: Input should be greater"):
        load_settings(partitions=0)
    with pytest.raises(ConfigError, match="RW_STORE"):
        load_settings(store="redis://")
    with pytest.raises(ConfigError, match="RW_SECURITY_PROTOCOL"):
        load_settings(security_protocol="SSL_PLAINTEXT")
    with pytest.raises(ConfigError, match="RW_CHECKPOINT_MAX_SHARE: Input should be greater"):
        load_settings(checkpoint_max_share=0)
    with pytest.raises(ConfigError, match="RW_CONNECT_TIMEOUT_SECONDS: Input should be greater"):
        load_settings(connect_timeout_seconds=-1)


def test_unknown_constructor_arguments_are_errors() -> None:
    with pytest.raises(ConfigError, match="RW_PARTITION: Extra inputs are not permitted"):
        load_settings(partition=3)


def test_security_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What an operator sets: SASL over plaintext refused until RW_ALLOW_INSECURE_SASL=true,
    the password read from RW_SASL_PASSWORD_FILE and masked in what is logged."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("RW_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("RW_SASL_USERNAME", "rw")
    monkeypatch.setenv("RW_SASL_PASSWORD_FILE", str(secret))
    with pytest.raises(ConfigError, match="RW_ALLOW_INSECURE_SASL=true") as refused:
        load_settings()
    assert PASSWORD not in str(refused.value)
    monkeypatch.setenv("RW_ALLOW_INSECURE_SASL", "true")
    s = load_settings()
    assert s.kafka_kwargs()["sasl_plain_password"] == PASSWORD
    assert s.masked()["sasl_password_file"] == str(secret)
    assert PASSWORD not in str(s.masked()) and PASSWORD not in repr(s)


def test_every_setting_is_documented_once_in_the_live_service_doc() -> None:
    from restrictwatch.streams.settings import WorkerSettings

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    long_form = (root / "docs" / "live-service.md").read_text()
    assert "(docs/live-service.md#settings)" in readme  # the README links, it does not copy
    table = long_form[long_form.index("## Settings") :]
    for name in [*WorkerSettings.model_fields, "log_format"]:
        variable = f"`RW_{name.upper()}`"
        first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("|")]
        rows = [cell for cell in first_cells if variable in cell]
        assert len(rows) == 1, f"{variable}: {len(rows)} rows in docs/live-service.md's settings"


def test_a_bad_watch_list_stops_the_settings_with_its_reason() -> None:
    with pytest.raises(ConfigError, match=r"RW_METRICS_WATCH: watch-list entry .traffic:PK.: want"):
        load_settings(metrics_watch="traffic:PK")
