"""The command line's own error."""

from __future__ import annotations

from restrictwatch.detectors.exceptions import RestrictwatchError


class UsageError(RestrictwatchError):
    """Bad arguments or unusable input: printed without a traceback, exit 2."""
