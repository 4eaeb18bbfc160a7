"""Dead letters on Kafka: the original key and bytes, with the reason in headers."""

from __future__ import annotations

from detectors.records import Rejection
from streams.handler import Inbound

MAX_REASON_BYTES = 4096


def deadletter_headers(inbound: Inbound, rejection: Rejection) -> list[tuple[str, bytes]]:
    """Headers of a dead letter: why (error type, reason, stage) and where it came from."""
    return [
        ("rw-error-type", rejection.error_type.encode()),
        ("rw-reason", _bounded_utf8(rejection.reason)),
        ("rw-stage", rejection.stage.encode()),
        ("rw-source-topic", inbound.topic.encode()),
        ("rw-source-partition", str(inbound.partition).encode()),
        ("rw-source-offset", str(inbound.offset).encode()),
    ]


def _bounded_utf8(text: str) -> bytes:
    """At most MAX_REASON_BYTES of valid UTF-8: a cut never splits a character."""
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_REASON_BYTES:
        return data
    return data[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode()
