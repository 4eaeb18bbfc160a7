"""Where a worker's time goes: a py-spy profile (raw, collapsed stacks) summed into a few parts.

    python -m bench.profile PROFILE.raw [--top N]

Each sample is charged to one part by its innermost frame that is either this project's
(checkpoint encoding, the detection core, the worker's glue) or a framework's (Faust, mode and
asyncio; the Kafka client; waiting in epoll); utility code in between is charged to its caller.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

PARTS = (
    "checkpoint encoding (detectors.state + zlib of changed countries)",
    "detection core (detectors/)",
    "worker glue (streams/: merge, hand-off, publish)",
    "Faust, mode and asyncio (per-event machinery, timers, tables)",
    "Kafka client (aiokafka fetch and produce)",
    "idle (waiting in epoll)",
    "other",
)
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) from outermost to innermost."""
    out = []
    for frame in stack.split(";"):
        m = FRAME.match(frame.strip())
        out.append((m["func"], m["file"]) if m else (frame, ""))
    return out


def _ours(file: str) -> bool:
    if "site-packages" in file:
        return False
    if "detectors/" in file:
        return True
    return "streams/" in file and not file.endswith(("cli.py", "kafka_io.py", "worker.py"))


def _checkpointing(stack: list[tuple[str, str]]) -> bool:
    return any(
        (func.endswith("snapshot") and "detectors/pipeline.py" in file)
        or (func.endswith("encode") and "streams/handler.py" in file)
        for func, file in stack
    )


def part_of(stack: list[tuple[str, str]]) -> str:
    """The innermost frame that is ours or a framework's decides; utilities (builtins, pickle,
    zlib, orjson, river, collections) are charged to whoever called them."""
    for func, file in reversed(stack):
        if _ours(file):
            if _checkpointing(stack):
                return PARTS[0]
            return PARTS[1] if "detectors/" in file else PARTS[2]
        if "select" in func or "selectors.py" in file:
            return PARTS[5]
        if "aiokafka/" in file or "/kafka/" in file:
            return PARTS[4]
        if any(lib in file for lib in ("faust/", "mode/", "asyncio/", "threading.py")):
            return PARTS[3]
    return PARTS[6]


def summarize(raw: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if stack and n.isdigit():
            counts[part_of(frames(stack))] += int(n)
    return counts


def innermost(raw: str, part: str) -> Counter[str]:
    """Samples of one part by the innermost frame that decided it: which functions to read."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not (stack and n.isdigit()):
            continue
        chain = frames(stack)
        if part_of(chain) != part:
            continue
        for func, file in reversed(chain):
            if part_of([(func, file)]) == part or _ours(file):
                counts[f"{func} ({file.rpartition('site-packages/')[2]})"] += int(n)
                break
    return counts


def table(counts: Counter[str]) -> str:
    total = sum(counts.values()) or 1
    rows = ["| part | share of samples |", "|---|---|"]
    rows += [f"| {p} | {100 * counts[p] / total:.1f} % |" for p in PARTS if counts[p]]
    return "\n".join(rows)


def main() -> int:
    raw = Path(sys.argv[1]).read_text()
    counts = summarize(raw)
    print(table(counts))
    if "--top" in sys.argv:
        n = int(sys.argv[sys.argv.index("--top") + 1])
        total = sum(counts.values()) or 1
        for part in PARTS[2:5]:
            print(f"\n{part}, innermost frames:")
            for func, k in innermost(raw, part).most_common(n):
                print(f"  {100 * k / total:5.1f} %  {func}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
