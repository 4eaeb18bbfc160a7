"""The detection core's errors, under one root so callers can catch them together."""

from __future__ import annotations


class RestrictwatchError(Exception):
    """Root of every error restrictwatch raises on purpose."""


class ConfigError(RestrictwatchError):
    """The detector configuration is invalid; the message names the path of each bad key.

    `reason` is a bounded code for metrics: `unreadable` (the file), `yaml` (its syntax), or
    `invalid` (a key or value).
    """

    REASONS = ("unreadable", "yaml", "invalid")

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason
