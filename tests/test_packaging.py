"""Installed, the project is one namespace, restrictwatch.*, and nothing imports the bare folders.

The folders stay at the top of the repository (detectors/, streams/, schemas/); pyproject.toml maps
them under restrictwatch. From the repository root `import detectors` would still work by accident,
so a bare import is caught here, not by a user of the wheel.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("detectors", "streams", "schemas")


def python_files() -> list[Path]:
    out: list[Path] = []
    for top in (*FOLDERS, "tests", "bench", "deploy"):
        out += [p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts]
    return out


def test_no_module_imports_a_bare_folder() -> None:
    bare: list[str] = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in FOLDERS:
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not bare, "import through restrictwatch.*:\n" + "\n".join(bare)


def test_wheel_installs_only_the_restrictwatch_namespace(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ and *.egg-info in the tree it builds.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("restrictwatch-*.whl")
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"restrictwatch"}

    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    py = env / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    added = {p.name for p in site.iterdir()} - {"pip", "setuptools", "_distutils_hack"}
    added = {
        n
        for n in added
        if not n.endswith((".dist-info", ".pth")) and n not in ("__pycache__", "pkg_resources")
    }
    assert added == {"restrictwatch"}

    # The installed copy works on its own (dependencies borrowed from this environment, without
    # its editable hook): the packaged config and schemas are found, and it is not this checkout.
    probe = (
        "import restrictwatch.detectors.config as c, restrictwatch.detectors.schemas as s;"
        "print(c.__file__); print(c.load_config().bin_seconds); s.validator('event.v1')"
    )
    out = subprocess.run(
        [str(py), "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]},
    ).stdout.splitlines()
    assert Path(out[0]).is_relative_to(site)
    assert int(out[1]) > 0
