"""The reliability table in BENCHMARKS.md: each fault the tests inject, what they assert, and
the command that reproduces it. Only what a test asserts is claimed here.

    python -m bench.reliability
"""

from __future__ import annotations

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
        "kill -9 mid-incident, restart",
        "messages before the kill kept as they were; after dedup on (event_id, seq), events "
        "equal replay's; no (event_id, seq) re-emitted with different content",
        "tests/integration/test_worker.py::"
        "test_a_killed_worker_resumes_without_losing_or_duplicating",
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


def table() -> str:
    lines = [
        "### Reliability: faults injected by the tests",
        "",
        "Each row is one test; it runs once per `pytest` run and fails if anything in the "
        "second column does not hold. Nothing was lost in any of them; duplicates are only "
        "byte-identical re-emissions (consumers dedupe on (event_id, seq)). Dead letters may "
        "be sent twice after a crash; no test counts them across a crash.",
        "",
        "| fault | asserted | reproduce with `pytest` |",
        "|---|---|---|",
    ]
    lines += [f"| {fault} | {asserted} | `{node}` |" for fault, asserted, node in ROWS]
    return "\n".join(lines)


def main() -> None:
    replace_section("reliability", table())


if __name__ == "__main__":
    main()
