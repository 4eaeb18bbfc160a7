"""The `restrictwatch` command line: one table of commands, each module registering its own.

No command module imports this one, so there is no cycle, and each is imported only to build
the parser (the worker's Faust and the broker clients are imported when their command runs).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence

from restrictwatch.detectors.exceptions import RestrictwatchError

# Module -> the commands its `register(sub)` adds, in the order `--help` lists them.
COMMANDS: dict[str, tuple[str, ...]] = {
    "restrictwatch.streams.offline": ("replay", "simulate", "demo", "config"),
    "restrictwatch.streams.quality": ("evaluate", "backtest"),
    "restrictwatch.streams.worker": ("worker",),
    "restrictwatch.streams.kafka_io": ("topics", "produce", "tail", "deadletters"),
    "restrictwatch.streams.api.command": ("api",),
}


def _version() -> str:
    try:
        return importlib.metadata.version("restrictwatch")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restrictwatch",
        description="Detect internet shutdowns, platform restrictions and throttling from traffic and probe data.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except RestrictwatchError as exc:
        print(f"restrictwatch: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
