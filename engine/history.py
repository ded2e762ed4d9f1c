"""``whistle history ISSUE_ID``: an issue's timeline, with the rule and the reason of each step,
read from the lifecycle topic (or a JSONL export of it)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


def _t(text: str | None, tz: ZoneInfo) -> str:
    if not text:
        return "-"
    return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def describe(e: dict[str, Any], tz: ZoneInfo) -> str:
    d = e.get("data", {})
    kind = str(e.get("type", "")).removeprefix("issue.")
    if kind == "assigned":
        limits = [f"respond by {_t(d.get('respond_by'), tz)}" if d.get("respond_by") else "",
                  f"resolve by {_t(d.get('resolve_by'), tz)}"]
        limits += [f"{k} reports by {_t(v, tz)}" for k, v in (d.get("report_by") or {}).items()]
        units = ", ".join(d.get("units", []))
        return (f"assigned to {d.get('level')} {units}: {'; '.join(x for x in limits if x)} "
                f"(reason {d.get('reason')}, rule {d.get('rule')} @ {d.get('rules_version')})")
    if kind == "escalated":
        return (f"escalated {d.get('from_level')} -> {d.get('to_level')} "
                f"(reason {d.get('reason')}, rule {d.get('rule')})")
    if kind in ("warning", "overdue"):
        what = "will be due" if kind == "warning" else "missed"
        return (f"{kind}: {d.get('kind')} limit of {d.get('unit')} at {d.get('level')} {what} "
                f"{_t(d.get('due'), tz)} (rule {d.get('rule')})")
    if kind == "reopened":
        return f"reopened #{d.get('count')} at {d.get('level')} (resident unsatisfied)"
    if kind == "closed":
        sat = {True: "satisfied", False: "unsatisfied", None: "unrated"}[d.get("satisfied")]
        reports = ", ".join(f"{r['department']} {r['outcome']}" for r in d.get("reports", []))
        return (f"closed: {d.get('outcome')} at {d.get('closed_level')}, {sat}, "
                f"{d.get('breaches')} missed limit(s), on time {d.get('on_time')}"
                + (f"; reports: {reports}" if reports else ""))
    return kind


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
    lines += [f"  {_t(e.get('time'), zone)}  {describe(e, zone)}" for e in ordered]
    return lines


def read_jsonl(path: Any) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: {exc}") from None
    return out


def read_topic(config: dict[str, Any], topic: str, idle_ms: int = 3000) -> list[dict[str, Any]]:
    """Everything on ``topic`` from the beginning, until it has been idle for ``idle_ms``
    (end offsets are not trusted: the embedded broker reports wrong ones)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, **config, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=idle_ms)
    out = []
    try:
        for record in consumer:
            try:
                out.append(json.loads(record.value))
            except (ValueError, TypeError):
                continue
    finally:
        consumer.close()
    return out
