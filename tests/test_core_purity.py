"""The core reads no wall clock: every time it uses comes in as an argument (``now``, an event's
time, a deadline's due time), which is what makes replays with a virtual clock exact."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "engine" / "domain"
CLOCKS = {"now", "utcnow", "today"}  # datetime.now(), date.today(), ...
TIME_CLOCKS = {"time", "time_ns", "monotonic", "perf_counter"}  # time.time(), ...


def reads_clock(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    attr, owner = node.func.attr, node.func.value
    return attr in CLOCKS or (attr in TIME_CLOCKS and isinstance(owner, ast.Name)
                              and owner.id == "time")


def test_no_module_of_the_core_reads_a_clock() -> None:
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if reads_clock(node):
                found.append(f"{path.relative_to(CORE)}:{node.lineno}: .{node.func.attr}()")
    assert not found, found


def test_the_checker_sees_clock_reads_and_not_a_datetime_s_time_of_day() -> None:
    code = "a = datetime.now(UTC)\nb = date.today()\nc = time.monotonic()\nd = moment.time()\n"
    assert [reads_clock(n) for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)] == [
        True, True, True, False]
