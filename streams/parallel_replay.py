"""Replay in several processes: each country's lines go to one process, which runs its own
`Pipeline` on them in file order, and the outcomes are merged back in the order the one-process
`replay` writes them, by (line, record of the line).

Why the files are byte for byte `replay`'s: a country's state depends on its own records alone,
in order, and each process sees all of its countries' records in file order. The parent reads the
lines and routes each by its `country` (a batch mixing countries, which the batch schema forbids
but replay accepts, is routed record by record); a line with no usable country (not JSON, no
country) can only be rejected, so the parent judges it itself.

The one value the pipeline shares across countries is the newest record it used, the reference
of its far-future guard, which also counts the live series of every country it holds. Here each
process has its own, as each live worker has for its partitions. The parent follows the value one
process would have had and counts every record the guard judged, or one process would have
judged, with a different reference, once more than one process holds records: none on a file
whose countries report side by side, or of one country, so the files are then exactly
`replay`'s (by induction over the records; the tests check it). A count above zero (a record far
ahead of every country, or one country resuming after a pause longer than `max_future_seconds`
while others went on) is reported: those records, and what follows from them, may differ from
`--workers 1`.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import os
import queue
import signal
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import IO, Any

import orjson

from restrictwatch.detectors.config import Config
from restrictwatch.detectors.exceptions import RestrictwatchError
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.records import MAX_BATCH_BYTES
from restrictwatch.detectors.view import Totals
from restrictwatch.streams.replay import ReplayResult, dead_letter

# A chunk of lines goes to a process at once; a process has at most this many chunks in flight,
# so the parent reads at most that far ahead of the slowest process (and holds that many lines).
CHUNK_LINES = 1000
CHUNK_BYTES = 1 << 20
CHUNKS_IN_FLIGHT = 16
# What is read before the countries are given to processes, to weigh them by their bytes.
WARM_UP_LINES = 10_000
WARM_UP_BYTES = 8 << 20
# A country first seen later goes to the process with the least work in the last lines this long.
LOAD_WINDOW_LINES = 10_000

# A line's part: a record of a batch that mixes countries, as a batch of its own, and its index.
Part = tuple[bytes, int] | None
Task = tuple[int, bytes, Part]  # (line number, the line, its part or None for all of it)
# What a record gave, to merge: (line, index in the line, kind, payload), kinds below.
Item = tuple[int, int, int, Any]
GUARD, EVENT, DEAD, USED = range(4)  # far-future guard ran, event message, dead letter, newest used
POLL_SECONDS = 1.0
PARENT = -1  # the source of the parent's own items in the merge


def every_core() -> int:
    """How many processes a replay or a backtest uses unless told: one per core."""
    return os.cpu_count() or 1


class ReplayProcessError(RestrictwatchError):
    """A replay process failed or died: the replay cannot be completed."""


# the work of one process --------------------------------------------------------------------


class Judge:
    """A pipeline, and what its outcomes are to the merge: the items of each record.

    It also follows the newest record its pipeline used (what the far-future guard compares
    with), from the outcomes alone, and says when the guard ran: the parent needs both to tell
    whether one process would have judged the record the same way.
    """

    def __init__(self, config: Config) -> None:
        self.pipeline = Pipeline(config)
        self.limit = config.max_future_seconds
        self.newest = float("-inf")

    def items(self, line_no: int, raw: bytes, part: Part) -> list[Item]:
        out: list[Item] = []
        outcomes = self.pipeline.process_message(raw if part is None else part[0])
        used: Item | None = None
        for i, outcome in enumerate(outcomes):
            index = i if part is None else part[1]
            sample, rejection = outcome.sample, outcome.rejection
            if sample is not None and sample.ts > self.newest + self.limit:
                if used is not None:  # the merge must know the newest before this record
                    out.append(used)
                    used = None
                future = rejection is not None and rejection.error_type == "future"
                out.append((line_no, index, GUARD, (sample.ts, future)))
            if rejection is not None:
                if part is not None:
                    rejection = replace(rejection, index=part[1])
                entry = orjson.dumps(dead_letter(line_no, raw, rejection)) + b"\n"
                out.append((line_no, index, DEAD, entry))
                continue
            out += [(line_no, index, EVENT, event) for event in outcome.events]
            if sample is not None and sample.ts > self.newest:
                self.newest = sample.ts
                used = (line_no, index, USED, sample.ts)
        if used is not None:
            out.append(used)
        return out


def serve(config: Config, tasks: Any, results: Connection) -> None:
    """A replay process: chunks of lines in, their items out, its pipeline's totals at the end.

    Ctrl-C is the parent's to handle (it ends the processes); a failure is sent as text."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    judge = Judge(config)
    try:
        while (chunk := _next_chunk(tasks)) is not None:
            results.send([item for task in chunk for item in judge.items(*task)])
        results.send(judge.pipeline.totals())
    except BaseException as exc:
        results.send(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


def _next_chunk(tasks: Any) -> list[Task] | None:
    """The next chunk, None at the end; the end too when the parent is gone."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            chunk: list[Task] | None = tasks.get(timeout=POLL_SECONDS)
            return chunk
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return None


# routing ------------------------------------------------------------------------------------


# Who judges a line: the country whose process takes it whole, None for the parent (a line with
# no usable country can only be rejected), or each record of a batch that mixes countries with its
# own (country, itself as a batch of one, its index).
Destination = str | None | list[tuple[str | None, bytes, int]]


def destination(raw: bytes) -> Destination:
    """Where a line goes: its `country`; a batch of one country goes whole."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, list):
        return _country(doc)
    if len(raw) > MAX_BATCH_BYTES:  # rejected whole, unread
        return None
    countries = {_country(d) for d in doc} - {None}
    if len(countries) <= 1:
        return next(iter(countries), None)
    return [(_country(d), b"[" + orjson.dumps(d) + b"]", i) for i, d in enumerate(doc)]


def _country(doc: Any) -> str | None:
    country = doc.get("country") if isinstance(doc, dict) else None
    return country if isinstance(country, str) else None


def spread(weights: Counter[str], processes: int) -> dict[str, int]:
    """Countries to processes, heaviest first, each to the least loaded (longest processing
    time first): loads within a third of the best spread."""
    loads = [0] * processes
    home: dict[str, int] = {}
    for country, weight in sorted(weights.items(), key=lambda cw: (-cw[1], cw[0])):
        home[country] = min(range(processes), key=lambda p: loads[p])
        loads[home[country]] += weight
    return home


# the merge ----------------------------------------------------------------------------------


@dataclass
class Merge:
    """Items of any process in, files out in `replay`'s order once no process can still give an
    earlier line; and the far-future guard's reference as one process would have it."""

    limit: float
    events_out: IO[bytes] | None
    dead_out: IO[bytes] | None
    result: ReplayResult
    heap: list[tuple[int, int, int, int, Any, int]] = field(default_factory=list)
    order: itertools.count[int] = field(default_factory=itertools.count)
    newest: float = float("-inf")
    holders: set[int] = field(default_factory=set)  # processes that used or guarded a record

    def add(self, items: list[Item], source: int) -> None:
        for line_no, index, kind, payload in items:
            heapq.heappush(self.heap, (line_no, index, next(self.order), kind, payload, source))

    def write_through(self, line_no: float) -> None:
        heap = self.heap
        while heap and heap[0][0] <= line_no:
            at, _, _, kind, payload, source = heapq.heappop(heap)
            if kind == EVENT:
                self.result.count_event(payload, keep=False)
                if self.events_out is not None:
                    self.events_out.write(orjson.dumps(payload) + b"\n")
            elif kind == DEAD:
                self.result.dead_letters += 1
                if self.dead_out is not None:
                    self.dead_out.write(payload)
            elif kind == USED:
                self.newest = max(self.newest, payload)
                self.holders.add(source)
            else:
                ts, rejected = payload
                self._check_guard(at, ts, rejected, source)

    def _check_guard(self, line_no: int, ts: float, rejected: bool, source: int) -> None:
        """One process would have let the record through without the guard unless it was this
        far ahead of its reference; through it, the decision counts every country's series.
        While one process alone has used or guarded records, its pipeline is that one process
        would have (the same countries, newest record and votes): then its decision is exact."""
        alone = self.holders <= {source}
        self.holders.add(source)
        one_process_guards = self.newest > float("-inf") and ts > self.newest + self.limit
        if not alone and (rejected or one_process_guards):
            self.result.judged_apart += 1
            if self.result.first_judged_apart is None:
                self.result.first_judged_apart = line_no


# the processes ------------------------------------------------------------------------------


@dataclass
class Worker:
    number: int  # its place among the processes, from 0
    process: BaseProcess
    tasks: Any  # multiprocessing Queue: put never blocks, so the parent never waits on a process
    results: Connection
    countries: list[str] = field(default_factory=list)
    pending: list[Task] = field(default_factory=list)
    pending_bytes: int = 0
    in_flight: deque[int] = field(default_factory=deque)  # first line of each chunk sent
    # Bytes routed to it in this window of lines and the one before: the rate of its work now
    # (a country that began late weighs what it weighs now, not what it had time to add up).
    load_now: int = 0
    load_before: int = 0
    totals: Totals | None = None


class Processes:
    """The replay processes, the parent's own judge, and the merge of what they give."""

    def __init__(self, config: Config, workers: int, merge: Merge) -> None:
        self.config = config
        self.most = workers
        self.merge = merge
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = []
        self.home: dict[str, Worker] = {}
        self.parent = Judge(config)  # rejections of lines without a country

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            for w in self.workers:
                w.process.join()
            return
        for w in self.workers:  # a failure or Ctrl-C: end them all now, wait for nothing
            w.tasks.cancel_join_thread()
            if w.process.is_alive():
                w.process.terminate()
        for w in self.workers:
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()

    def start(self) -> Worker:
        tasks = self.context.Queue()
        results, child_end = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=serve,
            args=(self.config, tasks, child_end),
            name=f"restrictwatch-replay-{len(self.workers) + 1}",
            daemon=True,
        )
        process.start()
        child_end.close()  # the child's alone now: its death is an end of file here
        worker = Worker(len(self.workers), process, tasks, results)
        self.workers.append(worker)
        return worker

    def assign(self, homes: dict[str, int]) -> None:
        while len(self.workers) < min(self.most, len(set(homes.values()))):
            self.start()
        for country, p in homes.items():
            self._settle(country, self.workers[p])

    def _settle(self, country: str, worker: Worker) -> None:
        self.home[country] = worker
        worker.countries.append(country)

    def home_of(self, country: str) -> Worker:
        worker = self.home.get(country)
        if worker is None:
            worker = self.start() if len(self.workers) < self.most else self._least_loaded()
            self._settle(country, worker)
        return worker

    def _least_loaded(self) -> Worker:
        return min(self.workers, key=lambda w: w.load_now + w.load_before)

    def route(self, line_no: int, raw: bytes, to: Destination) -> None:
        if line_no % LOAD_WINDOW_LINES == 0:
            for w in self.workers:
                w.load_before, w.load_now = w.load_now, 0
        if isinstance(to, str):
            self._queue(self.home.get(to) or self.home_of(to), (line_no, raw, None), len(raw))
        elif to is None:
            self.merge.add(self.parent.items(line_no, raw, None), PARENT)
        else:
            for country, alone, index in to:
                if country is None:
                    self.merge.add(self.parent.items(line_no, raw, (alone, index)), PARENT)
                else:
                    self._queue(self.home_of(country), (line_no, raw, (alone, index)), len(alone))

    def _queue(self, worker: Worker, task: Task, size: int) -> None:
        worker.load_now += size
        worker.pending.append(task)
        worker.pending_bytes += size
        if len(worker.pending) >= CHUNK_LINES or worker.pending_bytes >= CHUNK_BYTES:
            while len(worker.in_flight) >= CHUNKS_IN_FLIGHT:
                for other in self.workers:  # they must not idle while this one catches up
                    if other is not worker:
                        self.send(other)
                self.receive(block=True)
            self.send(worker)
            self.receive(block=False)

    def send(self, worker: Worker) -> None:
        """Its pending lines, as one chunk."""
        if worker.pending:
            worker.in_flight.append(worker.pending[0][0])
            worker.tasks.put(worker.pending)
            worker.pending, worker.pending_bytes = [], 0

    def receive(self, block: bool) -> None:
        """Take what the processes have sent (waiting for something when `block`), and write
        what no process can precede any more."""
        owed = [w for w in self.workers if w.totals is None]
        # Its results, or its end: a process that dies sends nothing more.
        by_waitable: dict[Any, Worker] = {w.results: w for w in owed}
        by_waitable.update({w.process.sentinel: w for w in owed})
        for ready in wait(list(by_waitable), timeout=None if block else 0):
            worker = by_waitable[ready]
            if worker.totals is None:
                self._take(worker)
        self.merge.write_through(self._settled_through())

    def _take(self, worker: Worker) -> None:
        """Everything it has sent; a process that ended before its totals failed."""
        while worker.totals is None and (worker.results.poll() or not worker.process.is_alive()):
            try:
                message = worker.results.recv()
            except EOFError:
                worker.process.join(timeout=POLL_SECONDS)
                raise self._failure(worker, f"died ({_exit(worker.process.exitcode)})") from None
            if isinstance(message, str):
                raise self._failure(worker, f"failed: {message}")
            if isinstance(message, Totals):
                worker.totals = message
                return
            worker.in_flight.popleft()
            self.merge.add(message, worker.number)

    def _failure(self, worker: Worker, what: str) -> ReplayProcessError:
        n = worker.number + 1
        countries = ", ".join(sorted(worker.countries)) or "none yet"
        return ReplayProcessError(
            f"replay process {n} of {len(self.workers)} (countries {countries}) {what}; "
            "--workers 1 replays in one process and shows where"
        )

    def _settled_through(self) -> float:
        """The last line every process is done with (or never had)."""
        firsts = [
            w.in_flight[0] if w.in_flight else w.pending[0][0]
            for w in self.workers
            if w.in_flight or w.pending
        ]
        return min(firsts) - 1 if firsts else float("inf")

    def finish(self) -> list[Totals]:
        """Send what is left, end the processes, take everything they still give."""
        for w in self.workers:
            self.send(w)
            w.tasks.put(None)
        while any(w.totals is None for w in self.workers):
            self.receive(block=True)
        self.merge.write_through(float("inf"))
        return [w.totals for w in self.workers if w.totals is not None] + [
            self.parent.pipeline.totals()
        ]


