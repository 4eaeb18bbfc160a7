"""Performance benchmarks of the detection core (`make bench-perf` also runs the worker ones).

Each figure comes with its reference measured side by side in the same run, in alternating
rounds, and medians are reported: the machines are shared and noisy.

    python -m bench.perf [--rounds N] [--write]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import orjson

from bench.markdown import replace_section
from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.replay import replay

DAY = 86400


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# The two sizes of country: ~60 series (networks, platforms, probes per network) and
# ~20 (no scenario has exactly 19; this one's 18 are the nearest).
REPLAY_SCENARIOS = ("pk-2023-12-17", "et-partial-blocking")


def bench_replay(rounds: int, name: str) -> dict[str, float]:
    """Records/s of the whole core (decode, validate, bin, detect, correlate) vs a json.loads loop."""
    lines = render(scenario(name), 1).lines
    config = load_config()

    def loads_loop() -> None:
        for line in lines:
            json.loads(line)

    loads, core = [], []
    for _ in range(rounds):
        loads.append(_timed(loads_loop))
        core.append(_timed(lambda: replay(lines, config)))
    n = len(lines)
    loads_rate, core_rate = n / statistics.median(loads), n / statistics.median(core)
    series = Pipeline(config)
    series.process_batch(lines)
    return {
        "records": n,
        "series": series.totals().series,
        "json_loads_rps": loads_rate,
        "replay_rps": core_rate,
        "ratio": core_rate / loads_rate,
    }


def bench_state(series: int = 20, days: int = 14) -> list[tuple[str, int]]:
    """Checkpoint bytes per series (`Pipeline.snapshot`, what the worker writes) of one country
    after two weeks of 5-minute bins: `series` traffic series (one per network) and as many
    reachability series (one per platform), each alone and both together."""
    t0 = 1_700_000_000.0

    def records(signal: str) -> list[bytes]:
        out = []
        for i in range(days * 288):
            ts = t0 + i * 300
            day = 1000.0 + 300 * ((i % 288) / 288)
            for n in range(series):
                if signal == "traffic":
                    rec: dict[str, object] = {"asn": 100 + n, "value": day * (1 + n / 10)}
                else:
                    rec = {"platform": f"p{n}", "probes": 40, "ok": 39, "latency_ms": 80.0}
                out.append(
                    orjson.dumps(
                        {"signal": signal, "ts": ts, "country": "PK", "source": "bench", **rec}
                    )
                )
        return out

    rows = []
    for name, lines in (
        ("traffic: seasonal (default)", records("traffic")),
        ("reachability: success_rate (default)", records("reachability")),
    ):
        p = Pipeline(load_config())
        p.process_batch(lines)
        rows.append((name, len(p.snapshot("PK") or b"") // series))
    return rows


RSS_CHILD = r"""
import sys, orjson

def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.pipeline import Pipeline
n = int(sys.argv[1])
p = Pipeline(load_config())
before = rss_kib()
countries = ["PK", "IR", "IN", "BR", "RU", "TR", "ET", "MM", "IQ", "KE"]
t0 = 1_700_000_000
for b in range(6):
    for i in range(n):
        rec = {"signal": "traffic", "ts": t0 + b * 300, "country": countries[i % 10], "asn": 1 + i // 10,
               "value": 1000.0 + i % 97, "source": "bench"}
        p.process(orjson.dumps(rec))
after = rss_kib()
print(before, after, p.totals().series)
"""


def bench_rss(sizes: tuple[int, ...]) -> list[tuple[int, float, float]]:
    """RSS of a process holding N traffic series (KiB -> MiB), and its growth per series."""
    out = []
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, "-c", RSS_CHILD, str(n)], capture_output=True, text=True, check=True
        )
        before, after, count = (int(x) for x in proc.stdout.split())
        assert count == n
        out.append((n, after / 1024, (after - before) * 1024 / n))
    return out


def render_markdown(
    replays: dict[str, dict[str, float]],
    state: list[tuple[str, int]],
    rss: list[tuple[int, float, float]],
    rounds: int,
) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Performance",
        "",
        f"Measured with `make bench-perf` (`python -m bench.perf --rounds {rounds} --write`) on a shared "
        f"{os.cpu_count()}-core {cpu} machine, Python {platform.python_version()}; medians of {rounds} alternating rounds.",
        "",
        "### Replay throughput of the detection core",
        "",
        "| file (`restrictwatch simulate --scenario NAME --seed 1`) | records | series "
        "| plain `json.loads` loop (records/s) | `replay` (records/s) | ratio |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {r['records']:,} | {r['series']} | {r['json_loads_rps']:,.0f} "
            f"| {r['replay_rps']:,.0f} | {r['ratio']:.2f} |"
            for name, r in replays.items()
        ],
        "",
        "`replay` is the whole core: decode, validate, bin, detect, correlate, events. Both loops "
        "run in one process over the rendered lines, alternating. Target (issue 15): ≥ 0.5 of "
        "the `json.loads` loop.",
        "",
        "### State per series (checkpoint bytes of one country of 20 series, after two weeks of 5-minute bins)",
        "",
        "| detector | bytes |",
        "|---|---|",
        *[f"| {name} | {size:,} |" for name, size in state],
        "",
        "Target: default detector ≤ 4 KB per series. The baseline detectors (moving median, "
        "CUSUM, HalfSpaceTrees) are for comparison in backtests and are not checkpointed.",
        "",
        "### Memory of the core holding many series",
        "",
        "| traffic series | RSS (MiB) | growth per series (bytes) |",
        "|---|---|---|",
        *[f"| {n:,} | {rss_mib:,.0f} | {per:,.0f} |" for n, rss_mib, per in rss],
        "",
        "Each series received six 5-minute bins (records spread over 10 countries); RSS is the process's "
        "resident set (VmRSS), growth is measured from the baseline after imports.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--write", action="store_true", help="rewrite the performance section of BENCHMARKS.md"
    )
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    replays = {name: bench_replay(args.rounds, name) for name in REPLAY_SCENARIOS}
    print(json.dumps(replays, indent=1))
    state = bench_state()
    print(state)
    rss = bench_rss(tuple(int(s) for s in args.sizes.split(",")))
    print(rss)
    text = render_markdown(replays, state, rss, args.rounds)
    print(text)
    if args.write:
        replace_section("perf", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
