"""The Faust application: thin wiring of Kafka topics, a state table and timers around RecordHandler."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.types import TP
from faust.worker import Worker

from restrictwatch.detectors.config import Config, load_config
from restrictwatch.detectors.exceptions import ConfigError
from restrictwatch.streams import faust_fixes
from restrictwatch.streams.commitwatch import CommitWatch, PartitionProgress
from restrictwatch.streams.deadletter import deadletter_headers
from restrictwatch.streams.handler import Inbound, Output, RecordHandler, backlog_seen
from restrictwatch.streams.logs import logging_config, masked
from restrictwatch.streams.observer import NullObserver, WorkerObserver
from restrictwatch.streams.settings import WorkerSettings

log = logging.getLogger("restrictwatch.worker")
STATE_TABLE = "rw-country-state"
# A country's compressed state is ~300 bytes per series; let a large country exceed 1 MB.
MAX_STATE_MESSAGE_BYTES = 16 * 1024 * 1024
# The table is written often and read only when a partition is restored: small memtables and
# cache instead of Faust's defaults (3 x 64 MB memtables and a 2 GB cache per partition), which
# let the worker's memory grow by hundreds of MB under a steady feed.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 8 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
}
PROGRESS_LOG_SECONDS = 30.0
# How long an input partition's commit may stay in front of acknowledged records (or behind the
# broker with nothing coming) before it is read again from the commit: many commit intervals,
# so only a commit that cannot move is taken for stuck.
COMMIT_STALL_SECONDS = 30.0
COMMIT_WATCH_SECONDS = 5.0


# Written into RW_STATE_DIR by the worker: `kafka.sh reset` deletes only a directory marked so.
STATE_MARKER = ".restrictwatch-state"


def state_dir_of(settings: WorkerSettings) -> Path:
    """The worker's local store directory: one per app id under RW_STATE_DIR, as the changelog
    topics are one per app id (a store must never be read against another app's changelog)."""
    return settings.state_dir / settings.app_id


def mark_state_dir(state_dir: Path) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / STATE_MARKER).touch()
    except OSError as exc:
        raise ConfigError(f"RW_STATE_DIR: cannot use {state_dir}: {exc.strerror}") from None


