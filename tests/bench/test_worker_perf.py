"""The worker benchmark's accounting: committed offsets of batched messages counted in records."""

from __future__ import annotations

from kafka import TopicPartition

from bench.worker_perf import records_before, records_in
from restrictwatch.streams.kafka_io import batch_bytes

ONE = b'{"signal":"traffic","ts":"2024-01-01T00:00:00Z","country":"KE","asn":1,"value":1.0}'


def test_a_message_holds_its_batch_s_records_or_one() -> None:
    assert records_in(batch_bytes([(1, ONE), (2, ONE), (3, ONE)])) == 3
    assert records_in(batch_bytes([(1, ONE)])) == 1  # a batch of one goes out as the record
    assert records_in(ONE) == 1
    assert records_in(b"  [" + ONE + b"]") == 1
    # what the worker dead-letters whole is one message and one record
    assert records_in(b"[not json") == 1
    assert records_in(b"[]") == 1


def test_committed_offsets_count_the_records_of_the_messages_before_them() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    # prefix[tp][n]: records in the messages at offsets below n (messages of 3, 1, 2 records)
    prefix = {a: [0, 3, 4, 6], b: [0, 5]}
    assert records_before(prefix, {a: 0, b: 0}) == 0
    assert records_before(prefix, {a: 2, b: 0}) == 4
    assert records_before(prefix, {a: 3, b: 1}) == 11
