"""The detector configuration: YAML over the packaged default, validated with errors naming the key."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from restrictwatch.detectors.exceptions import ConfigError

DEFAULT_CONFIG_NAME = "default_config.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Model):
    """A feed. `cadence_seconds` null means: inferred from the spacing of its records."""

    cadence_seconds: int | None = Field(default=None, ge=60, le=86400)


class SeasonalParams(_Model):
    """Level + daily + weekly profile in log space (see detectors.seasonal)."""

    daily_slots: int = Field(default=48, ge=1, le=288)
    level_halflife_seconds: float = Field(default=2 * 86400, gt=0)
    daily_halflife_seconds: float = Field(default=3 * 86400, gt=0)
    weekly_halflife_seconds: float = Field(default=7 * 86400, gt=0)
    noise_halflife_seconds: float = Field(default=6 * 3600, gt=0)
    noise_floor: float = Field(default=0.03, ge=0)
    warmup_seconds: int = Field(default=3 * 86400, ge=0)
    clip_sigmas: float = Field(default=3.0, gt=0)
    protect_max_seconds: float = Field(default=2 * 86400, gt=0)
    slow_halflife_seconds: float = Field(default=28 * 86400, gt=0)
    slow_hold_seconds: float = Field(default=56 * 86400, ge=0)


class ProbeParams(_Model):
    """Probe success rate and latency baselines (see detectors.probes)."""

    rate_halflife_seconds: float = Field(default=3 * 3600, gt=0)
    latency_halflife_seconds: float = Field(default=3 * 3600, gt=0)
    rate_floor: float = Field(default=0.02, ge=0, le=1)
    warmup_seconds: int = Field(default=86400, ge=0)
    slow_halflife_seconds: float = Field(default=28 * 86400, gt=0)
    slow_hold_seconds: float = Field(default=56 * 86400, ge=0)


class MovingMedianParams(_Model):
    """IODA-style baseline: value against the median of a trailing window."""

    window_seconds: int = Field(default=86400, ge=3600)


class CusumParams(_Model):
    """OONI-style baseline: one-sided CUSUM on the standardized drop."""

    drift: float = Field(default=0.5, ge=0)
    threshold: float = Field(default=3.5, gt=0)
    fading: float = Field(default=0.01, gt=0, lt=1)


class HalfSpaceTreesParams(_Model):
    """river HalfSpaceTrees on scaled features, thresholded by a QuantileFilter."""

    n_trees: int = Field(default=10, ge=1)
    height: int = Field(default=8, ge=2)
    window_size: int = Field(default=250, ge=10)
    quantile: float = Field(default=0.98, gt=0, lt=1)
    seed: int = 42


class TrafficDetector(_Model):
    kind: Literal["seasonal", "moving_median", "cusum", "halfspacetrees"] = "seasonal"
    seasonal: SeasonalParams = SeasonalParams()
    moving_median: MovingMedianParams = MovingMedianParams()
    cusum: CusumParams = CusumParams()
    halfspacetrees: HalfSpaceTreesParams = HalfSpaceTreesParams()


class ReachabilityDetector(_Model):
    kind: Literal["success_rate"] = "success_rate"
    success_rate: ProbeParams = ProbeParams()


class Detectors(_Model):
    traffic: TrafficDetector = TrafficDetector()
    reachability: ReachabilityDetector = ReachabilityDetector()


class Thresholds(_Model):
    """When one bin of one series counts as anomalous. Drops are shares of the expected value."""

    min_sigmas: float = Field(default=3.0, gt=0, description="a drop must also be this many sigmas")
    outage_drop: float = Field(default=0.6, gt=0, le=1)
    block_drop: float = Field(default=0.55, gt=0, le=1)
    throttle_drop: float = Field(default=0.25, gt=0, le=1)
    reach_drop: float = Field(default=0.2, gt=0, le=1)
    latency_rise: float = Field(default=1.5, ge=1)
    protect_sigmas: float = Field(
        default=3.0, gt=0, description="keep bins this far below out of learning"
    )
    protect_drop: float = Field(default=0.2, ge=0, le=1, description="... and this far below")
    outage_platform_share: float = Field(default=0.8, gt=0, le=1)
    recovered_drop: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="an open outage or network throttling ends once its drop is below this",
    )
    slow_drop: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="a platform this far below its slow reference, corroborated, is throttled",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.throttle_drop < self.block_drop:
            raise ValueError("throttle_drop must be below block_drop")
        return self


class Lifecycle(_Model):
    open_after_bins: int = Field(default=2, ge=1, description="consecutive anomalous bins to open")
    resolve_after_bins: int = Field(
        default=3, ge=1, description="consecutive normal bins to resolve"
    )
    weak_open_after_bins: int = Field(
        default=4,
        ge=1,
        description="... to open on one uncorroborated signal (throttling without latency rise)",
    )
    quiet_on_holidays: bool = Field(
        default=True,
        description="on a country's public holidays a weak observation does not open an incident",
    )
    join_window_seconds: int = Field(default=3600, ge=0)
    group_join_window_seconds: int = Field(default=6 * 3600, ge=0)
    source_silence_seconds: int = Field(default=3600, ge=60)
    hold_factor: float = Field(
        default=0.75,
        gt=0,
        le=1,
        description="an open unit stays open down to this share of its thresholds",
    )


class OverrideMatch(_Model):
    country: str | None = Field(default=None, pattern="^[A-Z]{2}$")
    region: str | None = Field(default=None, pattern="^[A-Z]{2}-[A-Z0-9]{1,3}$")
    asn: int | None = None
    platform: str | None = None
    source: str | None = None  # a feed whose measure behaves differently (an address-space index)


class Override(_Model):
    """Thresholds for the series that match; the most specific match wins."""

    match: OverrideMatch
    thresholds: dict[str, float]

    @model_validator(mode="after")
    def _known(self) -> Override:
        unknown = set(self.thresholds) - set(Thresholds.model_fields)
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(sorted(unknown))}")
        return self


class Config(_Model):
    version: str = "default-1"
    bin_seconds: int = Field(default=300, ge=60, le=86400)
    lateness_seconds: int = Field(default=600, ge=0, le=86400)
    max_future_seconds: int = Field(default=86400, ge=0)
    max_record_bytes: int = Field(default=65536, ge=256)
    sources: dict[str, SourceConfig] = {}
    detectors: Detectors = Detectors()
    thresholds: Thresholds = Thresholds()
    lifecycle: Lifecycle = Lifecycle()
    platform_names: dict[str, str] = {}
    platform_groups: dict[str, list[str]] = {}
    overrides: list[Override] = []

    @model_validator(mode="after")
    def _bins_divide_day(self) -> Config:
        if 86400 % self.bin_seconds:
            raise ValueError("bin_seconds must divide a day (86400)")
        return self

    @property
    def fingerprint(self) -> str:
        """Version plus a content hash, so an edit without a version bump is still told apart."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return f"{self.version}@{hashlib.sha256(canonical).hexdigest()[:8]}"

    def thresholds_for(
        self,
        country: str,
        asn: int | None,
        platform: str | None,
        region: str | None = None,
        source: str | None = None,
    ) -> Thresholds:
        """Effective thresholds for one series: overrides applied from least to most specific."""
        matching = [
            o
            for o in self.overrides
            if (o.match.country in (None, country))
            and (o.match.region in (None, region))
            and (o.match.asn in (None, asn))
            and (o.match.platform in (None, platform))
            and (o.match.source in (None, source))
        ]
        if not matching:
            return self.thresholds
        matching.sort(key=lambda o: sum(v is not None for v in o.match.model_dump().values()))
        merged: dict[str, Any] = self.thresholds.model_dump()
        for o in matching:
            merged.update(o.thresholds)
        return Thresholds(**merged)

    def platform_name(self, platform: str) -> str:
        return self.platform_names.get(platform, platform)

    def platform_order(self, platforms: list[str]) -> list[str]:
        """Named platforms in the order the config names them, then the rest alphabetically."""
        known = list(self.platform_names)
        return sorted(platforms, key=lambda p: (known.index(p) if p in known else len(known), p))

    def groups_of(self, platform: str) -> set[str]:
        return {g for g, members in self.platform_groups.items() if platform in members}


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"  {path}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: Any, origin: str = "<config>") -> Config:
    """Validate a whole parsed YAML document as given (no overlay); raises ConfigError naming each
    bad key's path. Keys it lacks take their built-in values, not the packaged default's."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: invalid configuration\n{_format_errors(exc)}") from None


def overlay(default: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `default`, so a config file needs only the keys it changes.

    Mappings merge key by key, recursively; any other value, a list included, replaces the
    default's whole. A null removes a key the default has (its entry of `platform_names`,
    `platform_groups` or `sources`, or a setting, which then takes its built-in value); a null for
    a key the default lacks is kept, so validation still names it. Neither argument is changed.
    """
    merged = dict(default)
    for key, value in override.items():
        base = merged.get(key)
        if value is None and key in merged:
            del merged[key]
        elif isinstance(value, dict) and isinstance(base, dict):
            merged[key] = overlay(base, value)
        else:
            merged[key] = value
    return merged


def _read_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}", "yaml") from None


def default_document() -> dict[str, Any]:
    """The packaged default config as parsed YAML: the base every config file is laid over."""
    text = (
        resources.files("restrictwatch.detectors")
        .joinpath(DEFAULT_CONFIG_NAME)
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = _read_yaml(text, "default config")
    return data


def load_config(path: str | Path | None = None) -> Config:
    """The packaged default, with the YAML file at `path` (if any) laid over it (see `overlay`)."""
    if path is None:
        return parse_config(default_document(), "default config")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", "unreadable") from None
    origin = str(path)
    data = _read_yaml(text, origin)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping")
    return parse_config(overlay(default_document(), data), origin)


def config_as_yaml(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
