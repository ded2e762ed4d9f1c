"""Strict reading of positioned YAML values: the first loading stage's vocabulary.

Each reader checks one value's type and form, reports a positioned error if it is wrong and
returns None, so the section parsers go on reading the rest of the file. A bad id is reported
but still returned: registering it keeps one typo from cascading into "unknown" errors wherever
it is used.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime

from engine.domain.calendar import Limit
from engine.rules.durations import parse_duration
from engine.rules.errors import Mark, Problems
from engine.rules.yamlpos import Key, Map, Scalar, Seq, YNode, describe

ID_PATTERN = re.compile(r"[a-z0-9_-]+")


class Reader:
    """Typed accessors over ``YNode`` values that report into ``problems``."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems

    def error(self, mark: Mark, message: str) -> None:
        self.problems.error(mark, message)

    def wrong(self, node: YNode, label: str, what: str) -> None:
        self.error(node.mark, f"{label} must be {what}, got {describe(node)}")

    def fields(
        self,
        node: YNode,
        label: str,
        allowed: Sequence[str],
        required: Collection[str] = (),
        refused: Mapping[str, str] | None = None,
    ) -> dict[str, YNode] | None:
        """The entries of mapping ``node`` by key; unknown keys and missing ones are reported.

        ``refused`` maps keys that are known but do not apply here to the reason why.
        """
        if not isinstance(node, Map):
            self.wrong(node, label, "a mapping")
            return None
        out: dict[str, YNode] = {}
        for key, value in node.entries:
            if refused and key.name in refused:
                self.error(key.mark, f'"{key.name}" {refused[key.name]}')
            elif key.name not in allowed:
                self.error(key.mark, unknown_key(key, allowed))
            else:
                out[key.name] = value
        for name in required:
            if node.get(name) is None and name not in out:
                self.error(node.mark, f'missing key "{name}" in {label}')
        return out

    def items(self, node: YNode, label: str, what: str = "a list") -> tuple[YNode, ...] | None:
        if not isinstance(node, Seq):
            self.wrong(node, label, what)
            return None
        return node.items

    def text(self, node: YNode, label: str, what: str = "text", *, empty: bool = False) -> (
        str | None
    ):
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            self.wrong(node, label, what)
            return None
        if not empty and not node.value.strip():
            self.error(node.mark, f"{label} must not be empty")
            return None
        return node.value

    def ident(self, node: YNode, label: str, what: str = "an id") -> str | None:
        value = self.text(node, label, what)
        if value is not None and not ID_PATTERN.fullmatch(value):
            self.error(
                node.mark,
                f'bad id "{value}": ids use lowercase letters, digits, "_" and "-" only',
            )
        return value

    def choice(self, node: YNode, label: str, choices: Sequence[str]) -> str | None:
        options = ", ".join(choices)
        value = self.text(node, label, f"one of {options}")
        if value is not None and value not in choices:
            self.error(node.mark, f'bad {label.strip(chr(34))} "{value}" (expected one of: '
                                  f"{options})")
            return None
        return value

    def boolean(self, node: YNode, label: str) -> bool | None:
        if not isinstance(node, Scalar) or not isinstance(node.value, bool):
            self.wrong(node, label, "true or false")
            return None
        return node.value

    def count(self, node: YNode, label: str) -> int | None:
        """A whole number >= 0 (a YAML boolean is not a number here)."""
        value = node.value if isinstance(node, Scalar) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.wrong(node, label, "a whole number, 0 or more")
            return None
        return value

    def duration(self, node: YNode, label: str) -> Limit | None:
        if isinstance(node, Scalar) and isinstance(node.value, int | float) and not isinstance(
            node.value, bool
        ):
            # An unquoted number: parse_duration explains "needs a unit" or "no fractions".
            text = str(node.value)
        elif isinstance(node, Scalar) and isinstance(node.value, str):
            text = node.value
        else:
            self.wrong(node, label, "a duration such as 30m or 2 working hours")
            return None
        try:
            return parse_duration(text)
        except ValueError as exc:
            self.error(node.mark, str(exc))
            return None

    def day(self, node: YNode, label: str) -> date | None:
        """A date, unquoted (YAML makes it a ``date``) or quoted (ISO text)."""
        value = node.value if isinstance(node, Scalar) else None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.wrong(node, label, "a date such as 2027-01-01")
        return None


def unknown_key(key: Key, allowed: Sequence[str]) -> str:
    return f'unknown key "{key.name}" (expected one of: {", ".join(allowed)})'
