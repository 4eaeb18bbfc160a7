"""The integration-test broker really works: produce/consume over PLAINTEXT, consumer
groups (offsets topic with replication factor 1), and the SASL_SSL/SCRAM mode of
deploy/kafka/kafka.sh."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError


def _produce(config: dict[str, Any], topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(acks="all", linger_ms=0, **config)
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value).get(timeout=30)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def _consume_from_start(
    config: dict[str, Any], topic: str, count: int, timeout_s: float = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    consumer = KafkaConsumer(enable_auto_commit=False, **config)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend((r.key, r.value) for r in records)
        return got
    finally:
        consumer.close()


def test_produce_consume_roundtrip(kafka_bootstrap: str, make_topic: Callable[..., str]) -> None:
    topic = make_topic()
    sent = [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(5)]
    config = {"bootstrap_servers": kafka_bootstrap}

    _produce(config, topic, sent)

    assert _consume_from_start(config, topic, len(sent)) == sent


def test_consumer_group_commits_offsets(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic()
    _produce({"bootstrap_servers": kafka_bootstrap}, topic, [(b"k", b"a"), (b"k", b"b")])

    group = f"{topic}-group"
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(values) < 2 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        assert values == [b"a", b"b"]
        consumer.commit()
        assert consumer.committed(TopicPartition(topic, 0)) == 2
    finally:
        consumer.close()


def test_sasl_ssl_scram(local_kafka: Any) -> None:  # conftest.BrokerPool
    """KAFKA_SECURITY=sasl_ssl: SCRAM-SHA-512 over TLS works with the generated CA,
    wrong passwords are rejected, and PLAINTEXT stays open for admin."""
    broker = local_kafka.start("sasl", preferred_port=19192, security="sasl_ssl")
    try:
        assert broker.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
        sasl = broker.sasl_ssl_client_config()
        topic = "sasl-roundtrip"

        admin = KafkaAdminClient(client_id="restrictwatch-tests-sasl", **sasl)
        try:
            admin.create_topics(
                {topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True
            )
        finally:
            admin.close()

        sent = [(b"k1", b"over-tls-1"), (b"k2", b"over-tls-2")]
        _produce(sasl, topic, sent)
        assert _consume_from_start(sasl, topic, len(sent)) == sent

        # The PLAINTEXT admin listener sees the same data.
        plain = {"bootstrap_servers": broker.bootstrap}
        assert _consume_from_start(plain, topic, len(sent)) == sent

        # A wrong password must not get in.
        with pytest.raises(KafkaError):
            bad = KafkaAdminClient(
                client_id="restrictwatch-tests-badpw",
                bootstrap_timeout_ms=4000,
                request_timeout_ms=4000,
                **broker.sasl_ssl_client_config(password="not-the-password"),
            )
            try:
                bad.list_topics()
            finally:
                bad.close()
        assert "Failed authentication" in broker.log_file.read_text(errors="replace")
    finally:
        broker.down()
