"""Command-line Kafka tools: run the worker, create topics, produce a file, tail events, read
dead letters."""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.events import latest_messages
from restrictwatch.detectors.exceptions import ConfigError, RestrictwatchError
from restrictwatch.detectors.records import ERROR_TYPES, Rejection, decode_sample, parse_ts
from restrictwatch.streams.deadletter import DeadLetter, position
from restrictwatch.streams.display import escaped
from restrictwatch.streams.progress import Progress, count_lines, is_terminal
from restrictwatch.streams.settings import WorkerSettings, load_settings


class KafkaToolError(RestrictwatchError):
    """A Kafka operation failed in a way the user can act on."""


T = TypeVar("T")
# A try waits as long as the backoff after it, at most TRY_SECONDS, for a first broker to
# answer; the backoff doubles from FIRST_BACKOFF_SECONDS up to MAX_BACKOFF_SECONDS.
TRY_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 15.0


def connect(
    settings: WorkerSettings,
    make: Callable[..., T],
    say: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`make(**connection options)` (a kafka-python client), tried again with backoff while no
    broker answers, for RW_CONNECT_TIMEOUT_SECONDS in all; each failed try is one line to `say`.

    What retrying cannot mend (bad credentials, TLS) fails at once. Either way the error is a
    KafkaToolError naming the brokers, which the command line prints as its one error line.
    """
    from kafka.errors import KafkaError, RetriableError

    say = say or _say
    servers = settings.bootstrap_servers
    deadline = clock() + settings.connect_timeout_seconds
    backoff = FIRST_BACKOFF_SECONDS
    for attempt in itertools.count(1):
        budget = max(0.5, min(TRY_SECONDS, backoff, deadline - clock()))
        try:
            return make(**settings.kafka_kwargs(), bootstrap_timeout_ms=int(budget * 1000))
        except RetriableError as exc:  # no broker answered (yet)
            left = deadline - clock()
            if left <= 0:
                raise KafkaToolError(
                    f"cannot reach Kafka at {servers} (gave up after {attempt} "
                    f"{'try' if attempt == 1 else 'tries'} in "
                    f"{settings.connect_timeout_seconds:g} s, RW_CONNECT_TIMEOUT_SECONDS): "
                    f"{_reason(exc)}"
                ) from None
            wait = min(backoff, left)
            say(
                f"Kafka at {servers} not reachable (try {attempt}: {_reason(exc)}); "
                f"next try in {wait:.1f} s"
            )
            sleep(wait)
            backoff = min(2 * backoff, MAX_BACKOFF_SECONDS)
        except KafkaError as exc:
            raise KafkaToolError(f"cannot use Kafka at {servers}: {_reason(exc)}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _reason(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}" if text else name


def _say(line: str) -> None:
    print(f"restrictwatch: {line}", file=sys.stderr, flush=True)


def create_topics(settings: WorkerSettings) -> list[str]:
    """Create the four topics (inputs co-partitioned); existing ones are left as they are.

    An existing input topic with another partition count than RW_PARTITIONS is an error: a
    country's records and its state must share a partition number.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = connect(settings, functools.partial(KafkaAdminClient, client_id="restrictwatch-admin"))
    wanted = {
        settings.traffic_topic: settings.partitions,
        settings.reachability_topic: settings.partitions,
        settings.events_topic: settings.partitions,
        settings.deadletter_topic: settings.partitions,
    }
    created = []
    try:
        existing = set(admin.list_topics())
        inputs = [t for t in (settings.traffic_topic, settings.reachability_topic) if t in existing]
        for topic in admin.describe_topics(inputs) if inputs else []:
            count = len(topic["partitions"])
            if count != settings.partitions:
                raise KafkaToolError(
                    f"{topic['name']} has {count} partitions but RW_PARTITIONS is "
                    f"{settings.partitions}: both input topics and the state table must have "
                    "the same count"
                )
        new = [
            NewTopic(name, partitions, settings.replication_factor)
            for name, partitions in wanted.items()
            if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
            created = [t.name for t in new]
    finally:
        admin.close()
    return created


@dataclass
class Produced:
    """What `produce_file` did: records the broker took, and lines it was too large for."""

    sent: int = 0
    too_large: list[tuple[int, int]] = field(default_factory=list)  # (line number, bytes)

    def summary(self) -> str:
        text = f"sent {self.sent} records"
        if self.too_large:
            lines = sorted(self.too_large)
            shown = ", ".join(f"{n} ({size} bytes)" for n, size in lines[:MAX_LINES_NAMED])
            more = (
                f" and {len(lines) - MAX_LINES_NAMED} more" if len(lines) > MAX_LINES_NAMED else ""
            )
            text += (
                f"; skipped {len(lines)} too large for the broker (MessageSizeTooLargeError): "
                f"line {shown}{more}"
            )
        return text


MAX_LINES_NAMED = 10


# A batch goes out before its key and value would pass this many bytes where the topic's limit
# cannot be read (the broker's default message limit is 1 MiB; the record batch of the producer
# needs room around it).
BATCH_MAX_BYTES = 900_000
# What kafka-python's producer asks for a request at most (its default, set explicitly so that the
# batches can be capped by it).
MAX_REQUEST_BYTES = 1_048_576
# How many bytes a record batch holding one message takes beyond the message's key and value, at
# most: the batch header (61 bytes), the record's length, attributes, timestamp and offset deltas
# (kafka-python reserves 21 bytes for them as varints), the key's and the value's lengths (5 bytes
# each as varints) and the header count (1: none is sent). The broker compares the whole batch with
# the topic's max.message.bytes, kafka-python the same estimate with max_request_size. Measured: a
# topic with max.message.bytes 20000 took a 2-byte key and a 19,926-byte value, not one byte
# more (72 bytes of framing); the 21 bytes more here are the varints at their widest.
RECORD_FRAMING_BYTES = 61 + 21 + 5 + 5 + 1
# kafka-python's producer packs messages of one partition into record batches of up to this many
# bytes (capped at the smallest input topic's limit, which the broker applies to the record batch).
PRODUCER_BATCH_BYTES = 256 * 1024


# One message to send: topic, key (None: unkeyed) and its records as (line number, bytes).
Batch = tuple[str, bytes | None, list[tuple[int, bytes]]]


@dataclass
class Batcher:
    """Groups usable records into batches per topic, country and bin (schemas/batch.v1): what a
    collector that emits a whole bin of a country at once sends. A batch of one goes out as the
    plain record. Each stream's records keep their order.

    `caps`: per topic, the bytes a batch's key and value may take together (`batch_caps`: what
    the broker takes in one message, less its framing); BATCH_MAX_BYTES for a topic not named."""

    size: int
    bin_seconds: int
    caps: dict[str, int] = field(default_factory=dict)
    open: dict[tuple[str, bytes], tuple[float, list[tuple[int, bytes]]]] = field(
        default_factory=dict
    )

    def add(self, topic: str, key: bytes, ts: float, line_no: int, raw: bytes) -> list[Batch]:
        """Take one record; return the batches it closes (topic, key, [(line, bytes)])."""
        out: list[Batch] = []
        stream = (topic, key)
        bin_start = ts - ts % self.bin_seconds
        current = self.open.get(stream)
        if current is not None:
            started, records = current
            full = len(records) >= self.size
            # "[" + the records, each with its "," or the closing "]", + this one
            grown = len(key) + 1 + sum(len(r) + 1 for _, r in records) + len(raw) + 1
            if started != bin_start or full or grown > self.caps.get(topic, BATCH_MAX_BYTES):
                out.append((topic, key, records))
                current = None
        if current is None:
            self.open[stream] = (bin_start, [(line_no, raw)])
        else:
            current[1].append((line_no, raw))
        return out

    def flush(self) -> list[Batch]:
        out: list[Batch] = [
            (topic, key, records) for (topic, key), (_, records) in self.open.items()
        ]
        self.open.clear()
        return out


def batch_caps(
    limits: dict[str, int | None], max_request_bytes: int = MAX_REQUEST_BYTES
) -> dict[str, int]:
    """Per topic, what a batch's key and value may take: the smaller of the topic's
    max.message.bytes (None: not known, BATCH_MAX_BYTES) and the producer's request limit,
    less the framing of the record batch the message travels in alone."""
    return {
        topic: BATCH_MAX_BYTES
        if limit is None
        else min(limit, max_request_bytes) - RECORD_FRAMING_BYTES
        for topic, limit in limits.items()
    }


def producer_batch_bytes(
    limits: dict[str, int | None], max_request_bytes: int = MAX_REQUEST_BYTES
) -> int:
    """The producer's batch_size: no record batch of several messages larger than a topic takes.
    The broker would refuse such a batch whole, and kafka-python (3.0.12) splits a refused batch
    to send it again, after which its flush fails ("Future not done")."""
    known = [min(limit, max_request_bytes) for limit in limits.values() if limit is not None]
    return min([PRODUCER_BATCH_BYTES, *known])


def message_limits(described: dict[str, Any], topics: Iterable[str]) -> dict[str, int | None]:
    """Each topic's max.message.bytes in a `describe_configs` answer (the broker's
    message.max.bytes where the topic does not set it); None where it is missing, as for a topic
    the client may not describe or that does not exist (the answer then holds no configs)."""
    found: dict[str, int | None] = {}
    for topic in topics:
        entry = described.get("topic", {}).get(topic, {}).get("max.message.bytes") or {}
        value = entry.get("value")
        found[topic] = int(value) if isinstance(value, str) and value.isdigit() else None
    return found


def read_message_limits(
    settings: WorkerSettings, topics: list[str]
) -> tuple[dict[str, int | None], str | None]:
    """The topics' max.message.bytes from the broker (None for each it would not tell), and why
    it told nothing, if it refused the request."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.errors import KafkaError

    resources = [
        ConfigResource(ConfigResourceType.TOPIC, t, configs={"max.message.bytes": None})
        for t in topics
    ]
    admin = connect(settings, functools.partial(KafkaAdminClient, client_id="restrictwatch-admin"))
    try:
        for attempt in range(1, DESCRIBE_TRIES + 1):
            # The default filter ("modified") would leave the broker's default out.
            limits = message_limits(admin.describe_configs(resources, config_filter="all"), topics)
            if None not in limits.values() or attempt == DESCRIBE_TRIES:
                return limits, None
            time.sleep(DESCRIBE_RETRY_SECONDS)
    except KafkaError as exc:
        return dict.fromkeys(topics), _reason(exc)
    finally:
        admin.close()
    raise AssertionError("unreachable")  # pragma: no cover


# A topic created a moment ago is not described yet (the answer holds no configs for it, as for
# one the client may not describe): asked again this many times in all, this far apart.
DESCRIBE_TRIES = 3
DESCRIBE_RETRY_SECONDS = 0.5


def unknown_limits_line(limits: dict[str, int | None], reason: str | None = None) -> str | None:
    """The one line that says which topics' batches keep the default cap, if any do."""
    unknown = [topic for topic, limit in limits.items() if limit is None]
    if not unknown:
        return None
    why = reason or "no permission to describe topic configs, or no such topic yet"
    return (
        f"cannot read max.message.bytes of {', '.join(unknown)} ({why}): batches to it are "
        f"capped at {BATCH_MAX_BYTES} bytes, which a smaller limit refuses whole"
    )


def batch_bytes(records: list[tuple[int, bytes]]) -> bytes:
    """The message of a batch: its records' own bytes in a JSON array (one alone: itself)."""
    if len(records) == 1:
        return records[0][1]
    return b"[" + b",".join(r for _, r in records) + b"]"


def messages_per_line(
    settings: WorkerSettings, lines: Iterable[bytes], batcher: Batcher, max_record_bytes: int
) -> Iterator[tuple[float | None, list[Batch]]]:
    """Per line of `lines` (numbered from 1), its event time and the messages that go out once it
    has been read: the batches it closes, or itself alone. A usable record goes to `batcher`
    (unless its size is 1); a line that is a batch already, or a record that is not usable, goes
    alone, so its dead letter holds its own bytes. `batcher.flush()` gives the rest at the end."""
    for line_no, line in enumerate(lines, start=1):
        raw = line[:-1] if line.endswith(b"\n") else line
        topic, key, ts = _route(settings, raw)
        usable = (
            batcher.size > 1
            and key is not None
            and ts is not None
            and not isinstance(decode_sample(raw, max_record_bytes), Rejection)
        )
        if usable:
            assert key is not None and ts is not None
            yield ts, batcher.add(topic, key, ts, line_no, raw)
        else:
            yield ts, [(topic, key, [(line_no, raw)])]


def produce_file(
    settings: WorkerSettings,
    path: str,
    speedup: float | None = None,
    progress: Progress | None = None,
    batch: int = 100,
) -> Produced:
    """Send a JSON-lines file into the input topics, keyed by country.

    Lines that cannot be parsed go to the traffic topic unkeyed, so the worker dead-letters them.
    Usable records go in batches of up to `batch` per topic, country and bin (`Batcher`,
    `messages_per_line`); others alone. A batch is capped at what its topic takes in one message (`batch_caps`: the
    topic's max.message.bytes, read from the broker, and the producer's request size), so no
    batch is refused whole; where the limit cannot be read, at BATCH_MAX_BYTES, said once on
    stderr. With `speedup`, records are paced at that multiple of their event-time spacing. A
    line too large for the broker alone (for the producer's request size or the topic's
    max.message.bytes) is skipped and counted: it could not be dead-lettered whole either. Any
    other record the broker did not take is an error, after everything else has been sent.
    """
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, MessageSizeTooLargeError

    # A batch the broker refuses is refused whole, though each record would fit alone: batches
    # are capped at what each input topic takes in one message.
    limits, reason = read_message_limits(
        settings, [settings.traffic_topic, settings.reachability_topic]
    )
    unknown = unknown_limits_line(limits, reason)
    if unknown is not None:
        _say(unknown)
    # Not idempotent: kafka-python's idempotent producer (its default) takes a message the
    # broker refuses as too large for a fatal error and fails every message not yet acknowledged
    # with it, so one line too large for a topic would cost the lines sent with it. One request in
    # flight keeps each partition's order through retries; a record a retry writes twice is
    # dead-lettered by the worker (a duplicate, or late), never counted twice.
    producer = connect(
        settings,
        functools.partial(
            KafkaProducer,
            acks="all",
            linger_ms=20,
            batch_size=producer_batch_bytes(limits),
            max_request_size=MAX_REQUEST_BYTES,
            enable_idempotence=False,
            max_in_flight_requests_per_connection=1,
        ),
    )
    done = Produced()
    failures: list[BaseException] = []

    def failed(records: list[tuple[int, bytes]], exc: BaseException) -> None:
        if isinstance(exc, MessageSizeTooLargeError):
            done.too_large += [(line_no, len(raw)) for line_no, raw in records]
        else:
            failures.extend([exc] * len(records))

    def send(topic: str, key: bytes | None, records: list[tuple[int, bytes]]) -> None:
        on_error = functools.partial(failed, records)
        try:
            producer.send(topic, key=key, value=batch_bytes(records)).add_errback(on_error)
        except KafkaError as exc:  # refused before sending, e.g. larger than a request
            on_error(exc)

    config = load_config(settings.detector_config)
    batcher = Batcher(batch, config.bin_seconds, batch_caps(limits))

    try:
        source = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115
    except OSError as exc:
        producer.close()
        raise KafkaToolError(f"cannot read {path}: {exc.strerror}") from None
    lines = 0
    pacer = Pacer(speedup)
    with source:
        for ts, messages in messages_per_line(settings, source, batcher, config.max_record_bytes):
            lines += 1
            pacer.wait_for(ts)
            for message in messages:
                send(*message)
            if progress is not None:
                progress.advance(event_ts=ts)
    for closed in batcher.flush():
        send(*closed)
    producer.flush()
    producer.close()
    done.sent = lines - len(done.too_large) - len(failures)
    if failures:
        raise KafkaToolError(
            f"{len(failures)} of {lines} records were not sent, the first because: {failures[0]}"
        )
    return done


class Pacer:
    """Sleeps so that records go out at `speedup` times the pace of their event times."""

    def __init__(self, speedup: float | None, clock: Any = time.monotonic, sleep: Any = time.sleep):
        self.speedup = speedup
        self.clock = clock
        self.sleep = sleep
        self.first: tuple[float, float] | None = None  # (event time, wall time) of the first

    def wait_for(self, ts: float | None) -> None:
        if not self.speedup or ts is None:
            return
        if self.first is None:
            self.first = (ts, self.clock())
            return
        delay = (ts - self.first[0]) / self.speedup - (self.clock() - self.first[1])
        if delay > 0:
            self.sleep(delay)


def _route(settings: WorkerSettings, raw: bytes) -> tuple[str, bytes | None, float | None]:
    """(topic, key, event time) of one line: by its "signal", keyed by its country; a batch by
    its first record.

    What is not a JSON object (or a batch of them) goes to the traffic topic unkeyed: the worker
    dead-letters it.
    """
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return settings.traffic_topic, None, None
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if not isinstance(doc, dict):
        return settings.traffic_topic, None, None
    topic = (
        settings.reachability_topic
        if doc.get("signal") == "reachability"
        else settings.traffic_topic
    )
    country = doc.get("country")
    key = country.encode() if isinstance(country, str) else None
    ts = doc.get("ts")
    try:
        when = parse_ts(ts) if isinstance(ts, str | int | float) else None
    except ValueError:
        when = None
    return topic, key, when


route = _route


def read_messages(
    settings: WorkerSettings, topic: str, idle_seconds: float = 5.0, follow: bool = False
) -> Iterator[Any]:
    """Records of `topic` from its beginning (kafka-python ConsumerRecords); stop after
    `idle_seconds` quiet (never, with `follow`)."""
    from kafka import KafkaConsumer

    consumer = connect(
        settings,
        functools.partial(
            KafkaConsumer,
            topic,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=int(idle_seconds * 1000),
        ),
    )
    try:
        while True:
            yield from consumer
            if not follow:
                return
    finally:
        consumer.close()


def event_of(value: bytes | None) -> dict[str, Any] | None:
    """The event message in a record's value; None if it is not a JSON object."""
    try:
        doc = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def read_events(
    settings: WorkerSettings, idle_seconds: float = 5.0, follow: bool = False
) -> Iterator[dict[str, Any]]:
    """Event messages from the beginning of the events topic (records that are not JSON objects
    are left out); stop after `idle_seconds` quiet (never, with `follow`)."""
    for message in read_messages(settings, settings.events_topic, idle_seconds, follow):
        event = event_of(message.value)
        if event is not None:
            yield event


def wait_for_broker(settings: WorkerSettings, say: Callable[[str], None] | None = None) -> None:
    """Until a broker answers (see `connect`): Faust would give up on the first refusal, with a
    traceback."""
    from kafka.admin import KafkaAdminClient

    connect(
        settings, functools.partial(KafkaAdminClient, client_id="restrictwatch-probe"), say
    ).close()


def check_free(host: str, port: int, setting: str) -> None:
    """A ConfigError now if `host:port` cannot be listened on, rather than a traceback from
    the metrics server once the worker has started."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot listen on {host}:{port}: {exc.strerror}") from None


def cmd_topics(args: argparse.Namespace) -> int:
    created = create_topics(load_settings())
    print(f"created: {', '.join(created) if created else 'nothing (all topics exist)'}")
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.input != "-" and not Path(args.input).is_file():
        raise KafkaToolError(f"cannot read {args.input}")
    total = count_lines(args.input) if is_terminal(sys.stderr) else None
    with Progress("sent", total) as progress:
        produced = produce_file(settings, args.input, args.speedup, progress, args.batch)
    print(produced.summary(), file=sys.stderr)
    return 0


def current_incidents(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest message of each incident not yet resolved, in order of their first message."""
    return [dict(e) for e in latest_messages(events).values() if e["status"] != "resolved"]


def cmd_tail(args: argparse.Namespace) -> int:
    settings = load_settings()
    messages = read_messages(
        settings, settings.events_topic, args.idle, args.follow and not args.current
    )
    if args.current:
        events = (e for e in (_event_or_warn(m, "left out") for m in messages) if e is not None)
        current = current_incidents(e for e in events if _is_incident(e))
        for incident in current:
            sys.stdout.write(orjson.dumps(incident).decode() + "\n")
        if not current:
            print(f"no incident open (in {settings.events_topic})", file=sys.stderr)
        return 0
    for message in messages:
        event = _event_or_warn(message, "shown escaped")
        line = orjson.dumps(event).decode() if event is not None else escaped(message.value)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


def _event_or_warn(message: Any, what_then: str) -> dict[str, Any] | None:
    """The record's event message; None, with a warning on stderr, if it is not one."""
    event = event_of(message.value)
    if event is None:
        where = position(message.topic, message.partition, message.offset)
        print(
            f"restrictwatch: warning: {where} is not a JSON object ({what_then})",
            file=sys.stderr,
        )
    return event


def _is_incident(event: dict[str, Any]) -> bool:
    return isinstance(event.get("event_id"), str) and "status" in event


def cmd_deadletters(args: argparse.Namespace) -> int:
    settings = load_settings()
    reasons = set(args.reason or ())
    sources = set(args.source_topic or ())
    for message in read_messages(settings, settings.deadletter_topic, args.idle, args.follow):
        letter = DeadLetter.of(message.headers, message.key, message.value)
        if not letter.matches(reasons, sources):
            continue
        line = orjson.dumps(letter.as_dict()).decode() if args.json else letter.line()
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("topics", help="manage Kafka topics")
    tsub = p.add_subparsers(dest="action", required=True)
    c = tsub.add_parser("create", help="create the input, event and dead-letter topics")
    c.set_defaults(func=cmd_topics)

    p = sub.add_parser("produce", help="replay a JSON-lines file into the input topics")
    p.add_argument("input", help="JSON lines, - for stdin")
    p.add_argument(
        "--speedup",
        type=float,
        help="pace records at X times real time (default: as fast as possible)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=100,
        metavar="N",
        help="send up to N records of one country and bin per message, as a JSON array "
        "(schemas/batch.v1.schema.json); 1 sends every record alone (default: 100)",
    )
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("tail", help="print events from the events topic")
    p.add_argument(
        "--current", action="store_true", help="only incidents still open (latest message of each)"
    )
    p.add_argument(
        "--follow", action="store_true", help="keep waiting for new events (not with --current)"
    )
    p.add_argument("--idle", type=float, default=5.0, help="stop after this many quiet seconds")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser(
        "deadletters",
        help="print dead letters: reason, stage, source position and the original bytes (escaped)",
    )
    p.add_argument(
        "--reason",
        action="append",
        choices=ERROR_TYPES,
        metavar="CODE",
        help=f"only this reason code (repeatable): {', '.join(ERROR_TYPES)}",
    )
    p.add_argument(
        "--source-topic", action="append", metavar="TOPIC", help="only from this topic (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per dead letter")
    p.add_argument("--follow", action="store_true", help="keep waiting for new dead letters")
    p.add_argument("--idle", type=float, default=5.0, help="stop after this many quiet seconds")
    p.set_defaults(func=cmd_deadletters)
