"""The edges use the core through its interface only (detectors/pipeline.py and its views).

Outside detectors/, code may import the core's public modules and nothing below them, and may not
reach for the monitors, clocks, books or verdicts a pipeline keeps: those can change shape with
any release (their state format is versioned, their attributes are not).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The core's public face: the interface, its views and outcome, records and config in, events and
# their evaluation out, the state format's error, the vocabulary, schemas and the scenario library.
PUBLIC = {
    "config",
    "events",
    "evaluation",
    "exceptions",
    "pipeline",
    "records",
    "schemas",
    "state",
    "view",
    "vocabulary",
    "simulation",
}
INTERNAL_ATTRIBUTES = {
    "monitors",
    "_monitors",
    "frontier",
    "_frontier",
    "book",
    "last_verdicts",
    "last_bin",
    "open_bins",
}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def edge_files() -> list[Path]:
    return [
        p
        for top in ("streams", "bench", "deploy")
        for p in (ROOT / top).rglob("*.py")
        if "__pycache__" not in p.parts
    ]


def test_the_edges_import_only_the_core_s_public_modules() -> None:
    found = []
    for path in edge_files():
        for lineno, name in imports(path):
            parts = name.split(".")
            internal = parts[:2] == ["restrictwatch", "detectors"] and len(parts) > 2
            if internal and parts[2] not in PUBLIC:
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {name}")
    assert not found, "the edges import core internals:\n" + "\n".join(found)


def test_the_edges_read_no_core_internals() -> None:
    found = []
    for path in edge_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in INTERNAL_ATTRIBUTES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert not found, "the edges reach inside the core:\n" + "\n".join(found)


def test_only_the_worker_s_wiring_and_its_faust_fixes_import_faust() -> None:
    importers = set()
    for path in (ROOT / "streams").rglob("*.py"):
        if any(name.split(".")[0] == "faust" for _, name in imports(path)):
            importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"streams/app.py", "streams/faust_fixes.py"}