def _credentials(settings: WorkerSettings) -> Any:
    context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.password(),
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(
    settings: WorkerSettings, config: Config | None = None, observer: WorkerObserver | None = None
) -> faust.App:
    """Build the worker app. `config` defaults to the file named in settings (or the packaged one)."""
    faust_fixes.apply()
    for problem in faust_fixes.unmet():
        log.warning("faust-streaming: %s (see streams/faust_fixes.py)", problem)
    config = config or load_config(settings.detector_config)
    if settings.store.startswith("rocksdb"):
        mark_state_dir(settings.state_dir)
    observer = observer or NullObserver()
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{b}" for b in settings.bootstrap_servers.split(",")],
        broker_credentials=_credentials(settings),
        store=settings.store,
        datadir=str(state_dir_of(settings)),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=MAX_STATE_MESSAGE_BYTES,
        # Records wait for their checkpoint before they are acknowledged: a rebalance or a stop
        # must not wait for those acks (it would wait for ever); they are simply read again.
        stream_wait_empty=False,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.web_host,
    )
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    inputs = app.topic(
        settings.traffic_topic, settings.reachability_topic, partitions=settings.partitions, **raw
    )
    events_topic = app.topic(settings.events_topic, **raw)
    dead_topic = app.topic(settings.deadletter_topic, **raw)
    # Co-partitioned with the inputs: a country's state goes to the partition its records come
    # on (the current event's), whatever partitioner the producers used.
    table = app.Table(
        STATE_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes types make Faust use the raw codec for the store and changelog
        value_type=bytes,
        extra_topic_configs={"max.message.bytes": str(MAX_STATE_MESSAGE_BYTES)},
        options=ROCKSDB_OPTIONS if settings.store.startswith("rocksdb") else None,
    )

    def load_state(country: str) -> bytes | None:
        value: bytes | None = table.get(country.encode())
        return value

    def highwater(tp: TP) -> int | None:
        """The partition's end as of its last fetch response; None if not known."""
        try:
            value: int | None = app.consumer.highwater(tp)
        except Exception:  # not assigned (yet, or any more)
            return None
        return value

    def fetched_at(tp: TP) -> float | None:
        """Wall time of the partition's last fetch response, which set its highwater."""
        try:  # aiokafka's, which Faust does not pass on
            consumer = faust_fixes.aiokafka_consumer(app)
            ms: int | None = consumer.last_poll_timestamp(tp)
        except Exception:  # not assigned, or not fetched yet
            return None
        return ms / 1000 if ms else None

    def backlog(topic: str, partition: int, last_offset: int, since: float) -> bool | None:
        tp = TP(topic, partition)
        return backlog_seen(highwater(tp), fetched_at(tp), last_offset, since)

    handler = RecordHandler(
        config,
        (settings.traffic_topic, settings.reachability_topic),
        load_state,
        policy=settings.checkpoint_policy,
        merge_idle_seconds=settings.merge_idle_seconds,
        checkpoint_every_records=settings.checkpoint_every_records,
        checkpoint_interval_seconds=settings.checkpoint_interval_seconds,
        checkpoint_max_share=settings.checkpoint_max_share,
        backlog=backlog,
    )
    app.rw_handler = handler  # type: ignore[attr-defined]
    last_event: dict[int, Any] = {}  # partition -> its newest event

    def write_state(country: str, data: bytes) -> None:
        """Write a checkpoint as if inside the stream of the country's own partition.

        Faust files a table key under the partition of the *current event* (the rocksdb store
        asserts there is one, and so does the changelog without a partitioner). In the agent
        that is the country's partition already; the timer runs with the newest event of the
        country's partition as the current event (`faust_fixes.current_event`).
        """
        event = last_event.get(handler.partition_of.get(country, -1))
        if event is None:
            return  # revoked meanwhile: the new owner reads the records again
        with faust_fixes.current_event(event):
            table[country.encode()] = data

    def publish(out: Output) -> None:
        # send_soon queues in call order on the producer buffer, which Faust flushes before it
        # commits: an incident's messages keep their order, and no offset is committed before
        # what came of it has been sent.
        for event in out.events:
            events_topic.send_soon(key=event["event_id"].encode(), value=orjson.dumps(event))
            observer.event_emitted(event)
            log_event(event)
        for inbound, rejection in out.dead:
            dead_topic.send_soon(
                key=inbound.key,
                value=inbound.value,
                headers=deadletter_headers(inbound, rejection),
            )
            observer.dead_lettered(inbound.topic, rejection.error_type)
        if out.checkpoints:
            for country, data in out.checkpoints:
                write_state(country, data)
            observer.checkpointed(len(out.checkpoints), sum(len(d) for _, d in out.checkpoints))
        for token in out.acks:
            if token is not None:
                token.ack()
        for inbound, ts in out.processed:
            observer.processed(inbound.topic, ts)

    @app.agent(inputs, concurrency=1)  # concurrency > 1 can commit past unprocessed records (#606)
    async def process(stream: Any) -> None:
        async for event in stream.noack().events():  # acked by hand, after the checkpoint
            started = time.perf_counter()
            message = event.message
            last_event[message.partition] = event
            inbound = Inbound(
                message.topic, message.partition, message.offset, event.key, event.value, event
            )
            out = handler.receive(inbound, time.time())
            observer.consumed(message.topic, out.records)
            publish(out)
            observer.duration(message.topic, time.perf_counter() - started)

    @app.timer(0.2)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        publish(handler.tick(time.time()))

    last_progress: list[str] = [""]

    @app.timer(PROGRESS_LOG_SECONDS)  # type: ignore[untyped-decorator]
    async def report_progress() -> None:
        progress = handler.progress()
        if progress != last_progress[0]:  # an idle worker does not repeat itself
            log.info("progress: %s", progress)
            last_progress[0] = progress

    watch = CommitWatch(max(COMMIT_STALL_SECONDS, 10 * settings.commit_interval_seconds))

    @app.timer(COMMIT_WATCH_SECONDS)  # type: ignore[untyped-decorator]
    async def rewind_stuck_partitions() -> None:
        """Read a partition again from its commit when the commit can no longer move: see
        streams/commitwatch.py. Faust's committed offsets are its own (faust-streaming is
        pinned); a rebalance seeks every partition to its commit anyway, so none is watched
        while one runs."""
        consumer: Any = app.consumer  # the transport's Consumer, whose offsets are read here
        if app.rebalancing or not app.flow_control.is_active():
            watch.forget_all()
            return
        now = time.monotonic()
        for tp in list(consumer.assignment()):
            if tp.topic not in handler.topics:
                continue
            key = (tp.topic, tp.partition)
            progress = PartitionProgress(
                committed=faust_fixes.committed_offset(consumer, tp),
                acked_through=handler.acked_through.get(key),
                received=handler.received.get(key),
                highwater=highwater(tp),
            )
            if not watch.check(tp, progress, now) or progress.committed is None:
                continue
            log.warning(
                "%s[%d]: commit stuck at %d for %.0f s (acknowledged through %s, received "
                "through %s, broker end %s): some records were never delivered; reading the "
                "partition again from its commit",
                tp.topic,
                tp.partition,
                progress.committed,
                watch.stall_seconds,
                progress.acked_through,
                progress.received,
                progress.highwater,
            )
            observer.rewound(tp.topic)
            await consumer.seek(tp, progress.committed)

    readiness = Readiness()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app_: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic in handler.topics}
        handler.revoke(partitions)
        for p in partitions:
            last_event.pop(p, None)
        if readiness.ready:
            log.info("rebalancing: partitions revoked, not ready until state is restored")
        readiness.ready = False
        observer.ready(False)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app_: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        readiness.assigned = {tp for tp in assigned if tp.topic in handler.topics}
        readiness.ready = False
        observer.ready(False)

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def on_rebalance_complete(app_: faust.App, **kwargs: Any) -> None:
        """Partitions assigned and the state table restored from its changelog (Faust sends
        this once recovery has finished, or at once when there is nothing to restore)."""
        if readiness.ready:
            return
        readiness.ready = True
        observer.ready(True)
        partitions = readiness.partitions()
        countries = _countries(table)
        log.info(
            "partitions assigned and state restored from %s: %s (%s %s in the state table)",
            table.changelog_topic.get_topic_name(),
            partitions or "none (other workers hold them all)",
            countries,
            "country" if countries == 1 else "countries",
            extra={"partitions": partitions, "countries": countries},
        )

    @app.task  # type: ignore[untyped-decorator]
    async def install_reload() -> None:
        def reload() -> None:
            try:
                new = load_config(settings.detector_config)
            except Exception as exc:  # a bad file must not stop the worker: keep the old config
                reason = exc.reason if isinstance(exc, ConfigError) else "error"
                log.error(
                    "config reload failed, keeping %s: %s",
                    handler.pipeline.config.fingerprint,
                    one_line(str(exc)),
                    extra={"config_version": handler.pipeline.config.fingerprint, "reason": reason},
                )
                observer.config_load_failed(reason)
                return
            old = handler.pipeline.config.fingerprint
            handler.reconfigure(new)
            observer.config_loaded(new.fingerprint)
            log.info(
                "config reloaded: %s (was %s)",
                new.fingerprint,
                old,
                extra={"config_version": new.fingerprint, "previous_config_version": old},
            )

        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
        observer.config_loaded(config.fingerprint)
        log.info(
            "ready: restrictwatch %s, config %s",
            _version(),
            config.fingerprint,
            extra={"config_version": config.fingerprint, "settings": masked(settings.masked())},
        )

    return app


