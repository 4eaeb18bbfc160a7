"""What the worker reports as it goes; metrics implement it, tests may record it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class WorkerObserver(Protocol):
    def consumed(self, topic: str, records: int = 1) -> None:
        """A message was read from an input topic, with this many records (a batch: several)."""

    def processed(self, topic: str, event_ts: float) -> None:
        """A record was used by the detection core; `event_ts` is its event time."""

    def dead_lettered(self, topic: str, reason: str) -> None:
        """A record was sent to the dead-letter topic; `reason` is its bounded error type."""

    def duration(self, topic: str, seconds: float) -> None:
        """Wall time to handle one consumed record, publishing included."""

    def event_emitted(self, event: Mapping[str, Any]) -> None:
        """An event message was sent."""

    def checkpointed(self, countries: int, size: int) -> None:
        """`countries` states (`size` bytes in all) were written to the state table."""

    def config_loaded(self, fingerprint: str) -> None:
        """A detector config was loaded, at start or on SIGHUP."""

    def config_load_failed(self, reason: str) -> None:
        """A reload was refused (the old config stays); `reason` is a ConfigError reason or
        `error`."""

    def rewound(self, topic: str) -> None:
        """An input partition of `topic` is read again from its commit, which had stopped."""

    def ready(self, ready: bool) -> None:
        """The worker holds its partitions with their state restored (True), or is starting or
        rebalancing (False)."""


class NullObserver:
    """Observes nothing: the default when no metrics are wanted."""

    def consumed(self, topic: str, records: int = 1) -> None:
        pass

    def processed(self, topic: str, event_ts: float) -> None:
        pass

    def dead_lettered(self, topic: str, reason: str) -> None:
        pass

    def duration(self, topic: str, seconds: float) -> None:
        pass

    def event_emitted(self, event: Mapping[str, Any]) -> None:
        pass

    def checkpointed(self, countries: int, size: int) -> None:
        pass

    def config_loaded(self, fingerprint: str) -> None:
        pass

    def config_load_failed(self, reason: str) -> None:
        pass

    def rewound(self, topic: str) -> None:
        pass

    def ready(self, ready: bool) -> None:
        pass
