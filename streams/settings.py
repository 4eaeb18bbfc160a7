"""Worker settings: one pydantic-settings model, from `RW_*` environment variables (or a .env file).

Secrets are `SecretStr`, never logged; `masked()` is what the worker logs at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from restrictwatch.detectors.exceptions import ConfigError


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RW_", extra="forbid", frozen=True)

    app_id: str = Field(
        default="restrictwatch",
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$",
        description="consumer group, prefix of the changelog topics, and the state directory's"
        " subdirectory: letters, digits, '.', '_', '-' (not first)",
    )
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = Field(
        default=None, description="read the password from this file"
    )
    ssl_cafile: Path | None = None
    connect_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how long the worker and the commands keep trying to reach a broker before"
        " they give up (exit 2)",
    )
    allow_insecure_sasl: bool = Field(
        default=False, description="permit SASL over plaintext (credentials in clear)"
    )

    traffic_topic: str = "rw.traffic.v1"
    reachability_topic: str = "rw.reachability.v1"
    events_topic: str = "rw.events.v1"
    deadletter_topic: str = "rw.deadletter.v1"
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)

    detector_config: Path | None = Field(
        default=None, description="detector YAML (default: packaged)"
    )
    state_dir: Path = Path("state")
    store: str = Field(default="rocksdb://", pattern=r"^(rocksdb|memory)://$")
    web_enabled: bool = Field(default=False, description="serve Faust's own web views")
    web_port: int = Field(default=6066, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="0 disables /metrics")
    metrics_host: str = Field(
        default="127.0.0.1", description="0.0.0.0 to let a remote Prometheus scrape"
    )
    metrics_watch: str = Field(
        default="traffic:*:-:-",
        description="series whose observed/expected values are exported: signal:country:asn:platform,"
        " comma-separated, * any, - absent; country may be a region (PK-BA) or PK-* (default: every"
        " country's total traffic)",
    )
    metrics_watch_limit: int = Field(
        default=200, ge=0, le=10000, description="cap on watched series"
    )
    checkpoint_policy: Literal["bin", "record", "interval"] = Field(
        default="bin",
        description="write a partition's state after every evaluated bin, after every record, or"
        " only every N records and on the timer",
    )
    checkpoint_every_records: int = Field(default=5000, ge=1)
    checkpoint_interval_seconds: float = Field(default=1.0, gt=0)
    checkpoint_max_share: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="the largest share of the time spent writing checkpoints: after one that took"
        " t seconds a partition waits t*(1/share-1) before the next (not with policy record);"
        " 1 never waits",
    )
    merge_idle_seconds: float = Field(
        default=1.0,
        ge=0,
        description="wait this long for the other input topic before going on alone",
    )
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    session_timeout_seconds: float = Field(
        default=60.0,
        ge=6,
        le=1800,
        description="a worker silent this long leaves the group; a killed worker's partitions wait"
        " this long before anyone else takes them",
    )

    @field_validator("metrics_watch")
    @classmethod
    def _watchlist(cls, value: str) -> str:
        from restrictwatch.streams.watchlist import parse_watchlist

        try:
            parse_watchlist(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _safe_security(self) -> WorkerSettings:
        if self.security_protocol == "SASL_PLAINTEXT" and not self.allow_insecure_sasl:
            raise ValueError(
                "SASL over PLAINTEXT sends credentials in clear: use SASL_SSL, or set RW_ALLOW_INSECURE_SASL=true"
            )
        if self.security_protocol.startswith("SASL"):
            if not self.sasl_username:
                raise ValueError("SASL needs RW_SASL_USERNAME")
            if self.sasl_password is None and self.sasl_password_file is None:
                raise ValueError("SASL needs RW_SASL_PASSWORD or RW_SASL_PASSWORD_FILE")
        return self

    def password(self) -> str | None:
        if self.sasl_password is not None:
            return self.sasl_password.get_secret_value()
        if self.sasl_password_file is not None:
            return self.sasl_password_file.read_text(encoding="utf-8").strip()
        return None

    def masked(self) -> dict[str, Any]:
        """Every setting, secrets as '**********' — what may be logged."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'

    def kafka_kwargs(self) -> dict[str, Any]:
        """Connection options for kafka-python clients."""
        opts: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL") and self.ssl_cafile:
            opts["ssl_cafile"] = str(self.ssl_cafile)
        if self.security_protocol.startswith("SASL"):
            opts.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.password(),
            )
        return opts


def load_settings(**overrides: Any) -> WorkerSettings:
    """The settings from the environment (and `overrides`); ConfigError names each bad field.

    The message leaves the offending values out: pydantic's own would print a password.
    """
    return load_settings_as(WorkerSettings, "worker", **overrides)


SettingsModel = TypeVar("SettingsModel", bound=BaseSettings)


def load_settings_as(model: type[SettingsModel], what: str, **overrides: Any) -> SettingsModel:
    """`load_settings` for another settings model (e.g. the events API's), named `what` in errors."""
    try:
        return model(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            _problem(e["loc"], e["msg"]) for e in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"invalid {what} settings: {problems}") from None


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    return f"RW_{'_'.join(map(str, loc)).upper()}: {msg}" if loc else msg
