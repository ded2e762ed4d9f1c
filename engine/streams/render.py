"""The one renderer of engine events for people: a lifecycle event as a sentence (``whistle
history``), and any record of the output topics as one line (``whistle tail``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

TZ = "Asia/Shanghai"


def when(text: str | None, tz: ZoneInfo) -> str:
    if not text:
        return "-"
    try:
        return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(text)


def describe(e: dict[str, Any], tz: ZoneInfo) -> str:
    """What a lifecycle event says, with its rule and reason."""
    d = e.get("data", {})
    kind = str(e.get("type", "")).removeprefix("issue.")
    if kind == "assigned":
        limits = [f"respond by {when(d.get('respond_by'), tz)}" if d.get("respond_by") else "",
                  f"resolve by {when(d.get('resolve_by'), tz)}"]
        limits += [f"{k} reports by {when(v, tz)}" for k, v in (d.get("report_by") or {}).items()]
        units = ", ".join(d.get("units", []))
        return (f"assigned to {d.get('level')} {units}: {'; '.join(x for x in limits if x)} "
                f"(reason {d.get('reason')}, rule {d.get('rule')} @ {d.get('rules_version')})")
    if kind == "escalated":
        return (f"escalated {d.get('from_level')} -> {d.get('to_level')} "
                f"(reason {d.get('reason')}, rule {d.get('rule')})")
    if kind in ("warning", "overdue"):
        what = "will be due" if kind == "warning" else "missed"
        return (f"{kind}: {d.get('kind')} limit of {d.get('unit')} at {d.get('level')} {what} "
                f"{when(d.get('due'), tz)} (rule {d.get('rule')})")
    if kind == "reopened":
        return f"reopened #{d.get('count')} at {d.get('level')} (resident unsatisfied)"
    if kind == "closed":
        sat = {True: "satisfied", False: "unsatisfied", None: "unrated"}[d.get("satisfied")]
        reports = ", ".join(f"{r['department']} {r['outcome']}" for r in d.get("reports", []))
        claims = ", ".join(f"{c['claimant']['kind']} {c['outcome']}" for c in d.get("claims", []))
        return (f"closed: {d.get('outcome')} at {d.get('closed_level')}, {sat}, "
                f"{d.get('breaches')} missed limit(s), on time {d.get('on_time')}"
                + (f"; reports: {reports}" if reports else "")
                + (f"; claims: {claims}" if claims else ""))
    if kind == "claim_expired":
        c = d.get("claimant") or {}
        since = when(d.get("acted_at") or d.get("claimed_at"), tz)
        return (f"claim of {c.get('kind')} {c.get('id')} expired at "
                f"{when(d.get('expired_at'), tz)} (no act since {since})")
    if kind in ("points.awarded", "points.reversed"):
        p = d.get("person") or {}
        verb = "awarded to" if kind == "points.awarded" else f"reversed ({d.get('reason')}) for"
        return (f"{d.get('points')} points {verb} {p.get('kind')} {p.get('id')} "
                f"(rule {d.get('rule')})")
    return kind


def line(value: bytes | None, tz: ZoneInfo | None = None) -> str:
    """One record of an output topic on one line: ``TIME TYPE ISSUE: sentence``, or a rejected
    record's reason, or the start of anything else."""
    zone = tz or ZoneInfo(TZ)
    try:
        e = json.loads(value or b"")
    except ValueError:
        e = None
    if not isinstance(e, dict):
        return (value or b"")[:200].decode("utf-8", "replace")
    if "reason" in e and "topic" in e:  # a rejected record
        return f"REJECTED {e['reason']}: {e.get('detail', '')}"
    return f"{when(e.get('time'), zone)} {e.get('type', '')} {e.get('subject', '')}: " \
        f"{describe(e, zone)}"