class Readiness:
    """Whether the worker holds its partitions with their state restored, and which they are."""

    def __init__(self) -> None:
        self.ready = False
        self.assigned: set[TP] = set()

    def partitions(self) -> str:
        """`topic[0,1] topic[0,1]`: the input partitions held."""
        by_topic: dict[str, list[int]] = {}
        for tp in self.assigned:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        return " ".join(
            f"{topic}[{','.join(map(str, sorted(ps)))}]" for topic, ps in sorted(by_topic.items())
        )


def _countries(table: Any) -> int | str:
    try:
        return sum(1 for _ in table)
    except Exception:  # the store may be closing under a new rebalance: the count is a nicety
        return "?"


def one_line(text: str) -> str:
    """A multi-line message (a config error lists one problem per line) as one log line."""
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


EVENT_VERBS = {"open": "opened", "update": "updated", "resolved": "resolved"}


def log_event(event: Mapping[str, Any]) -> None:
    """One line per event message: what it is, and its summary."""
    status = event.get("status", "")
    log.info(
        "event %s: %s %s %s: %s",
        EVENT_VERBS.get(status, status),
        event.get("event_id"),
        event.get("kind"),
        event.get("country"),
        event.get("summary"),
        extra={
            "event_id": event.get("event_id"),
            "seq": event.get("seq"),
            "status": status,
            "kind": event.get("kind"),
            "country": event.get("country"),
        },
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("restrictwatch")
    except PackageNotFoundError:
        return "unknown"


class _Worker(Worker):
    """Faust's worker without its terminal spinner: it sets the root logger to DEBUG behind
    our back and writes cursor escape codes to stdout, terminal or not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        pass


def worker_for(app: faust.App, level: str, log_format: str) -> Worker:
    """A Faust worker for `app` that logs through streams.logs: our lines at `level`, the
    libraries' at WARNING unless `level` is debug."""
    return _Worker(
        app,
        loglevel=level,
        quiet=True,
        logging_config=logging_config(level, log_format),
        redirect_stdouts=False,
    )
