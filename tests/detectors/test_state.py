"""The state format (detectors/state.py): data, versioned, and a restore that resumes exactly.

The committed fixture tests/golden/checkpoint-v4.state is a snapshot this format version wrote
mid-incident; rewrite it (only with a format version bump) with

    python -m tests.detectors.test_state
"""

from __future__ import annotations

import math
import os
import pickle
import zlib
from array import array
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restrictwatch.detectors import state
from restrictwatch.detectors.config import load_config
from restrictwatch.detectors.incidents import IncidentBook
from restrictwatch.detectors.monitor import CountryMonitor
from restrictwatch.detectors.pipeline import Pipeline
from restrictwatch.detectors.probes import ProbeBaseline
from restrictwatch.detectors.records import SeriesKey
from restrictwatch.detectors.seasonal import SeasonalBaseline
from restrictwatch.detectors.state import FORMAT_VERSION, StateError, decode, encode
from tests.conftest import START, diurnal, reach, traffic

FIXTURE = Path(__file__).resolve().parent.parent / "golden" / f"checkpoint-v{FORMAT_VERSION}.state"
# The shape this format version stores; it changes with any class's stored fields. When it does,
# bump FORMAT_VERSION (with a migration, or a reasoned refusal of the old version), rewrite the
# fixture, and record the new fingerprint here.
FINGERPRINTS = {
    1: "e3271327307957ab",
    2: "d99238d019b98f46",
    3: "c3a142c2836de135",
    4: "e2b9c7597b24dfec",
}
DAY = 86400


def incident_lines() -> list[bytes]:
    """Nine days of a country (total, two networks, x's traffic and probes); x blocked for 6 h
    on day 8 and AS 2 dark for 4 h on day 8.5."""
    block = (START + 8 * DAY, START + 8.25 * DAY)
    dark = (START + 8.5 * DAY, START + 8.67 * DAY)
    out: list[bytes] = []
    t = START
    while t < START + 9 * DAY:
        blocked = block[0] <= t < block[1]
        off = dark[0] <= t < dark[1]
        out.append(traffic(t, diurnal(t, 100_000) * (0.75 if off else 1)))
        out.append(traffic(t, diurnal(t, 60_000), asn=1))
        out.append(traffic(t, diurnal(t, 40_000) * (0.0 if off else 1), asn=2))
        out.append(traffic(t, diurnal(t, 5_000) * (0.1 if blocked else 1.0), platform="x"))
        out.append(reach(t, 40, 2 if blocked else 39, latency_ms=90.0))
        t += 300
    return out


LINES = incident_lines()
CUT = len(LINES) * 8 // 9 + 24 * 5  # two hours into the block
CONFIG = load_config()


def run(lines: list[bytes], pipeline: Pipeline | None = None) -> tuple[Pipeline, list[bytes]]:
    p = pipeline or Pipeline(CONFIG)
    return p, [orjson.dumps(e) for o in p.process_batch(lines) for e in o.events]


@pytest.fixture(scope="module")
def uninterrupted() -> list[bytes]:
    return run(LINES)[1]


@pytest.fixture(scope="module")
def mid_incident() -> tuple[Pipeline, list[bytes]]:
    return run(LINES[:CUT])


def test_the_cut_is_inside_an_open_incident(mid_incident: tuple[Pipeline, list[bytes]]) -> None:
    assert mid_incident[0].totals().open_incidents == 1


def test_a_restored_country_emits_exactly_what_an_uninterrupted_run_emits(
    mid_incident: tuple[Pipeline, list[bytes]], uninterrupted: list[bytes]
) -> None:
    first, before = mid_incident
    resumed = Pipeline(CONFIG)
    resumed.restore("PK", first.snapshot("PK") or b"")
    after = run(LINES[CUT:], resumed)[1]
    assert before + after == uninterrupted
    assert len(uninterrupted) >= 4  # both incidents opened and resolved


def test_the_committed_checkpoint_of_this_version_resumes_exactly(
    uninterrupted: list[bytes], mid_incident: tuple[Pipeline, list[bytes]]
) -> None:
    resumed = Pipeline(CONFIG)
    resumed.restore("PK", FIXTURE.read_bytes())
    after = run(LINES[CUT:], resumed)[1]
    assert mid_incident[1] + after == uninterrupted


@pytest.mark.parametrize(
    "version",
    [
        1,  # no usual probe count: its probe series start learning one on restore
        2,  # no run below the normal band: a restored series starts outside one, which changes
        # nothing here (the block is open at the cut)
        3,  # no count of the bins the start-up guard kept out: none here (every series is warm)
    ],
)
def test_a_checkpoint_of_an_older_format_is_migrated_and_resumes_exactly(
    version: int, uninterrupted: list[bytes], mid_incident: tuple[Pipeline, list[bytes]]
) -> None:
    old = FIXTURE.with_name(f"checkpoint-v{version}.state").read_bytes()
    assert old[3] == version and version in state.MIGRATIONS
    resumed = Pipeline(CONFIG)
    resumed.restore("PK", old)
    after = run(LINES[CUT:], resumed)[1]
    assert mid_incident[1] + after == uninterrupted


def test_the_same_state_encodes_to_the_same_bytes(
    mid_incident: tuple[Pipeline, list[bytes]],
) -> None:
    data = mid_incident[0].snapshot("PK") or b""
    again = Pipeline(CONFIG)
    again.restore("PK", data)
    assert again.snapshot("PK") == data


def test_the_stored_shape_is_the_one_of_this_format_version() -> None:
    assert state.shape_fingerprint() == FINGERPRINTS[FORMAT_VERSION], (
        "the state's shape changed: bump FORMAT_VERSION, add a migration of the old trees to "
        "state.MIGRATIONS (or refuse the old version on purpose), rewrite the fixture"
    )


