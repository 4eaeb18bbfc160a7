"""`restrictwatch replay FILE --workers 1` vs `--workers 2`: whole processes, wall clock.

The file is several scenarios of the library side by side (one country each, of similar size),
so the countries can be spread evenly; the two runs alternate, medians are reported, and their
event files must be byte for byte the same.

    python -m bench.replay_workers [--rounds N] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench.markdown import BENCHMARKS, replace_section
from restrictwatch.detectors.simulation.render import side_by_side
from restrictwatch.detectors.simulation.scenarios import scenario

SECTION = "replay-workers"
# Four countries of 100k-130k records each: an even spread over two processes is possible.
SCENARIOS = (
    "ir-national-shutdown",
    "ru-x-throttling",
    "tr-dns-and-sni-blocks",
    "iq-exam-shutdowns",
)
# After the core benchmark's own section (bench.perf rewrites that whole section, so this one
# must not sit inside it).
AFTER = "<!-- perf:end -->"


def build_file(path: Path, names: Sequence[str], seed: int = 1) -> Counter[str]:
    """The scenarios side by side, written to `path`; records per country."""
    lines = side_by_side([scenario(n) for n in names], seed).lines
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return Counter(orjson.loads(line)["country"] for line in lines)


def command(path: Path, workers: int, out: Path) -> list[str]:
    return ["restrictwatch", "replay", str(path), "--workers", str(workers), "--out", str(out)]


def run(path: Path, workers: int, out: Path) -> float:
    """Wall-clock seconds of the whole process."""
    exe = [str(Path(sys.executable).with_name("restrictwatch"))]
    start = time.perf_counter()
    subprocess.run(exe + command(path, workers, out)[1:], check=True, capture_output=True)
    return time.perf_counter() - start


def summarize(times: dict[int, list[float]]) -> dict[str, float]:
    """Medians of each, and how much faster two processes are (one's median over two's)."""
    one, two = statistics.median(times[1]), statistics.median(times[2])
    return {"median_1": one, "median_2": two, "speedup": one / two}


def render_markdown(
    countries: Counter[str],
    names: Sequence[str],
    times: dict[int, list[float]],
    identical: bool,
    load: tuple[float, float] | None = None,
) -> str:
    s = summarize(times)
    rounds = len(times[1])
    records = sum(countries.values())
    cpu = platform.processor() or platform.machine()
    per_country = ", ".join(f"{c} {n:,}" for c, n in sorted(countries.items()))
    gain = (
        f"two processes take {s['median_2'] / s['median_1']:.2f} of one's time"
        f" ({s['speedup']:.2f}x as fast)"
    )
    return "\n".join(
        [
            "### Replay in several processes: `--workers 1` vs `--workers 2`",
            "",
            f"Measured with `make bench-replay` (`python -m bench.replay_workers --rounds {rounds} "
            f"--write`) on a shared {os.cpu_count()}-core {cpu} machine, Python "
            f"{platform.python_version()}; medians of {rounds} alternating rounds, each a whole "
            "`restrictwatch replay FILE --workers N --out EVENTS` process timed by wall clock "
            "(start-up and imports included)."
            + (
                f" Load average (1 min) before and after the rounds: {load[0]:.2f}, {load[1]:.2f}"
                " (other work on the machine competes for the same cores)."
                if load is not None
                else ""
            ),
            "",
            f"File: {', '.join(f'`{n}`' for n in names)} side by side (`side_by_side`, seed 1): "
            f"{len(countries)} countries, {records:,} records ({per_country}).",
            "",
            "| workers | median (s) | rounds (s) |",
            "|---|---|---|",
            *[
                f"| {w} | {statistics.median(times[w]):.2f} "
                f"| {', '.join(f'{t:.2f}' for t in times[w])} |"
                for w in (1, 2)
            ],
            "",
            f"Ratio: {gain}. Event files byte for byte the same: {'yes' if identical else 'NO'}.",
            "",
            "A country's records stay in one process, so the gain is bounded by the busiest "
            "process: a file where one country has most of the records gains little (the "
            "parent then mostly waits on that process). On two cores the parent, which reads "
            "and routes every line, shares them with the two processes.",
        ]
    )


def write_section(body: str, path: Path = BENCHMARKS) -> None:
    """The section right after the core benchmark's section (its markers put there the first
    time)."""
    start = f"<!-- {SECTION}:start -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if start not in text and AFTER in text:
        block = f"{AFTER}\n\n{start}\n<!-- {SECTION}:end -->"
        path.write_text(text.replace(AFTER, block, 1), encoding="utf-8")
    replace_section(SECTION, body, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "replay.jsonl"
        countries = build_file(path, SCENARIOS)
        outs = {w: folder / f"events-{w}.jsonl" for w in (1, 2)}
        for r in range(args.rounds):
            for w in (1, 2) if r % 2 == 0 else (2, 1):
                times[w].append(run(path, w, outs[w]))
                print(f"round {r + 1} workers {w}: {times[w][-1]:.2f} s", file=sys.stderr)
        identical = outs[1].read_bytes() == outs[2].read_bytes()
    load = (before, os.getloadavg()[0])
    text = render_markdown(countries, SCENARIOS, times, identical, load)
    print(text)
    if args.write:
        write_section(text)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
