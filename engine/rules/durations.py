"""Durations (``30m``, ``1h30m``, ``2 working hours``) and warning points (``80%``) as written.

Only whole numbers are accepted: ``1.5h`` is refused with the exact equivalent to write
(``90m``) rather than rounded, because a limit is a promise to residents and an operator should
see exactly what the engine will count. A compound wall duration (``1h30m``) becomes seconds;
a single-unit one keeps its unit so ``explain`` can print it back as written.
"""

from __future__ import annotations

import re
from fractions import Fraction

from engine.domain.calendar import Limit, Unit

_UNITS: dict[str, Unit] = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_SECONDS: dict[Unit, int] = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
_SMALLER: dict[Unit, tuple[Unit, str]] = {
    "days": ("hours", "h"),
    "hours": ("minutes", "m"),
    "minutes": ("seconds", "s"),
}
_WALL = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_WORKING = re.compile(r"(\d+)\s+working\s+(second|minute|hour|day)s?")
_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_FRACTION_WALL = re.compile(rf"({_NUMBER})\s*([dhms])")
_FRACTION_WORKING = re.compile(rf"({_NUMBER})\s+working\s+(second|minute|hour|day)s?")
# About ten years, like the calendar's day-loop bound: anything longer is a typo.
_MAX_SECONDS = 3660 * 86400
_FORMS = "write e.g. 30s, 30m, 4h, 7d, 1h30m, or N working seconds|minutes|hours|days"


class DurationError(ValueError):
    """A duration or warning point that cannot be used; the message says what to write."""


def parse_duration(text: str) -> Limit:
    """The ``Limit`` for ``text``; ``DurationError`` (a ``ValueError``) says what is wrong."""
    written = text.strip()
    bad = f'bad duration "{written}"'
    wall = _WALL.fullmatch(written)
    if written and wall:
        parts = [(int(n), unit) for n, unit in zip(wall.groups(), _UNITS.values(), strict=True)
                 if n is not None]
        total = sum(n * _SECONDS[unit] for n, unit in parts)
        if total == 0:
            raise DurationError(f"{bad}: a limit must be longer than zero")
        if total > _MAX_SECONDS:
            raise DurationError(f"{bad}: longer than ten years")
        if len(parts) == 1:
            amount, unit = parts[0]
            return Limit(amount=amount, unit=unit, text=written)
        return Limit(amount=total, unit="seconds", text=written)
    working = _WORKING.fullmatch(written)
    if working:
        amount, unit = int(working.group(1)), _plural(working.group(2))
        if amount == 0:
            raise DurationError(f"{bad}: a limit must be longer than zero")
        if amount * _SECONDS[unit] > _MAX_SECONDS:
            raise DurationError(f"{bad}: longer than ten years")
        return Limit(amount=amount, unit=unit, working=True, text=written)
    raise DurationError(f"{bad}: {_diagnose(written)}")


def _plural(unit: str) -> Unit:
    return {"second": "seconds", "minute": "minutes", "hour": "hours", "day": "days"}[unit]  # type: ignore[return-value]  # the dict's values are exactly Unit's members


def _diagnose(written: str) -> str:
    """Why ``written`` is not a duration, with the fix when there is an obvious one."""
    if written.startswith("-"):
        return "a limit cannot be negative"
    wall = _FRACTION_WALL.fullmatch(written)
    working = _FRACTION_WORKING.fullmatch(written)
    if wall or working:
        number = (wall or working).group(1)  # type: ignore[union-attr]  # one of them matched
        if number.startswith("-"):
            return "a limit cannot be negative"
        unit = _UNITS[wall.group(2)] if wall else _plural(working.group(2))  # type: ignore[union-attr]  # working matched when wall did not
        return "fractions are not allowed" + _whole_hint(
            Fraction(number.replace(",", ".")), unit, working=wall is None
        )
    if re.fullmatch(r"\d+\s*(seconds?|minutes?|hours?|days?)", written):
        count, word = re.split(r"\s*(?=[a-z])", written, maxsplit=1)
        return f'write {count}{word[0]} for wall time or "{count} working {word}" for working time'
    if re.fullmatch(r"\d+", written):
        return f"a number needs a unit, e.g. {written}m"
    return _FORMS


def _whole_hint(amount: Fraction, unit: Unit, *, working: bool) -> str:
    if working and unit == "days":
        # A working day has no fixed length in hours: the calendar's hours decide it.
        return "; write it in working hours"
    if unit not in _SMALLER:
        return "; write a whole number"
    smaller, symbol = _SMALLER[unit]
    converted = amount * _SECONDS[unit] / _SECONDS[smaller]
    if converted.denominator != 1:
        return "; write a whole number"
    if working:
        return f"; write {converted} working {smaller}"
    return f"; write {converted}{symbol}"


def parse_warn_at(value: object) -> float | None:
    """``80%`` or a fraction in (0, 1) -> the fraction; ``off`` (YAML reads it as false) -> None."""
    if value is False or value == "off":
        return None
    if isinstance(value, float) and 0.0 < value < 1.0:
        return value
    if isinstance(value, str):
        percent = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", value.strip())
        if percent:
            fraction = float(percent.group(1)) / 100
            if 0.0 < fraction < 1.0:
                return fraction
            raise DurationError(f'bad warn_at "{value}": a percentage between 0% and 100% '
                                "(exclusive), e.g. 80%")
    shown = f'"{value}"' if isinstance(value, str) else str(value).lower()
    raise DurationError(f"bad warn_at {shown}: write a percentage like 80%, a fraction like 0.8, "
                        "or off")
