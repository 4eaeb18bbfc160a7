"""Dead letters on Kafka: the original key and bytes, with the reason in headers."""

from __future__ import annotations

from detectors.records import Rejection
from streams.handler import Inbound

HEADER_PREFIX = "rw-"


def deadletter_headers(inbound: Inbound, rejection: Rejection) -> list[tuple[str, bytes]]:
    return [
        ("rw-error-type", rejection.error_type.encode()),
        ("rw-reason", rejection.reason.encode("utf-8", "replace")[:4096]),
        ("rw-stage", rejection.stage.encode()),
        ("rw-source-topic", inbound.topic.encode()),
        ("rw-source-partition", str(inbound.partition).encode()),
        ("rw-source-offset", str(inbound.offset).encode()),
    ]
