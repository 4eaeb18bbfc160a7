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
import pickle
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from bench.markdown import replace_section
from restrictwatch.detectors.config import load_config, parse_config
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.series import Series
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import scenario
from restrictwatch.streams.replay import replay

DAY = 86400


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_replay(rounds: int) -> dict[str, float]:
    """Records/s of the whole core (decode, validate, bin, detect, correlate) vs a json.loads loop."""
    lines = render(scenario("pk-2023-12-17"), 1).lines
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
    return {
        "records": n,
        "json_loads_rps": loads_rate,
        "replay_rps": core_rate,
        "ratio": core_rate / loads_rate,
    }


def _warm_series(kind: str, signal: str) -> Series:
    data = {"detectors": {"traffic": {"kind": kind}}} if kind != "seasonal" else {}
    config = parse_config(data)
    key = SeriesKey(signal, "bench", "PK", None, "x" if signal == "reachability" else None)
    series = Series(key, config)
    from restrictwatch.detectors.series import ReachabilityBin, TrafficBin

    t = 1_700_000_000.0
    for i in range(14 * 288):  # two weeks of 5-minute bins
        acc: TrafficBin | ReachabilityBin
        if signal == "traffic":
            acc = TrafficBin(total=1000.0 + 300 * ((i % 288) / 288), count=1)
        else:
            acc = ReachabilityBin(probes=40, ok=39)
        series.close(t + i * 300, acc)
    return series


def bench_state() -> list[tuple[str, int]]:
    """Pickled bytes of one series' model after two weeks, per detector type."""
    rows = [("traffic: seasonal (default)", _warm_series("seasonal", "traffic"))]
    try:
        import restrictwatch.detectors.baselines  # noqa: F401

        for kind in ("moving_median", "cusum", "halfspacetrees"):
            rows.append((f"traffic: {kind} (baseline)", _warm_series(kind, "traffic")))
    except ImportError:
        pass
    rows.append(("reachability: success_rate (default)", _warm_series("seasonal", "reachability")))
    return [
        (name, len(pickle.dumps(s.model, protocol=pickle.HIGHEST_PROTOCOL))) for name, s in rows
    ]


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
print(before, after, p.series_count)
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
    replay_r: dict[str, float],
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
        "| what | records/s |",
        "|---|---|",
        f"| plain `json.loads` loop over the file | {replay_r['json_loads_rps']:,.0f} |",
        f"| `replay` (decode, validate, bin, detect, correlate, events) | {replay_r['replay_rps']:,.0f} |",
        f"| ratio | {replay_r['ratio']:.2f} |",
        "",
        f"File: `restrictwatch simulate --scenario pk-2023-12-17 --seed 1`, {replay_r['records']:,} records, 63 series. "
        "Targets: ≥ 25 % of the `json.loads` loop and ≥ 100,000 records/s.",
        "",
        "### State per series (pickled, after two weeks of 5-minute bins)",
        "",
        "| detector | bytes |",
        "|---|---|",
        *[f"| {name} | {size:,} |" for name, size in state],
        "",
        "Target: default detector ≤ 4 KB per series.",
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
    replay_r = bench_replay(args.rounds)
    print(json.dumps(replay_r, indent=1))
    state = bench_state()
    print(state)
    rss = bench_rss(tuple(int(s) for s in args.sizes.split(",")))
    print(rss)
    text = render_markdown(replay_r, state, rss, args.rounds)
    print(text)
    if args.write:
        replace_section("perf", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
