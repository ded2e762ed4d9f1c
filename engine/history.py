"""``whistle history ISSUE_ID``: an issue's timeline, with the rule and the reason of each step,
read from the lifecycle topic (or a JSONL export of it); the sentences are
``engine.streams.render``'s."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from engine.streams.render import describe, when


def timeline(issue: str, events: Iterable[dict[str, Any]], tz: str = "Asia/Shanghai") -> list[str]:
    zone = ZoneInfo(tz)
    seen: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.get("subject") == issue and "id" in e:
            seen.setdefault(e["id"], e)  # redeliveries carry the same id
    ordered = sorted(seen.values(), key=lambda e: (e.get("data", {}).get("sequence", 0),
                                                   e["id"]))
    if not ordered:
        return [f"{issue}: no lifecycle events found"]
    lines = [f"{issue}: {len(ordered)} lifecycle events (times in {tz})"]
    lines += [f"  {when(e.get('time'), zone)}  {describe(e, zone)}" for e in ordered]
    return lines


def read_topic(config: dict[str, Any], topic: str, idle_seconds: float = 3.0
               ) -> list[dict[str, Any]]:
    """Every JSON record on ``topic`` from the beginning, until it has been idle for
    ``idle_seconds`` (``engine.streams.kafka``); other records are passed over."""
    from engine.streams.kafka import read

    out = []
    for record in read(config, [topic], idle_seconds=idle_seconds):
        try:
            out.append(json.loads(record.value or b""))
        except ValueError:
            continue
    return out
