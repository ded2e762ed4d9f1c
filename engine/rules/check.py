"""``whistle rules check DIR``: the daemon's own loader, run for its verdict and its errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from engine.rules.loader import load_ruleset


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def check(directory: Path, *, today: date | None = None) -> tuple[int, list[str]]:
    """(0, summary and ``warning:`` lines) when the rules load; (1, one line per error)."""
    result = load_ruleset(directory, today=today)
    if result.ruleset is None:
        return 1, [str(error) for error in result.errors]
    rs = result.ruleset
    reg = rs.registry
    summary = ", ".join((
        _count(len(result.files), "file"),
        _count(len(reg.streets), "street"),
        _count(len(reg.villages), "village"),
        _count(len(reg.grids), "grid"),
        _count(len(reg.departments), "department"),
        _count(len(rs.categories), "category", "categories"),
        _count(len(rs.routes), "route"),
        _count(len(rs.calendars), "calendar"),
        _count(len(rs.rules), "rule"),
    ))
    return 0, [f"ok: {summary}; version {rs.version}",
               *(f"warning: {w}" for w in result.warnings)]
