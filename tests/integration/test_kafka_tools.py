"""`restrictwatch topics create`, `produce` and `tail` as an operator runs them, on the real broker."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from restrictwatch.streams.display import escaped
from restrictwatch.streams.kafka_io import RECORD_FRAMING_BYTES
from tests.catalogue import stateless
from tests.conftest import START, reach, traffic
from tests.integration.workers import Deployment


def restrictwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "restrictwatch.streams.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read_all(bootstrap: str, topic: str, partitions: int) -> list[tuple[bytes | None, bytes]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        want = sum(consumer.end_offsets(tps).values())
        got: list[tuple[bytes | None, bytes]] = []
        while len(got) < want:
            for records in consumer.poll(timeout_ms=1000).values():
                got += [(r.key, r.value) for r in records]
        return got
    finally:
        consumer.close()


LINES = [
    traffic(START, 10.0, country="PK"),
    reach(START, 40, 39, country="PK"),
    b"{not json",
    traffic(START, 20.0, country="IR"),
    traffic(START + 60, 11.0, country="PK"),  # the bin of the first
]


def test_topics_create_produce_and_tail(kafka_bootstrap: str, tmp_path: Path) -> None:
    d = Deployment(kafka_bootstrap, tmp_path)
    env = d.env

    first = restrictwatch(env, "topics", "create")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(d.name) == 4
    again = restrictwatch(env, "topics", "create")
    assert "nothing (all topics exist)" in again.stdout
    mismatch = restrictwatch({**env, "RW_PARTITIONS": "3"}, "topics", "create")
    assert mismatch.returncode == 2
    assert "has 2 partitions but RW_PARTITIONS is 3" in mismatch.stderr

    lines = LINES
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(lines) + b"\n")
    sent = restrictwatch(env, "produce", str(records))
    assert sent.returncode == 0, sent.stderr
    assert "sent 5 records" in sent.stderr
    s = d.settings()
    # By default a country's records of one bin and topic go as one batch (a JSON array of them,
    # in their order); a record alone in its batch goes as it is, and a bad line goes alone.
    assert sorted(read_all(kafka_bootstrap, s.traffic_topic, 2), key=repr) == sorted(
        [(b"PK", b"[" + lines[0] + b"," + lines[4] + b"]"), (None, lines[2]), (b"IR", lines[3])],
        key=repr,
    )
    assert read_all(kafka_bootstrap, s.reachability_topic, 2) == [(b"PK", lines[1])]

    # A record the broker refuses is reported, not silently dropped.
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    s.reachability_topic,
                    configs={"max.message.bytes": "200"},
                )
            ]
        )
    finally:
        admin.close()
    # A line too large for the topic (refused by the broker) or for a request (refused by the
    # producer) is skipped and counted; the rest go on.
    big = reach(START + 300, 40, 39, country="PK", note="x" * 400)
    huge = traffic(START + 600, 1.0, country="IR")[:-1] + b',"pad":"' + b"x" * 1_200_000 + b'"}'
    after = traffic(START + 900, 30.0, country="IR")
    records.write_bytes(b"\n".join([lines[0], big, huge, after]) + b"\n")
    skipped = restrictwatch(env, "produce", str(records))
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stderr.splitlines() == [
        f"sent 2 records; skipped 2 too large for the broker (MessageSizeTooLargeError): "
        f"line 2 ({len(big)} bytes), 3 ({len(huge)} bytes)"
    ]
    traffic_now = read_all(kafka_bootstrap, s.traffic_topic, 2)
    assert (b"IR", after) in traffic_now and (b"IR", huge) not in traffic_now
    assert read_all(kafka_bootstrap, s.reachability_topic, 2) == [(b"PK", lines[1])]

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for event_id, seq, status in [
        ("rw-PK-a", 0, "open"),
        ("rw-IR-b", 0, "open"),
        ("rw-PK-a", 1, "resolved"),
    ]:
        message = {"event_id": event_id, "seq": seq, "status": status}
        producer.send(s.events_topic, key=event_id.encode(), value=orjson.dumps(message))
    producer.flush()
    producer.close()
    everything = restrictwatch(env, "tail", "--idle", "3")
    assert [orjson.loads(line)["status"] for line in everything.stdout.splitlines()].count(
        "open"
    ) == 2
    current = restrictwatch(env, "tail", "--current", "--idle", "3")
    assert [orjson.loads(line) for line in current.stdout.splitlines()] == [
        {"event_id": "rw-IR-b", "seq": 0, "status": "open"}
    ]


def test_produce_with_batch_1_sends_one_message_per_line(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    d = Deployment(kafka_bootstrap, tmp_path)
    d.create_topics()
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(LINES) + b"\n")
    sent = restrictwatch(d.env, "produce", "--batch", "1", str(records))
    assert sent.returncode == 0, sent.stderr
    assert "sent 5 records" in sent.stderr
    s = d.settings()
    traffic_sent = read_all(kafka_bootstrap, s.traffic_topic, 2)
    assert sorted(traffic_sent, key=repr) == sorted(
        [(b"PK", LINES[0]), (None, LINES[2]), (b"IR", LINES[3]), (b"PK", LINES[4])], key=repr
    )
    pk = [value for key, value in traffic_sent if key == b"PK"]
    assert pk == [LINES[0], LINES[4]]  # one key, one partition: in the file's order
    assert read_all(kafka_bootstrap, s.reachability_topic, 2) == [(b"PK", LINES[1])]


def create_input_topics_limited_to(d: Deployment, max_message_bytes: int) -> None:
    """The deployment's topics, the two input topics with a smaller max.message.bytes."""
    s = d.settings()
    admin = KafkaAdminClient(bootstrap_servers=d.bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(
                    t, d.partitions, 1, topic_configs={"max.message.bytes": str(max_message_bytes)}
                )
                for t in (s.traffic_topic, s.reachability_topic)
            ]
        )
    finally:
        admin.close()
    d.create_topics()  # the events and dead-letter topics