# the replay ---------------------------------------------------------------------------------


def replay_in_processes(
    lines: Iterable[bytes],
    config: Config,
    workers: int,
    events_out: IO[bytes] | None = None,
    dead_out: IO[bytes] | None = None,
) -> ReplayResult:
    """`replay` (without `observe`) in up to `workers` processes, countries spread over them:
    the same events and dead letters in the same order, written as the lines settle.

    `result.events` stays empty (the messages go to `events_out` only); `result.totals` sums the
    processes' pipelines. See the module's docstring for the far-future guard.
    """
    result = ReplayResult()
    merge = Merge(float(config.max_future_seconds), events_out, dead_out, result)
    started = time.perf_counter()
    numbered = enumerate(lines, start=1)
    with Processes(config, workers, merge) as processes:
        first, weights = _warm_up(numbered)
        processes.assign(spread(weights, workers))
        line_no = 0
        for line_no, raw, to in first:
            processes.route(line_no, raw, to)
        for line_no, raw in numbered:
            processes.route(line_no, raw, destination(raw))
        result.lines = line_no
        totals = processes.finish()
    result.totals = sum_totals(totals)
    result.seconds = time.perf_counter() - started
    return result


Routed = tuple[int, bytes, Destination]


def _warm_up(numbered: Iterable[tuple[int, bytes]]) -> tuple[list[Routed], Counter[str]]:
    """The first lines, routed, and the bytes of each country in them."""
    first: list[Routed] = []
    weights: Counter[str] = Counter()
    size = 0
    for line_no, raw in numbered:
        to = destination(raw)
        first.append((line_no, raw, to))
        if isinstance(to, str):
            weights[to] += len(raw)
        elif to is not None:
            weights.update(c for c, _, _ in to if c is not None)
        size += len(raw)
        if len(first) >= WARM_UP_LINES or size >= WARM_UP_BYTES:
            break
    return first, weights


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def sum_totals(parts: list[Totals]) -> Totals:
    """The totals of pipelines that hold different countries, as one pipeline's."""
    rejected: Counter[str] = Counter()
    emitted: Counter[str] = Counter()
    for t in parts:
        rejected.update(t.rejected)
        emitted.update(t.emitted)
    return Totals(
        accepted=sum(t.accepted for t in parts),
        rejected=dict(rejected),
        emitted=dict(emitted),
        countries=sum(t.countries for t in parts),
        series=sum(t.series for t in parts),
        warming_series=sum(t.warming_series for t in parts),
        open_incidents=sum(t.open_incidents for t in parts),
    )
