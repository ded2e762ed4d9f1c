"""Whistle: an event-driven issue escalation engine (吹哨报到)."""

from engine import native

native.choose()  # before anything imports engine.domain: its compiled build, if it matches