def many_series(bins: int, countries: tuple[str, ...]) -> list[bytes]:
    """Per bin and country 300 traffic and 200 reachability series (~30 and ~28 KB of records)."""
    lines = []
    for b in range(bins):
        ts = START + 300 * b
        for i in range(300):
            for country in countries:
                lines.append(traffic(ts, 100.0 + i, country=country, asn=64_000 + i))
                if i < 200:
                    lines.append(reach(ts, 40, 39, platform=f"p{i}", country=country))
    return lines


def records_of(value: bytes) -> list[object]:
    doc = orjson.loads(value)
    return doc if isinstance(doc, list) else [doc]


LIMIT = 20_000


def test_produce_caps_batches_at_the_topics_max_message_bytes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    d = Deployment(kafka_bootstrap, tmp_path)
    create_input_topics_limited_to(d, LIMIT)
    lines = many_series(bins=3, countries=("PK", "IR"))
    # A line larger than the limit alone is refused whatever the batching.
    big = traffic(START + 300, 1.0, country="PK")[:-1] + b',"pad":"' + b"x" * LIMIT + b'"}'
    at = len(lines) // 2
    lines.insert(at, big)
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(lines) + b"\n")
    sent = restrictwatch(d.env, "produce", "--batch", "1000", str(records))
    assert sent.returncode == 0, sent.stderr
    assert sent.stderr.splitlines() == [
        f"sent {len(lines) - 1} records; skipped 1 too large for the broker "
        f"(MessageSizeTooLargeError): line {at + 1} ({len(big)} bytes)"
    ]
    s = d.settings()
    for topic, signal in ((s.traffic_topic, "traffic"), (s.reachability_topic, "reachability")):
        messages = read_all(kafka_bootstrap, topic, 2)
        for key, value in messages:
            assert key is not None and len(key) + len(value) + RECORD_FRAMING_BYTES <= LIMIT
        # batches, filled up to the cap: a bin of a country's records does not fit in one
        sizes = sorted(len(value) for _, value in messages)
        assert len(messages) <= 4 * 3 and sizes[-1] > LIMIT - RECORD_FRAMING_BYTES - 200
        for country in ("PK", "IR"):
            got = [
                r for key, value in messages if key == country.encode() for r in records_of(value)
            ]
            wanted = [
                orjson.loads(line)
                for line in lines
                if line is not big
                and b'"country":"' + country.encode() + b'"' in line
                and b'"signal":"' + signal.encode() + b'"' in line
            ]
            assert got == wanted  # every record, in the file's order (one key, one partition)


