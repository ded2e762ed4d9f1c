"""Which core runs: the one compiled with mypyc, or the Python sources of ``engine.domain``.

``scripts/build_native.py`` (``make native``; ``make setup`` runs it) compiles the core's hot
modules (``NATIVE_MODULES``) in place, as extension modules beside their sources, and writes
``engine/domain/_native.json``: the digest of every source file of ``engine.domain`` it was
built from. Python would import an extension module in preference to its source, so a build
that no longer matches the sources (a module edited since, or a named tuple of ``state.py``
whose field order the compiled code relies on) must never run: before the first import of
``engine.domain``, ``choose()`` checks the digest and, unless it matches exactly, puts a finder
first on ``sys.meta_path`` that loads every one of those modules from its ``.py``.
``WHISTLE_PURE=1`` asks for the sources on purpose (the tests run the golden replays so too).

Both cores decide identically: the compiled one is the same source, type-checked strictly
(``mypy --strict``), compiled. ``NATIVE`` says which one this process runs, ``REASON`` why not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

DOMAIN = Path(__file__).resolve().parent / "domain"
MANIFEST = DOMAIN / "_native.json"
PACKAGE = "engine.domain"
# The modules a decision runs through (engine.domain.<name>); the others (the pydantic models,
# parsing, the rules' loading) stay Python: they gain nothing or are not compilable.
NATIVE_MODULES = (
    "decide", "lifecycle", "draft", "deadlines", "overdue", "replay", "fast", "decision",
    "workflow_hooks", "urging", "claims", "points", "parking", "returns", "extensions",
    "calendar.index", "calendar.zone",
)
FORMAT = 1

NATIVE = False
REASON = "not checked yet"


def digest(root: Path = DOMAIN) -> str:
    """sha256 over the path and bytes of every ``.py`` under ``root``, in sorted order."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def module_file(name: str, suffix: str = ".py", root: Path = DOMAIN) -> Path:
    """The file of ``engine.domain.<name>`` under ``root``: its source, or with ``suffix``
    (``EXTENSION_SUFFIXES[0]``) its compiled module."""
    return root / (name.replace(".", "/") + suffix)


def manifest_of(root: Path = DOMAIN) -> dict[str, object]:
    """What a build of ``root``'s sources records (``_native.json``), for this Python."""
    return {"format": FORMAT, "cache_tag": sys.implementation.cache_tag,
            "modules": list(NATIVE_MODULES), "digest": digest(root)}


def built(root: Path = DOMAIN) -> list[Path]:
    """The extension modules of a build under ``root`` (stale ones included)."""
    return sorted({p for suffix in EXTENSION_SUFFIXES for p in root.rglob(f"*{suffix}")})


def verdict(root: Path = DOMAIN, environ: dict[str, str] | None = None) -> str:
    """'' when the compiled core may run, else why not (for ``REASON``)."""
    env = os.environ if environ is None else environ
    if env.get("WHISTLE_PURE", "") not in ("", "0"):
        return "WHISTLE_PURE is set"
    manifest_path = root / MANIFEST.name
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "not built (make native)"
    except (OSError, ValueError) as e:
        return f"{manifest_path.name} unreadable ({e}): rebuild with make native"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"{manifest_path.name} has an unknown format: rebuild with make native"
    if manifest.get("cache_tag") != sys.implementation.cache_tag:
        return f"built for {manifest.get('cache_tag')}, this is {sys.implementation.cache_tag}"
    if manifest.get("modules") != list(NATIVE_MODULES):
        return "built for another list of modules: rebuild with make native"
    if manifest.get("digest") != digest(root):
        return "stale: engine/domain changed since it was built (make native rebuilds it)"
    suffix = EXTENSION_SUFFIXES[0]
    missing = [m for m in NATIVE_MODULES if not module_file(m, suffix, root).exists()]
    if missing:
        return f"incomplete build, missing {', '.join(missing)}: rebuild with make native"
    return ""


class _Sources:
    """A meta path finder that loads the compiled modules from their ``.py`` sources."""

    def __init__(self, root: Path, names: Sequence[str]) -> None:
        self.files = {f"{PACKAGE}.{n}": module_file(n, root=root) for n in names}

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


def choose() -> None:
    """Decide, once per process and before ``engine.domain`` is imported, which core runs."""
    global NATIVE, REASON
    if any(isinstance(f, _Sources) for f in sys.meta_path):
        return
    reason = verdict()
    NATIVE, REASON = not reason, reason
    if reason:
        sys.meta_path.insert(0, _Sources(DOMAIN, NATIVE_MODULES))
        if reason.startswith("stale") and built():
            warnings.warn(f"compiled core not used, {reason}", RuntimeWarning, stacklevel=2)


def describe() -> str:
    """One line for logs, benchmarks and the tests' header."""
    return "compiled (mypyc)" if NATIVE else f"Python sources ({REASON})"
