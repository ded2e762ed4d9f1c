"""Golden rule directories: ``check()`` output must equal each case's ``expected.txt`` exactly.

One broken directory per error class (tests/testdata/rules/<case>/), written by hand with the
position of the offending token, plus the valid base set and a case with errors in several files.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.rules.check import check

REPO = Path(__file__).resolve().parent.parent
CASES = Path("tests/testdata/rules")
TODAY = date(2026, 11, 27)  # chinese-calendar 1.11 knows 2026: 34 days of data left

ERROR_CASES = sorted(
    p.name for p in (REPO / CASES).iterdir()
    if p.is_dir() and p.name not in {"valid", "calendar_data_ends"}
)


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Error lines name files by the path given to check(): relative, as an operator types it.
    monkeypatch.chdir(REPO)


def expected(case: str) -> list[str]:
    return (CASES / case / "expected.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("case", ERROR_CASES)
def test_broken_directory_reports_exactly_its_errors(case: str) -> None:
    code, lines = check(CASES / case, today=TODAY)
    assert (code, lines) == (1, expected(case))


@pytest.mark.parametrize("case", ["valid", "calendar_data_ends"])
def test_valid_directory_prints_summary_and_warnings(case: str) -> None:
    code, lines = check(CASES / case, today=TODAY)
    assert (code, lines) == (0, expected(case))


def test_every_error_class_has_a_case() -> None:
    wanted = {
        "yaml_syntax", "duplicate_key", "unknown_key", "missing_key", "wrong_type",
        "bad_duration", "zero_limit", "fractional_duration", "bad_regex", "bad_warn_at",
        "unknown_department", "unknown_street", "unknown_category", "unknown_calendar",
        "duplicate_id", "duplicate_rule_id", "ladder_goes_down", "repeated_level",
        "unreachable_rule", "no_catch_all", "department_without_default_route", "empty_ladder",
        "duplicate_section", "many_errors", "bad_people", "bad_urging", "bad_parking",
        "bad_returns", "bad_extensions",
    }
    assert wanted <= set(ERROR_CASES)


def test_several_files_report_all_errors_sorted() -> None:
    code, lines = check(CASES / "many_errors", today=TODAY)
    files = {line.split(":", 1)[0] for line in lines}
    assert code == 1 and len(files) == 4 and len(lines) >= 10
    keys = [(f, int(line_no), int(col)) for f, line_no, col, _ in (x.split(":", 3) for x in lines)]
    assert keys == sorted(keys)


def test_shipped_sample_rules_pass_the_checker() -> None:
    sample = Path("engine/sample/xishan")
    if not sample.is_dir():
        pytest.skip("no shipped sample rules")
    code, lines = check(sample, today=TODAY)
    assert code == 0, "\n".join(lines)
