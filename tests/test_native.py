"""The compiled core (mypyc) and the Python sources decide alike, and a stale build never runs.

The suite runs whichever core this checkout has (its header says which; ``make test`` builds
the compiled one). Here the other path is run too: the differential golden, the golden replays
and the property tests, in a process that loads the sources (``WHISTLE_PURE=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import native

ROOT = Path(__file__).resolve().parent.parent
GOLDENS = ["tests/test_core_golden.py", "tests/test_replay_golden.py",
           "tests/test_properties.py", "tests/test_decide.py"]


def _which(env: dict[str, str]) -> dict[str, str]:
    """Where a fresh process loads the compiled modules from, and what it says of its core."""
    code = ("import json, importlib; from engine import native; print(json.dumps("
            "{m: importlib.import_module('engine.domain.' + m).__file__ for m in "
            "native.NATIVE_MODULES} | {'': native.describe()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    found: dict[str, str] = json.loads(out)
    return found


def test_the_sources_run_the_goldens_and_properties_alike() -> None:
    env = {**os.environ, "WHISTLE_PURE": "1"}
    files = _which(env)
    assert files.pop("") == "Python sources (WHISTLE_PURE is set)"
    assert all(f.endswith(".py") for f in files.values()), files
    run = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-p",
                          "no:cacheprovider", *GOLDENS],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "whistle core: Python sources (WHISTLE_PURE is set)" in run.stdout


def test_a_built_core_is_the_one_that_runs() -> None:
    if not native.MANIFEST.exists():
        if os.environ.get("CI"):
            pytest.fail("CI runs the compiled core: make native did not build it")
        pytest.skip("the compiled core is not built here (make native)")
    env = {k: v for k, v in os.environ.items() if k != "WHISTLE_PURE"}
    files = _which(env)
    assert files.pop("") == "compiled (mypyc)"
    assert not [f for f in files.values() if f.endswith(".py")], files


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A copy of engine/domain's sources with a manifest that matches them."""
    root = tmp_path / "domain"
    shutil.copytree(native.DOMAIN, root, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    for m in native.NATIVE_MODULES:  # stand-ins for the extension modules
        native.module_file(m, native.EXTENSION_SUFFIXES[0], root).write_bytes(b"")
    (root / native.MANIFEST.name).write_text(json.dumps(native.manifest_of(root)))
    return root


def test_a_matching_build_may_run(tree: Path) -> None:
    assert native.verdict(tree, {}) == ""
    assert native.verdict(tree, {"WHISTLE_PURE": "0"}) == ""


def test_the_sources_run_when_asked(tree: Path) -> None:
    assert native.verdict(tree, {"WHISTLE_PURE": "1"}) == "WHISTLE_PURE is set"


def test_an_edit_to_any_source_of_the_core_makes_the_build_stale(tree: Path) -> None:
    # state.py is not compiled, but the compiled code relies on its named tuples' layout
    state = tree / "state.py"
    state.write_text(state.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert native.verdict(tree, {}).startswith("stale:")


def test_a_new_source_file_makes_the_build_stale(tree: Path) -> None:
    (tree / "calendar" / "extra.py").write_text("X = 1\n", encoding="utf-8")
    assert native.verdict(tree, {}).startswith("stale:")


def test_a_missing_or_foreign_build_is_not_run(tree: Path) -> None:
    native.module_file("decide", native.EXTENSION_SUFFIXES[0], tree).unlink()
    assert native.verdict(tree, {}).startswith("incomplete build, missing decide")
    manifest = tree / native.MANIFEST.name
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"cache_tag": "cpython-399"}))
    assert native.verdict(tree, {}).startswith("built for cpython-399")
    manifest.write_text("{")
    assert "unreadable" in native.verdict(tree, {})
    manifest.unlink()
    assert native.verdict(tree, {}) == "not built (make native)"


def test_the_finder_loads_the_sources_of_exactly_the_compiled_modules() -> None:
    finder = native._Sources(native.DOMAIN, native.NATIVE_MODULES)
    spec = finder.find_spec("engine.domain.calendar.index")
    assert spec is not None and spec.origin == str(native.DOMAIN / "calendar" / "index.py")
    assert finder.find_spec("engine.domain.state") is None
    assert finder.find_spec("json") is None


def test_a_build_lists_each_extension_module_once(tree: Path) -> None:
    # EXTENSION_SUFFIXES overlap (".cpython-311-...so", ".so"): a rebuild deletes each once
    found = native.built(tree)
    assert len(found) == len(set(found)) == len(native.NATIVE_MODULES)
