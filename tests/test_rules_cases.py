"""``whistle rules test``: shipped cases pass; a wrong expectation fails with a readable diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "engine" / "sample" / "xishan"
CASES = ROOT / "engine" / "sample" / "cases" / "xishan.yaml"


def test_the_shipped_cases_pass_on_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", str(SAMPLE), str(CASES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "19 passed, 0 failed"


def test_a_mismatch_exits_1_and_says_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: wrong on purpose\n"
        "    events:\n"
        "      - {at: 2026-11-23T09:00:00+08:00, type: raised,\n"
        "         data: {grid: anzhen-jinan-g1, category: illegal_parking, title: t}}\n"
        "    expect:\n"
        "      rule: default\n"
        "      resolve_by: 2026-11-23T14:00:00+08:00\n"
        "      ladder: [grid, street]\n",
        encoding="utf-8",
    )
    assert main(["rules", "test", str(SAMPLE), str(cases)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL wrong on purpose",
        "       rule: expected 'default', got 'parking-and-garbage'",
        "       resolve_by: expected 2026-11-23T14:00:00+08:00, got 2026-11-23T14:30:00+08:00",
        "       ladder: expected ['grid', 'street'], got ['grid', 'village', 'street', "
        "'department']",
        "0 passed, 1 failed",
    ]


def test_a_malformed_case_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: no events\n    expect: {rule: x}\n", encoding="utf-8")
    assert main(["rules", "test", str(SAMPLE), str(cases)]) == 1
    assert "bad case: a case needs at least one event" in capsys.readouterr().out


def test_claims_and_points_mismatches_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: wrong on purpose\n"
        "    events:\n"
        "      - {at: 2026-11-23T09:00:00+08:00, type: raised,\n"
        "         data: {grid: anzhen-jinan-g1, category: illegal_parking, title: t,\n"
        "                reporter: {kind: rider, id: rd-1}}}\n"
        "      - {at: 2026-11-23T09:01:00+08:00, type: claimed,\n"
        "         data: {claimant: {kind: volunteer, id: v-1}}}\n"
        "      - {at: 2026-11-23T09:05:00+08:00, type: resolved, data: {unit: anzhen-jinan-g1}}\n"
        "    expect:\n"
        "      claims: [expired]\n"
        "      points: {rider:rd-1: 4}\n",
        encoding="utf-8",
    )
    assert main(["rules", "test", str(SAMPLE), str(cases)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL wrong on purpose",
        "       claims: expected ['expired'], got ['held']",
        "       points: expected {rider:rd-1: 4}, got {rider:rd-1: 5, volunteer:v-1: 3}",
        "0 passed, 1 failed",
    ]


def test_return_and_extension_expectations_say_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: a return the case gets wrong\n"
        "    events:\n"
        "      - {at: 2026-11-23T09:00:00+08:00, type: raised,\n"
        "         data: {grid: anzhen-jinan-g1, category: old_compound_renovation, title: t}}\n"
        "      - {at: 2026-11-23T09:30:00+08:00, type: return_requested,\n"
        "         data: {unit: anzhen-jinan-g1, reason_code: wrong_place}}\n"
        "      - {at: 2026-11-23T09:40:00+08:00, type: return_decided,\n"
        "         data: {decision: rejected, by: anzhen}}\n"
        "    expect:\n"
        "      returns: [accepted]\n"
        "      unfit: []\n"
        "      extensions: []\n"
        "      resolve_by_now: 2026-11-30T09:00:00+08:00\n",
        encoding="utf-8",
    )
    assert main(["rules", "test", str(SAMPLE), str(cases)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL a return the case gets wrong",
        "       returns: expected ['accepted'], got [None]",
        "       unfit: expected [], got ['not_adjudicator']",
        "0 passed, 1 failed",
    ]
