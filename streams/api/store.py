"""The events API's database: every event message, each incident's latest state, and the offsets
read so far, in one SQLite file.

A batch of messages and the offsets after it are written in one transaction, so after a crash
the file holds exactly the messages before the stored offsets: the consumer resumes there and
nothing is lost or stored twice. Messages are keyed by (event_id, seq) and never rewritten: a
message read again (a re-read topic, a worker's re-emission after its restart) is a duplicate
and leaves the row as it is. A message that is not JSON or not an event.v1 is rejected (errors
are data: `Rejection`, with a bounded reason), its offset consumed all the same.

Knows nothing of Kafka: tests feed it (partition, offset, bytes) directly. One instance is used
by one thread at a time; the consumer and the HTTP server each open their own.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from restrictwatch.detectors.records import Rejection, parse_ts
from restrictwatch.detectors.schemas import SchemaError, validator
from restrictwatch.streams.api.query import EventQuery, encode_cursor

SCHEMA_VERSION = 1
# Bounded reason codes of a rejected message (a metric label).
REJECT_REASONS: tuple[str, ...] = ("empty", "encoding", "json", "schema", "invalid_value")
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER
# What happens to a message: kept, already held with the same content, already held otherwise.
OUTCOMES: tuple[str, ...] = ("stored", "duplicate", "conflict", "rejected")

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    event_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    country TEXT NOT NULL,
    emitted_at REAL NOT NULL,
    body TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    PRIMARY KEY (event_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (emitted_at DESC, event_id, seq);
CREATE INDEX IF NOT EXISTS messages_by_country ON messages (country, emitted_at DESC);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    country TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    emitted_at REAL NOT NULL,
    first_detected_at REAL NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_order ON events (first_detected_at DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS events_by_country ON events (country, first_detected_at DESC);
CREATE INDEX IF NOT EXISTS events_by_status ON events (status);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
"""

# The latest state follows the highest seq; first_detected_at (the page order) never moves.
_UPSERT_EVENT = """
INSERT INTO events (event_id, seq, status, kind, country, started_at, ended_at, emitted_at,
                    first_detected_at, body)
VALUES (:event_id, :seq, :status, :kind, :country, :started_at, :ended_at, :emitted_at,
        :detected_at, :body)
ON CONFLICT (event_id) DO UPDATE SET
    seq = excluded.seq, status = excluded.status, kind = excluded.kind,
    country = excluded.country, started_at = excluded.started_at,
    ended_at = excluded.ended_at, emitted_at = excluded.emitted_at, body = excluded.body
WHERE excluded.seq > events.seq
"""


class RawMessage(NamedTuple):
    """One message of the events topic as the broker gave it."""

    partition: int
    offset: int
    value: bytes | None


@dataclass
class IngestResult:
    outcomes: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[RawMessage, Rejection]] = field(default_factory=list)
    conflicts: list[tuple[RawMessage, str]] = field(default_factory=list)  # (message, event key)


def decode_event(value: bytes | None) -> dict[str, Any] | Rejection:
    """An event.v1 message, or why it is not one."""
    if not value or not value.strip():
        return Rejection("empty", "message is empty")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as enc:
            return Rejection("encoding", f"not UTF-8: {enc.reason} at byte {enc.start}")
        return Rejection("json", f"invalid JSON: {exc}")
    try:
        validator("event.v1")(doc)
    except SchemaError as exc:
        return Rejection("schema", f"not an event.v1: {exc}", stage="schema")
    event: dict[str, Any] = doc
    return event


def _checked_row(event: dict[str, Any], body: str) -> dict[str, Any] | Rejection:
    """The columns of a valid event; what the schema lets through but a row cannot hold (a
    date-time that does not parse: formats are annotations in JSON Schema 2020-12) is rejected."""
    if event["seq"] > MAX_SEQ:
        return Rejection("invalid_value", f"seq {event['seq']} is too large", stage="schema")
    try:
        return _row(event, body)
    except ValueError as exc:
        return Rejection("invalid_value", f"a time does not parse: {exc}", stage="schema")


def _row(event: dict[str, Any], body: str) -> dict[str, Any]:
    return {
        "event_id": event["event_id"],
        "seq": event["seq"],
        "status": event["status"],
        "kind": event["kind"],
        "country": event["country"],
        "started_at": parse_ts(event["started_at"]),
        "ended_at": parse_ts(event["ended_at"]) if event["ended_at"] is not None else None,
        "emitted_at": parse_ts(event["emitted_at"]),
        "detected_at": parse_ts(event["detected_at"]),
        "body": body,
    }


