"""The commands that need no broker: replay, simulate, demo, config."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from restrictwatch.detectors.config import Config, config_as_yaml, load_config
from restrictwatch.detectors.simulation.render import render, side_by_side
from restrictwatch.detectors.simulation.scenarios import SCENARIOS, scenario, scenario_set
from restrictwatch.streams.parallel_replay import every_core, replay_in_processes
from restrictwatch.streams.progress import Progress, count_lines, is_terminal, tracked
from restrictwatch.streams.replay import ReplayResult, open_input, read_lines, replay, summary_table
from restrictwatch.streams.usage import UsageError

DEMO_SCENARIO = "pk-2023-12-17"


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[bytes] | None]:
    if path is None:
        yield None
        return
    if path == "-":
        yield sys.stdout.buffer
        return
    try:
        f = Path(path).open("wb")  # noqa: SIM115 - closed below; open errors need their own message
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with f:
        yield f


def _config(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def replay_processes(args: argparse.Namespace) -> int:
    """How many processes `replay` runs: `--workers`, else one per core; one for a report,
    whose recorder sees every record in one pipeline."""
    if args.report:
        if args.workers not in (None, 1):
            raise UsageError("--report replays in one process: leave out --workers")
        return 1
    return every_core() if args.workers is None else int(args.workers)


def cmd_replay(args: argparse.Namespace) -> int:
    config = _config(args)
    processes = replay_processes(args)
    try:
        source = open_input(args.input)
    except OSError as exc:
        raise UsageError(f"cannot read {args.input}: {exc.strerror}") from None
    recorder = None
    if args.report:
        from restrictwatch.streams.report import VerdictRecorder, write_report

        _report_directory(args.report)  # before a replay that may take long, not after it
        recorder = VerdictRecorder()  # the pipeline keeps no history: the report needs one
    total = count_lines(args.input) if is_terminal(sys.stderr) else None
    with (
        source,
        _output(args.out or "-") as out,
        _output(args.dead_letter) as dead,
        Progress("replayed", total) as progress,
    ):
        lines = tracked(read_lines(source), progress)
        if processes == 1:
            result = replay(lines, config, out, dead, observe=recorder)
        else:
            result = replay_in_processes(lines, config, processes, out, dead)
        if out is not None:
            out.flush()
    _warn_of_far_future_records(result, config)
    print(summary_table(result), file=sys.stderr)
    if args.report:
        index = write_report(Path(args.report), result, config, recorder, args.input)
        print(f"report: {index}", file=sys.stderr)
    return 0


def _warn_of_far_future_records(result: ReplayResult, config: Config) -> None:
    if result.judged_apart:
        print(
            f"restrictwatch: warning: {result.judged_apart} record(s), the first on line "
            f"{result.first_judged_apart}, were more than max_future_seconds "
            f"({config.max_future_seconds} s) ahead of the newest record used; each process "
            "judges such a jump by its own countries alone, so --workers 1 may judge them, and "
            "what follows from them, otherwise",
            file=sys.stderr,
        )


def _report_directory(path: str) -> Path:
    """The report's directory, created now: it must be new or empty (a report is never mixed
    with older files)."""
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"cannot write the report to {path}: it exists and is not a directory")
    try:
        if directory.is_dir() and any(directory.iterdir()):
            raise UsageError(
                f"cannot write the report to {path}: the directory is not empty (remove it or "
                "choose another)"
            )
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report directory {path}: {exc.strerror}") from None
    return directory


def _at_least_one(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return n


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.list:
        for name, build in sorted(SCENARIOS.items()):
            print(f"{name:<34} {scenario_set(name):<10} {build().description.splitlines()[0]}")
        return 0
    if not args.scenario or not args.out:
        raise UsageError("simulate needs --scenario NAME and --out FILE (or --list)")
    try:
        specs = [scenario(name) for name in args.scenario]
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    try:
        rendered = (
            render(specs[0], args.seed) if len(specs) == 1 else side_by_side(specs, args.seed)
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with _output(args.out) as out:
        assert out is not None
        out.write(b"\n".join(rendered.lines) + b"\n")
    if args.truth:
        with _output(args.truth) as truth:
            assert truth is not None
            truth.write(b"".join(orjson.dumps(t) + b"\n" for t in rendered.truth))
    print(
        f"{', '.join(args.scenario)}: {len(rendered.lines)} records, "
        f"{len(rendered.truth)} labeled incidents",
        file=sys.stderr,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulate the Pakistan 2023-12-17 case and replay it through the real pipeline."""
    config = _config(args)
    rendered = render(scenario(DEMO_SCENARIO), args.seed)
    print(
        f"simulated {DEMO_SCENARIO}: {len(rendered.lines)} records (seed {args.seed})",
        file=sys.stderr,
    )
    result = replay(rendered.lines, config, sys.stdout.buffer)
    sys.stdout.flush()
    print(summary_table(result), file=sys.stderr)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "validate":
        cfg = load_config(args.file)
        print(f"{args.file}: valid (config_version {cfg.fingerprint})")
        return 0
    cfg = load_config(args.file)
    print(f"# config_version: {cfg.fingerprint}")
    print(config_as_yaml(cfg), end="")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="run a JSON-lines file through the detection pipeline")
    p.add_argument("input", help="JSON lines of traffic and reachability records, - for stdin")
    p.add_argument("--config", help="detector config YAML, laid over the packaged default")
    p.add_argument("--out", help="where to write event messages (default: stdout)")
    p.add_argument("--dead-letter", help="where to write rejected records with their reasons")
    p.add_argument("--report", help="directory for a static HTML/PNG report of the incidents")
    p.add_argument(
        "--workers",
        type=_at_least_one,
        metavar="N",
        help="processes, each country's records in one of them (default: one per core, "
        f"{every_core()} here; 1: one process; --report always uses one). The events and dead "
        "letters are those of one process, byte for byte, except after a record more than "
        "max_future_seconds ahead of the newest record used: each process judges such a jump "
        "by its own countries alone (a warning says when there was one)",
    )
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("simulate", help="write a labeled synthetic scenario")
    p.add_argument(
        "--scenario",
        action="append",
        help="scenario name (see --list); repeat for one feed of several countries side by side "
        "(each moved by whole weeks to start in the first one's week, merged by arrival)",
    )
    p.add_argument("--out", help="records file (JSON lines)")
    p.add_argument("--truth", help="labeled incidents file (JSON lines)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help=f"simulate {DEMO_SCENARIO} and replay it")
    p.add_argument("--config", help="detector config YAML, laid over the packaged default")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("config", help="validate or show the detector config")
    csub = p.add_subparsers(dest="action", required=True)
    v = csub.add_parser("validate", help="check a config file laid over the packaged default")
    v.add_argument("file")
    s = csub.add_parser("show", help="print the effective config (the file over the default)")
    s.add_argument("file", nargs="?", help="config file (default: the packaged one)")
    p.set_defaults(func=cmd_config)
