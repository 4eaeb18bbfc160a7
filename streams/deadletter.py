"""Dead letters on Kafka: the original key and bytes, with the reason in headers."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from restrictwatch.detectors.records import Rejection
from restrictwatch.streams.display import escaped
from restrictwatch.streams.handler import Inbound

MAX_REASON_BYTES = 4096


def deadletter_headers(inbound: Inbound, rejection: Rejection) -> list[tuple[str, bytes]]:
    """Headers of a dead letter: why (error type, reason, stage) and where it came from."""
    headers = [
        ("rw-error-type", rejection.error_type.encode()),
        ("rw-reason", _bounded_utf8(rejection.reason)),
        ("rw-stage", rejection.stage.encode()),
        ("rw-source-topic", inbound.topic.encode()),
        ("rw-source-partition", str(inbound.partition).encode()),
        ("rw-source-offset", str(inbound.offset).encode()),
    ]
    if rejection.index is not None:  # a record of a batch: the message is its original bytes
        headers.append(("rw-index", str(rejection.index).encode()))
    return headers


def _bounded_utf8(text: str) -> bytes:
    """At most MAX_REASON_BYTES of valid UTF-8: a cut never splits a character."""
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_REASON_BYTES:
        return data
    return data[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode()


@dataclass(frozen=True)
class DeadLetter:
    """A record of the dead-letter topic: the original key and bytes, why and where from."""

    error_type: str | None
    reason: str | None
    stage: str | None
    source_topic: str | None
    source_partition: str | None
    source_offset: str | None
    key: bytes | None
    original: bytes | None
    index: str | None = None  # the record's place in its batch, when the message was a batch

    @classmethod
    def of(
        cls, headers: Iterable[tuple[str, bytes | None]], key: bytes | None, value: bytes | None
    ) -> DeadLetter:
        """From a record's headers, as `deadletter_headers` writes them; any may be missing or
        garbled (header text is shown as written, escaped only when printed)."""
        h = {name: v.decode("utf-8", "replace") for name, v in headers or () if v is not None}
        return cls(
            error_type=h.get("rw-error-type"),
            reason=h.get("rw-reason"),
            stage=h.get("rw-stage"),
            source_topic=h.get("rw-source-topic"),
            source_partition=h.get("rw-source-partition"),
            source_offset=h.get("rw-source-offset"),
            key=key,
            original=value,
            index=h.get("rw-index"),
        )

    def line(self) -> str:
        """One line for a terminal: source, reason code, stage, reason, key, original (escaped)."""
        source = position(self.source_topic, self.source_partition, self.source_offset)
        if self.index is not None:
            source += f" record {_shown(self.index)}"
        parts = [
            source,
            f"{_shown(self.error_type)}/{_shown(self.stage)}",
            _shown(self.reason) if self.reason is not None else "(no reason)",
        ]
        if self.key is not None:
            parts.append(f"key: {escaped(self.key)}")
        parts.append(f"original: {escaped(self.original)}")
        return "  ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """A JSON object like replay's file form (schemas/deadletter.v1.schema.json), with the
        source position instead of a line number."""
        doc: dict[str, Any] = {
            "error_type": self.error_type,
            "reason": self.reason,
            "stage": self.stage,
            "source_topic": self.source_topic,
            "source_partition": _int_or_none(self.source_partition),
            "source_offset": _int_or_none(self.source_offset),
            **({"index": _int_or_none(self.index)} if self.index is not None else {}),
            "key_b64": base64.b64encode(self.key).decode("ascii") if self.key is not None else None,
            "original_b64": (
                base64.b64encode(self.original).decode("ascii")
                if self.original is not None
                else None
            ),
        }
        if self.original is not None:
            with contextlib.suppress(UnicodeDecodeError):
                doc["original"] = self.original.decode("utf-8")
        return doc

    def matches(self, reasons: Collection[str], source_topics: Collection[str]) -> bool:
        """Whether it passes the filters (an empty filter passes everything)."""
        return (not reasons or self.error_type in reasons) and (
            not source_topics or self.source_topic in source_topics
        )


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _shown(value: object) -> str:
    return escaped(str(value).encode()) if value is not None else "?"


def position(topic: object, partition: object, offset: object) -> str:
    """Where a record is, as `topic[partition]@offset`, escaped (? for what is not known)."""
    return f"{_shown(topic)}[{_shown(partition)}]@{_shown(offset)}"
