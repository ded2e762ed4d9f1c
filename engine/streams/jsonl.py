"""The one JSONL reader: one record per line, blank lines skipped, each named ``FILE:LINE``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


def lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, stripped bytes) of every non-blank line. The file is opened here, so an
    OSError comes from this call, not from the first line."""
    return _lines(Path(path).open("rb"))  # closed by _lines


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    with f:
        for n, line in enumerate(f, 1):
            raw = line.strip()
            if raw:
                yield n, raw


def documents(path: Path) -> list[dict[str, Any]]:
    """Every line as JSON; ValueError naming ``FILE:LINE`` at the first that is not."""
    out = []
    for n, raw in lines(path):
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from None
    return out
