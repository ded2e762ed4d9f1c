"""Rule-file errors with positions, and the collector every loading stage writes into.

Stages never raise on bad input: they report into ``Problems`` and carry on with what they could
read, so one ``rules check`` run shows every error at once (alertmanager stops at the first).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Mark:
    """A position in a rule file: 1-based line and column; line 0 means the file as a whole."""

    file: str
    line: int = 0
    col: int = 0

    def short(self, here: str | None = None) -> str:
        """``line 12`` inside ``here``'s file, else ``org.yaml:12`` (the file's base name)."""
        if here is not None and here == self.file:
            return f"line {self.line}"
        return f"{self.file.rsplit('/', 1)[-1]}:{self.line}"


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in a rules directory; ``str()`` is ``FILE:LINE:COL: message``."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


@dataclass
class Problems:
    """What the stages found: errors (the rule set is refused) and warnings (it is not)."""

    errors: list[RuleError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, mark: Mark, message: str) -> None:
        self.errors.append(RuleError(mark.file, mark.line, mark.col, message))

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def known_list(names: Iterable[str], limit: int = 8) -> str:
    """``a, b, c`` sorted, cut after ``limit`` names (``... and 5 more``); ``none`` if empty."""
    ordered = sorted(set(names))
    if not ordered:
        return "none"
    shown = ", ".join(ordered[:limit])
    if len(ordered) > limit:
        shown += f", ... and {len(ordered) - limit} more"
    return shown


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``unknown department "traffic_polic" (did you mean "traffic_police"? known: ...)``."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.85)
    hint = f'did you mean "{close[0]}"? ' if close else ""
    return f'unknown {what} "{name}" ({hint}known: {known_list(names)})'
