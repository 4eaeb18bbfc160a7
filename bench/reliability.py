"""The reliability table in BENCHMARKS.md: each fault the tests inject, what they assert, how
many times it was tried and held, and the command that reproduces it. Only what a test asserts
is claimed here.

    python -m bench.reliability [--repeat 3] [--write]

Runs the tests below `--repeat` times, one pytest session per round (each starts its own private
broker, as `make test` does), and counts per row the rounds in which all its tests passed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.markdown import replace_section

ROWS = [
    (
        "bad-record catalogue in replay",
        "every catalogue entry dead-lettered with its reason, good records unaffected",
        "tests/streams/test_replay.py::"
        "test_every_bad_record_is_dead_lettered_with_its_reason_and_nothing_else_changes",
    ),
    (
        "bad-record catalogue through the worker (pk-2023-12-17, ~110k records)",
        "events equal replay's, whole messages; each bad record dead-lettered once with its "
        "original bytes and reason headers",
        "tests/integration/test_worker.py::"
        "test_worker_events_equal_replay_and_bad_records_are_dead_lettered",
    ),
    (
        "kill -9 twice: right after the incident opened, then while catching up (restarts "
        "on an empty and on a stale state directory)",
        "messages before the kill kept as they were; after dedup on (event_id, seq), events "
        "equal replay's; no (event_id, seq) re-emitted with different content; every input "
        "offset committed within 60 s",
        "tests/integration/test_worker.py::"
        "test_a_killed_worker_resumes_without_losing_or_duplicating",
    ),
    (
        "records the consumer never delivers (every record from the incident on dropped "
        "between consumer and handler at its first delivery, unacknowledged)",
        "the stuck partitions are read again from their commit; events equal replay's, whole "
        "messages; every input offset committed",
        "tests/integration/test_worker.py::"
        "test_records_the_consumer_never_delivered_are_read_again_from_the_commit",
    ),
    (
        "broker stopped for 5 s mid-incident and restarted (private broker, data kept)",
        "the worker process stays up and catches up; after dedup, events equal replay's; "
        "no (event_id, seq) re-emitted with different content",
        "tests/integration/test_reliability.py::test_a_worker_rides_out_a_broker_restart",
    ),
    (
        "rebalance: 2 workers on 4 partitions, one stopped (SIGTERM) mid-incident "
        "(KE, TR, RU aligned in time, ~90k records)",
        "the stopped worker owned a country's partition; the other takes it over with its "
        "state; after dedup, each event's lifecycle equals replay's; no (event_id, seq) "
        "re-emitted with different content",
        "tests/integration/test_reliability.py::"
        "test_a_stopped_workers_partitions_and_state_move_to_the_other",
    ),
    (
        "SASL_SSL with SCRAM-SHA-512 (topics, produce, worker, tail all over TLS)",
        "events equal replay's; the worker log shows its settings with the password masked "
        "and never the password",
        "tests/integration/test_reliability.py::test_a_worker_over_sasl_ssl_scram",
    ),
    (
        "SASL over PLAINTEXT, secrets in settings",
        "refused unless RW_ALLOW_INSECURE_SASL=true; password from a file; masked in "
        "masked(), repr and error messages",
        "tests/streams/test_settings.py",
    ),
]


def outcomes(node: str, report: ET.Element) -> list[bool]:
    """Whether each test case of a pytest node id (a test, all its parameters, or a whole file)
    passed."""
    path, _, name = node.partition("::")
    classname = path.removesuffix(".py").replace("/", ".")
    cases = [
        case
        for case in report.iter("testcase")
        if case.get("classname") == classname
        and (not name or case.get("name", "").split("[")[0] == name)  # parametrized: name[id]
    ]
    return [not any(c.tag in ("failure", "error", "skipped") for c in case) for case in cases]


def run_rounds(repeat: int) -> list[int]:
    """Per row, in how many rounds all of its tests ran and passed."""
    nodes = [node for _, _, node in ROWS]
    passed = [0] * len(ROWS)
    with tempfile.TemporaryDirectory(prefix="rw-reliability-") as tmp:
        for round_ in range(repeat):
            xml = Path(tmp) / f"round-{round_}.xml"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    f"--junitxml={xml}",
                    *nodes,
                ],
                check=False,
            )
            report = ET.parse(xml).getroot()
            for i, node in enumerate(nodes):
                results = outcomes(node, report)
                passed[i] += bool(results) and all(results)
            print(f"round {round_ + 1}/{repeat}: {passed}", flush=True)
    return passed


def table(repeat: int, passed: list[int]) -> str:
    lines = [
        "### Reliability: faults injected by the tests",
        "",
        f"`python -m bench.reliability --repeat {repeat} --write`: the tests below, {repeat} "
        "rounds of one pytest session each (each session starts its own private broker, as "
        "`make test` does). A round passes a row when every assertion in the second column "
        "held. Nothing was lost in any passing round; duplicates are only byte-identical "
        "re-emissions (consumers dedupe on (event_id, seq)). Dead letters may be sent twice "
        "after a crash; no test counts them across a crash.",
        "",
        "| fault | asserted | rounds passed | reproduce with `pytest` |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {fault} | {asserted} | {n} of {repeat} | `{node}` |"
        for (fault, asserted, node), n in zip(ROWS, passed, strict=True)
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    passed = run_rounds(args.repeat)
    text = table(args.repeat, passed)
    print(text)
    if args.write:
        replace_section("reliability", text)
    return 0 if all(n == args.repeat for n in passed) else 1


if __name__ == "__main__":
    sys.exit(main())
