"""What the worker reports as it goes; metrics implement it, tests may record it."""

from __future__ import annotations

from typing import Any, Protocol


class WorkerObserver(Protocol):
    def consumed(self, topic: str) -> None: ...
    def processed(self, topic: str, event_ts: float) -> None: ...
    def dead_lettered(self, topic: str, reason: str) -> None: ...
    def duration(self, topic: str, seconds: float) -> None: ...
    def event_emitted(self, event: dict[str, Any]) -> None: ...
    def checkpointed(self, countries: int, size: int) -> None: ...
    def config_loaded(self, fingerprint: str) -> None: ...


class NullObserver:
    def consumed(self, topic: str) -> None:
        pass

    def processed(self, topic: str, event_ts: float) -> None:
        pass

    def dead_lettered(self, topic: str, reason: str) -> None:
        pass

    def duration(self, topic: str, seconds: float) -> None:
        pass

    def event_emitted(self, event: dict[str, Any]) -> None:
        pass

    def checkpointed(self, countries: int, size: int) -> None:
        pass

    def config_loaded(self, fingerprint: str) -> None:
        pass