def test_plain_classes_hold_exactly_the_fields_the_format_stores(
    mid_incident: tuple[Pipeline, list[bytes]],
) -> None:
    seasonal, probes = SeasonalBaseline(), ProbeBaseline()
    for i in range(400):
        seasonal.observe(START + i * 300, 1000.0)
        probes.assess(START + i * 300, 40, 39, 80.0)
    shapes = state.shapes()
    for obj in (seasonal, probes, CountryMonitor("PK", CONFIG), IncidentBook("PK")):
        shape = shapes[type(obj).__name__]
        assert set(vars(obj)) == set(shape.fields) | set(shape.transient), type(obj).__name__


def test_values_of_every_kind_round_trip() -> None:
    key = SeriesKey("traffic", "cdn", "PK", 17557, None, "PK-BA")
    value = {
        "floats": [0.1, -0.0, 1e300, math.inf, -math.inf],
        (1.5, None): {key: (key, True, 3)},
        "array": array("d", [1.0, 2.5, -3.25]),
        "set": {1, 2},
    }
    out = decode(encode(value))
    assert out["floats"] == [0.1, -0.0, 1e300, math.inf, -math.inf]
    assert out[(1.5, None)] == {key: (key, True, 3)}
    assert type(next(iter(out[(1.5, None)]))) is SeriesKey
    assert out["array"] == array("d", [1.0, 2.5, -3.25])
    assert out["set"] == {1, 2}
    assert math.isnan(decode(encode(math.nan)))


def test_shared_objects_stay_shared() -> None:
    book = IncidentBook("PK")
    restored = decode(encode([book, book]))
    assert restored[0] is restored[1]


def test_what_cannot_be_data_is_refused_when_written() -> None:
    with pytest.raises(StateError, match="cannot be part of a checkpoint"):
        encode({"config": CONFIG})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a restrictwatch state"),
        (b"\x80\x04\x95 a pickle", "not a restrictwatch state"),
        (b"RWS\x09" + zlib.compress(b"[]"), "state format 9"),
        (b"RWS\x01not zlib", "unreadable state"),
        (b"RWS\x01" + zlib.compress(b"{not json"), "unreadable state"),
        (b"RWS\x01" + zlib.compress(b'["O", "Popen", "rm -rf /"]'), "unknown class"),
        (b"RWS\x01" + zlib.compress(b'["X"]'), "unknown tag"),
        (b"RWS\x01" + zlib.compress(b'["O", "EWStat", 1.0]'), "of 1 fields"),
        (b"RWS\x01" + zlib.compress(b'["R", 0]'), "not one read before"),
        (b"RWS\x01" + zlib.compress(b'["D", ["L"], 1]'), "cannot be one"),
    ],
)
def test_bytes_that_are_not_a_checkpoint_give_a_clear_state_error(data: bytes, reason: str) -> None:
    with pytest.raises(StateError, match=reason):
        decode(data)


def test_a_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    hostile = pickle.dumps(Payload())
    for data in (hostile, b"RWS\x01" + zlib.compress(hostile), b"rw-state-1:" + hostile):
        with pytest.raises(StateError):
            Pipeline(CONFIG).restore("PK", data)
    assert not marker.exists()


def test_a_checkpoint_of_another_country_or_shape_is_refused(
    mid_incident: tuple[Pipeline, list[bytes]],
) -> None:
    data = mid_incident[0].snapshot("PK") or b""
    with pytest.raises(StateError, match="not of 'IR'"):
        Pipeline(CONFIG).restore("IR", data)
    with pytest.raises(StateError, match="not of a country"):
        Pipeline(CONFIG).restore("PK", encode(IncidentBook("PK")))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_garbage_is_a_state_error(data: bytes) -> None:
    with pytest.raises(StateError):
        Pipeline(CONFIG).restore("PK", data)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0), flip=st.integers(min_value=0), bit=st.integers(0, 7))
def test_a_damaged_checkpoint_is_a_state_error(cut: int, flip: int, bit: int) -> None:
    data = bytearray(FIXTURE.read_bytes())
    truncated = bytes(data[: cut % len(data)])
    with pytest.raises(StateError):
        Pipeline(CONFIG).restore("PK", truncated)
    original = bytes(data)
    data[flip % len(data)] ^= 1 << bit
    pipeline = Pipeline(CONFIG)
    try:
        pipeline.restore("PK", bytes(data))
    except StateError:
        return
    # Only a flip the content never sees (deflate's padding bits) may pass: the same state.
    assert pipeline.snapshot("PK") == original


json_trees = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(st.sampled_from(["L", "T", "S", "D", "F", "A", "O", "R", "?"]), inner).map(list)
        | st.tuples(st.just("O"), st.sampled_from(sorted(state.shapes())), inner).map(list)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_trees)
def test_a_hostile_tree_is_a_state_error_or_a_country_of_the_right_shape(tree: object) -> None:
    data = b"RWS" + bytes([FORMAT_VERSION]) + zlib.compress(orjson.dumps(tree))
    pipeline = Pipeline(CONFIG)
    try:
        pipeline.restore("PK", data)
    except StateError:
        return
    assert pipeline.countries() == ["PK"]


def write_fixture() -> None:
    pipeline, _ = run(LINES[:CUT])
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_bytes(pipeline.snapshot("PK") or b"")
    print(f"wrote {FIXTURE.name} ({FIXTURE.stat().st_size} bytes), {state.shape_fingerprint()}")


if __name__ == "__main__":
    write_fixture()
