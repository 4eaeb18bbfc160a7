"""Replay's exact output on every scenario, as digests: a restructure must not change one byte.

For each scenario of the library (seed 1, packaged default config) the rendered records go
through `streams.replay.replay`, and the SHA-256 of the event lines and of the dead-letter lines it
writes is compared with tests/golden/replay.json (`--write` records the current output instead).

    python -m bench.golden [--write] [--workers 2] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.simulation.render import render
from restrictwatch.detectors.simulation.scenarios import SCENARIOS, scenario
from restrictwatch.streams.replay import replay

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "replay.json"
SEED = 1


def digests(name: str, seed: int = SEED) -> dict[str, object]:
    """Digests of what replay writes for one scenario: events and dead letters."""
    events, dead = io.BytesIO(), io.BytesIO()
    result = replay(render(scenario(name), seed).lines, load_config(), events, dead)
    return {
        "events": hashlib.sha256(events.getvalue()).hexdigest(),
        "event_messages": len(result.events),
        "dead_letters": hashlib.sha256(dead.getvalue()).hexdigest(),
    }


def compute(names: list[str], workers: int) -> dict[str, dict[str, object]]:
    if workers <= 1:
        return {n: digests(n) for n in names}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return dict(zip(names, pool.map(digests, names), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.golden", description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="default: every scenario")
    parser.add_argument("--write", action="store_true", help="record instead of compare")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    current = compute(names, args.workers)
    if args.write:
        golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() and args.scenarios else {}
        golden.update(current)
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(dict(sorted(golden.items())), indent=1) + "\n")
        print(f"recorded {len(current)} scenarios in {GOLDEN.name}")
        return 0
    golden = json.loads(GOLDEN.read_text())
    changed = [n for n in names if golden.get(n) != current[n]]
    for n in changed:
        print(f"{n}: was {golden.get(n)}, now {current[n]}")
    print(f"{len(names) - len(changed)} of {len(names)} scenarios replay byte for byte as recorded")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