def test_produce_says_once_when_it_cannot_read_a_topics_limit(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    d = Deployment(kafka_bootstrap, tmp_path)  # no topics: the broker creates them on first use
    records = tmp_path / "records.jsonl"
    records.write_bytes(b"\n".join(LINES) + b"\n")
    sent = restrictwatch(d.env, "produce", str(records))
    assert sent.returncode == 0, sent.stderr
    s = d.settings()
    assert sent.stderr.splitlines() == [
        f"restrictwatch: cannot read max.message.bytes of {s.traffic_topic}, "
        f"{s.reachability_topic} (no permission to describe topic configs, or no such topic yet): "
        "batches to it are capped at 900000 bytes, which a smaller limit refuses whole",
        "sent 5 records",
    ]


def test_deadletters_prints_what_the_worker_rejected_and_tail_survives_any_bytes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    d = Deployment(kafka_bootstrap, tmp_path)
    d.create_topics()
    s = d.settings()
    nothing = restrictwatch(d.env, "tail", "--current", "--idle", "2")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    assert nothing.stderr == f"no incident open (in {s.events_topic})\n"
    bad = stateless(START)
    d.start_worker()
    try:
        d.produce([traffic(START, 10.0, country="PK")] + [b.raw for b in bad])
        d.read("deadletter", lambda ms: len(ms) >= len(bad), timeout=180)
    finally:
        d.stop_all()

    plain = restrictwatch(d.env, "deadletters", "--idle", "3")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert len(lines) == len(bad)
    assert all(line.isprintable() for line in lines)
    code_of = {b.raw: b.error_type for b in bad}
    as_json = restrictwatch(d.env, "deadletters", "--idle", "3", "--json")
    letters = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    # The original bytes come back exactly, with the reason code and position the worker gave.
    assert sorted(base64.b64decode(x["original_b64"]) for x in letters) == sorted(code_of)
    for x in letters:
        assert x["error_type"] == code_of[base64.b64decode(x["original_b64"])]
        assert x["stage"] in ("decode", "validate", "bin") and x["reason"]
        assert x["source_topic"] in (s.traffic_topic, s.reachability_topic)
        assert isinstance(x["source_offset"], int) and isinstance(x["source_partition"], int)
    binary = next(b for b in bad if b.name == "binary garbage")
    shown = next(line for line in lines if "encoding/decode" in line and "\\x00\\x01" in line)
    assert shown.startswith(f"{s.traffic_topic}[")
    assert shown.endswith("original: " + escaped(binary.raw))

    encoding = restrictwatch(d.env, "deadletters", "--idle", "3", "--reason", "encoding")
    assert len(encoding.stdout.splitlines()) == sum(b.error_type == "encoding" for b in bad)
    assert all("  encoding/" in line for line in encoding.stdout.splitlines())
    probes = restrictwatch(
        d.env, "deadletters", "--idle", "3", "--json", "--source-topic", s.reachability_topic
    )
    from_probes = [orjson.loads(line) for line in probes.stdout.splitlines()]
    assert from_probes and {x["source_topic"] for x in from_probes} == {s.reachability_topic}
    assert len(from_probes) == sum(b'"reachability"' in b.raw for b in bad)

    # Whatever lands on the events topic, tail prints one escaped line for it and goes on.
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    hostile = [b"{not json", b"\xff\xfe\x1b[2J", b"[1, 2]", b'{"event_id": "rw-PK-a", "seq": 0}']
    for value in [*hostile, None]:
        producer.send(s.events_topic, key=b"k", value=value)
    producer.send(
        s.events_topic,
        key=b"rw-IR-b",
        value=orjson.dumps({"event_id": "rw-IR-b", "seq": 0, "status": "open"}),
    )
    producer.flush()
    producer.close()
    tail = restrictwatch(d.env, "tail", "--idle", "3")
    assert tail.returncode == 0 and "Traceback" not in tail.stderr, tail.stderr
    ir_open = '{"event_id":"rw-IR-b","seq":0,"status":"open"}'
    shown = tail.stdout.splitlines()
    assert ir_open in shown  # on whichever partition its key chose
    assert [line for line in shown if line != ir_open] == [  # one key: one partition, in order
        "{not json",
        "\\xff\\xfe\\x1b[2J",
        "[1, 2]",  # JSON, but no event message: shown as it came
        '{"event_id":"rw-PK-a","seq":0}',
        "(no value)",
    ]
    assert tail.stderr.count("restrictwatch: warning:") == 4
    current = restrictwatch(d.env, "tail", "--current", "--idle", "3")
    assert current.returncode == 0, current.stderr
    assert current.stdout.splitlines() == [ir_open]
