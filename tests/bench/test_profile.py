"""Charging py-spy samples to parts of the worker."""

from __future__ import annotations

from bench.profile import PARTS, innermost, summarize

ENTRY = "<module> (streams/cli.py:187);cmd_worker (streams/worker.py:33);run_forever (asyncio/base_events.py:607)"
PROCESS = f"{ENTRY};process (streams/app.py:166);RecordHandler.receive (streams/handler.py:165)"


def test_samples_are_charged_to_the_innermost_frame_of_ours_or_of_a_framework() -> None:
    raw = "\n".join(
        [
            # the state encoding inside the core's snapshot: checkpointing
            f"{PROCESS};RecordHandler._checkpoint (streams/handler.py:427);Pipeline.snapshot"
            " (detectors/pipeline.py:63);_Encoder.value (detectors/state.py:53) 5",
            # river under the core: the core
            f"{PROCESS};Pipeline.process_sample (detectors/pipeline.py:51);EWVar.get"
            " (river/stats/ewvar.py:61) 3",
            # the handler's own merge
            f"{PROCESS};RecordHandler._drain (streams/handler.py:301) 2",
            # Faust's stream machinery under our agent is Faust's
            f"{ENTRY};process (streams/app.py:166);Stream._c_aiter (faust/streams.py:1171) 7",
            f"{ENTRY};EpollSelector.select (selectors.py:451) 4",
            f"{ENTRY};Fetcher.fetched_records (aiokafka/consumer/fetcher.py:1) 1",
        ]
    )
    counts = summarize(raw)
    assert [counts[p] for p in PARTS] == [5, 3, 2, 7, 1, 4, 0]


def test_a_part_s_samples_are_listed_by_the_frame_that_decided_them() -> None:
    faust = f"{ENTRY};process (streams/app.py:166);Stream._c_aiter (faust/streams.py:1171)"
    raw = "\n".join(
        [
            f"{faust};sleep (asyncio/tasks.py:600) 3",  # asyncio is of that part too
            f"{faust} 2",
            f"{ENTRY};Consumer._drain_messages (faust/transport/consumer.py:1201) 4",
            f"{PROCESS};RecordHandler._drain (streams/handler.py:301) 9",  # another part
        ]
    )
    assert innermost(raw, PARTS[3]) == {
        "sleep (asyncio/tasks.py)": 3,
        "Stream._c_aiter (faust/streams.py)": 2,
        "Consumer._drain_messages (faust/transport/consumer.py)": 4,
    }
