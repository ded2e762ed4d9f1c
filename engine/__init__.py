"""Whistle: an event-driven issue escalation engine (吹哨报到)."""