class EventStore:
    """Event messages and consumer offsets in one SQLite file (created if missing)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the consumer
        # NORMAL in WAL: a power cut may drop the last commits, never split one, and the offsets
        # roll back with their rows, so those messages are simply read again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        with self._transaction():
            for statement in _DDL.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            found = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(found[0]) != SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path} holds events API schema {found[0]}, this version reads {SCHEMA_VERSION}"
                )

    def close(self) -> None:
        self._db.close()

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _transaction(self) -> EventStore._Tx:
        return EventStore._Tx(self._db)

    # writing --------------------------------------------------------------------------------

    def ingest(self, topic: str, batch: Sequence[RawMessage]) -> IngestResult:
        """Store a batch read from `topic` and the offsets after it, in one transaction."""
        result = IngestResult()
        next_offsets: dict[int, int] = {}
        with self._transaction() as db:
            for message in batch:
                next_offsets[message.partition] = max(
                    next_offsets.get(message.partition, 0), message.offset + 1
                )
                event = decode_event(message.value)
                if isinstance(event, Rejection):
                    result.outcomes["rejected"] += 1
                    result.rejections.append((message, event))
                    continue
                assert message.value is not None
                row = _checked_row(event, message.value.decode("utf-8"))
                if isinstance(row, Rejection):
                    result.outcomes["rejected"] += 1
                    result.rejections.append((message, row))
                    continue
                inserted = db.execute(
                    "INSERT OR IGNORE INTO messages (event_id, seq, status, country, emitted_at,"
                    ' body, topic, partition, "offset") VALUES (:event_id, :seq, :status,'
                    " :country, :emitted_at, :body, :topic, :partition, :offset)",
                    {
                        **row,
                        "topic": topic,
                        "partition": message.partition,
                        "offset": message.offset,
                    },
                ).rowcount
                if inserted:
                    db.execute(_UPSERT_EVENT, row)
                    result.outcomes["stored"] += 1
                    continue
                (held,) = db.execute(
                    "SELECT body FROM messages WHERE event_id = ? AND seq = ?",
                    (row["event_id"], row["seq"]),
                ).fetchone()
                if orjson.loads(held) == event:
                    result.outcomes["duplicate"] += 1
                else:
                    result.outcomes["conflict"] += 1
                    result.conflicts.append((message, f"{row['event_id']}/{row['seq']}"))
            for partition, offset in next_offsets.items():
                db.execute(
                    "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?)"
                    " ON CONFLICT (topic, partition) DO UPDATE SET"
                    " next_offset = max(next_offset, excluded.next_offset)",
                    (topic, partition, offset),
                )
        return result

    # reading --------------------------------------------------------------------------------

    def offsets(self, topic: str) -> dict[int, int]:
        """The next offset to read of each partition of `topic` seen so far."""
        rows = self._db.execute(
            "SELECT partition, next_offset FROM offsets WHERE topic = ?", (topic,)
        )
        return dict(rows.fetchall())

    def newest_emitted_at(self) -> float | None:
        (newest,) = self._db.execute("SELECT max(emitted_at) FROM events").fetchone()
        return float(newest) if newest is not None else None

    def events(self, q: EventQuery) -> tuple[list[dict[str, Any]], str | None]:
        """One page of incidents (their latest message), newest first, and the next cursor."""
        where = ["started_at <= :until", "(ended_at IS NULL OR ended_at >= :since)"]
        args: dict[str, Any] = {"since": q.since, "until": q.until, "limit": q.limit + 1}
        for name in ("country", "kind", "status"):
            value = getattr(q, name)
            if value is not None:
                where.append(f"{name} = :{name}")
                args[name] = value
        if q.region is not None:
            # A region's incidents, and its country's country-wide ones: they cover it too.
            where.append(
                "(EXISTS (SELECT 1 FROM json_each(body, '$.regions') WHERE value = :region)"
                " OR (country = :region_country"
                " AND coalesce(json_array_length(body, '$.regions'), 0) = 0))"
            )
            args["region"], args["region_country"] = q.region, q.region[:2]
        if q.asn is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(body, '$.asns') WHERE value = :asn)")
            args["asn"] = q.asn
        if q.platform is not None:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(body, '$.platforms') WHERE value = :platform)"
            )
            args["platform"] = q.platform
        if q.after is not None:
            where.append("(first_detected_at, event_id) < (:after_at, :after_id)")
            args["after_at"], args["after_id"] = q.after
        rows = self._db.execute(
            "SELECT first_detected_at, event_id, body FROM events WHERE "
            + " AND ".join(where)
            + " ORDER BY first_detected_at DESC, event_id DESC LIMIT :limit",
            args,
        ).fetchall()
        page = rows[: q.limit]
        cursor = encode_cursor(page[-1][0], page[-1][1]) if len(rows) > q.limit else None
        return [orjson.loads(body) for _, _, body in page], cursor

    def lifecycle(self, event_id: str) -> list[dict[str, Any]]:
        """Every message of one incident, by seq (empty if unknown)."""
        rows = self._db.execute(
            "SELECT body FROM messages WHERE event_id = ? ORDER BY seq", (event_id,)
        )
        return [orjson.loads(body) for (body,) in rows]

    def latest(self, event_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT body FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def current(self, country: str | None = None, limit: int = 10000) -> list[dict[str, Any]]:
        """Incidents not resolved: their latest message, oldest first."""
        sql = "SELECT body FROM events WHERE status != 'resolved'"
        args: list[Any] = []
        if country is not None:
            sql += " AND country = ?"
            args.append(country)
        sql += " ORDER BY first_detected_at, event_id LIMIT ?"
        rows = self._db.execute(sql, [*args, limit])
        return [orjson.loads(body) for (body,) in rows]

    def recent_messages(self, country: str | None, limit: int) -> list[dict[str, Any]]:
        """The last `limit` messages by emitted_at, newest first (an Atom feed's entries)."""
        sql = "SELECT body FROM messages"
        args: list[Any] = []
        if country is not None:
            sql += " WHERE country = ?"
            args.append(country)
        sql += " ORDER BY emitted_at DESC, event_id DESC, seq DESC LIMIT ?"
        return [orjson.loads(body) for (body,) in self._db.execute(sql, [*args, limit])]

    def open_counts(self) -> Iterator[tuple[str, str, int]]:
        """(country, kind, incidents not resolved), for the metrics."""
        yield from self._db.execute(
            "SELECT country, kind, count(*) FROM events WHERE status != 'resolved'"
            " GROUP BY country, kind ORDER BY country, kind"
        )

    def counts(self) -> dict[str, int]:
        (messages,) = self._db.execute("SELECT count(*) FROM messages").fetchone()
        (events,) = self._db.execute("SELECT count(*) FROM events").fetchone()
        return {"messages": int(messages), "events": int(events)}
