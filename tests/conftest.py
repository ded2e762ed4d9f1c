"""Shared by every test: the header names the core under test (compiled or the sources)."""

from __future__ import annotations

from engine import native


def pytest_report_header() -> str:
    return f"whistle core: {native.describe()}"
