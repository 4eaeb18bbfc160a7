"""Read the events topic into the store, from the offsets the store holds.

Partitions are assigned by hand (no consumer group, no offset commits): the store's offsets,
written in the same transaction as the rows, are the only record of progress, so a restart
resumes exactly after the last stored message. kafka-python blocks, so this runs in a thread of
its own with its own store connection.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from restrictwatch.streams.api.metrics import ApiMetrics
from restrictwatch.streams.api.settings import ApiSettings
from restrictwatch.streams.api.store import EventStore, RawMessage

log = logging.getLogger("restrictwatch.api")

RETRY_SECONDS = 2.0
REFRESH_PARTITIONS_SECONDS = 10.0


@dataclass
class ConsumerState:
    """What /healthz reports about the consumer."""

    connected: bool = False
    partitions: list[int] = field(default_factory=list)
    last_error: str | None = None
    started: bool = False


class EventsConsumer:
    def __init__(
        self, settings: ApiSettings, metrics: ApiMetrics, stop: threading.Event | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.stop = stop or threading.Event()
        self.state = ConsumerState()
        self.thread = threading.Thread(target=self.run, name="events-consumer", daemon=True)

    def start(self) -> None:
        self.state.started = True
        self.thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def run(self) -> None:
        from kafka.errors import KafkaError

        store = EventStore(self.settings.api_db)
        try:
            while not self.stop.is_set():
                try:
                    self._consume(store)
                except KafkaError as exc:
                    self.state.connected = False
                    self.state.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("events consumer: %s; retrying", self.state.last_error)
                    self.stop.wait(RETRY_SECONDS)
                except Exception as exc:
                    # e.g. a full disk: nothing of the failed batch was stored, so it is read
                    # again; /healthz shows the error meanwhile.
                    self.state.connected = False
                    self.state.last_error = f"{type(exc).__name__}: {exc}"
                    log.exception("events consumer failed; retrying from the stored offsets")
                    self.stop.wait(RETRY_SECONDS)
        finally:
            store.close()

    def _consume(self, store: EventStore) -> None:
        from kafka import KafkaConsumer, TopicPartition

        topic = self.settings.events_topic
        consumer = KafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="restrictwatch-api",
            **self.settings.kafka_kwargs(),
        )
        try:
            self.state.connected = True
            self.state.last_error = None
            assigned: list[Any] = []
            refreshed = float("-inf")
            while not self.stop.is_set():
                if time.monotonic() - refreshed > REFRESH_PARTITIONS_SECONDS or not assigned:
                    refreshed = time.monotonic()
                    consumer.topics()  # refreshes metadata, so a topic created later shows up
                    partitions = sorted(consumer.partitions_for_topic(topic) or ())
                    if partitions != [tp.partition for tp in assigned]:
                        assigned = [TopicPartition(topic, p) for p in partitions]
                        self._assign(consumer, store, assigned)
                if not assigned:
                    self.stop.wait(1.0)
                    continue
                polled = consumer.poll(timeout_ms=500, max_records=self.settings.api_poll_records)
                batch = [
                    RawMessage(r.partition, r.offset, r.value)
                    for records in polled.values()
                    for r in records
                ]
                if batch:
                    self._store(store, topic, batch)
                self._update_lag(consumer, store, assigned)
        finally:
            self.state.connected = False
            consumer.close()

    def _assign(self, consumer: Any, store: EventStore, tps: list[Any]) -> None:
        consumer.assign(tps)
        stored = store.offsets(self.settings.events_topic)
        for tp in tps:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        self.state.partitions = [tp.partition for tp in tps]
        log.info(
            "events consumer: %s partitions %s from offsets %s",
            self.settings.events_topic,
            self.state.partitions,
            {p: stored.get(p, 0) for p in self.state.partitions},
        )

    def _store(self, store: EventStore, topic: str, batch: list[RawMessage]) -> None:
        result = store.ingest(topic, batch)
        self.metrics.ingested(result)
        for message, rejection in result.rejections:
            log.warning(
                "skipped %s partition %d offset %d (%s): %s",
                topic,
                message.partition,
                message.offset,
                rejection.error_type,
                rejection.reason,
            )
        for message, key in result.conflicts:
            log.warning(
                "kept the stored %s: %s partition %d offset %d has other content",
                key,
                topic,
                message.partition,
                message.offset,
            )

    def _update_lag(self, consumer: Any, store: EventStore, tps: list[Any]) -> None:
        stored = store.offsets(self.settings.events_topic)
        for tp in tps:
            end = consumer.highwater(tp)
            if end is not None:
                self.metrics.lag.labels(str(tp.partition)).set(
                    max(0, end - stored.get(tp.partition, 0))
                )
