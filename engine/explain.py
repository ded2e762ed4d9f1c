"""``whistle rules explain``: which rule an event matches and its ladder with real deadlines.

The deadlines are not recomputed here: the issue is run through the core itself with a virtual
clock, each rung acknowledging at once and never resolving, so every rung is reached when the
one below runs out of its resolve limit. What explain shows is what the engine would do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.domain.events import (
    IssueAcknowledged,
    IssueAssigned,
    IssueRaised,
    IssueSupervised,
    IssueUrged,
    IssueWarning,
)
from engine.domain.replay import Replayer
from engine.domain.returns import above
from engine.domain.ruleset import Facts, Rule, Ruleset
from engine.domain.state import IssueState

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ACK_SOURCE = "whistle/explain"


def matched_rule(event: IssueRaised, rules: Ruleset) -> Rule:
    grid = rules.registry.grids[event.data.grid]
    d = event.data
    return rules.match(
        Facts(category=d.category, severity=d.severity,
              reporter=d.reporter.kind if d.reporter else "unknown", source=event.source,
              street=rules.registry.street_of(grid.id))
    )


def explain(event: IssueRaised, rules: Ruleset, at: datetime | None = None) -> dict[str, Any]:
    if at is not None:
        event = event.model_copy(update={"time": at})
    rule = matched_rule(event, rules)
    calendar = rules.calendars[rule.calendar]
    replayer = Replayer(rules)
    rungs: list[dict[str, Any]] = []
    warnings: list[str] = []
    decisions = list(replayer.feed(event))
    for n in range(2 * len(rule.ladder) + 1):
        for decision in decisions:
            warnings += [w for w in decision.warnings if w not in warnings]
            for out in decision.emit:
                if isinstance(out, IssueAssigned):
                    rungs.append(_rung(out, rules))
                elif isinstance(out, IssueWarning) and rungs:
                    rungs[-1]["warnings"].append(
                        {"kind": out.data.kind, "unit": out.data.unit, "at": out.time.isoformat()}
                    )
        state = replayer.states.get(event.subject)
        if state is None or state.status != "open" or state.level == "department":
            break
        if state.response is None:
            decisions = list(replayer.feed(_ack(state, n)))
        else:
            decisions = list(replayer.advance(state.resolve_by))
    state = replayer.states.get(event.subject)
    if state is not None:
        for rung in rungs:
            _workflow(rung, rule, rules, state)
    urging = _urging(replayer, event.subject, rule)
    return {
        "urging": urging,
        "parking": {"approvers": list(rule.parking.approvers),
                    "max_review": str(rule.parking.max_review)
                    if rule.parking.max_review else None} if rule.parking else None,
        "event": {"id": event.id, "subject": event.subject, "time": event.time.isoformat(),
                  "grid": event.data.grid, "category": event.data.category,
                  "severity": event.data.severity},
        "rule": {"id": rule.id, "description": rule.description, "source": rule.source,
                 "match": [c.describe() for c in rule.match] or ["(catch-all)"]},
        "calendar": {"name": calendar.name, "always": calendar.always,
                     "timezone": calendar.timezone,
                     "known_until": calendar.known_until.isoformat()
                     if calendar.known_until else None,
                     "law_until": calendar.law_until.isoformat()
                     if calendar.law_until else None},
        "rules_version": rules.version,
        "ladder": rungs,
        "returns": _returns(rule),
        "extensions": _extensions(rule),
        "warnings": warnings,
    }


def _urging(replayer: Replayer, issue: str, rule: Rule) -> dict[str, Any] | None:
    """The rule's urging ladder, run on by the core: the top rung never resolves, so its
    missed limit is urged step by step (the times are the engine's own)."""
    if rule.urging is None:
        return None
    steps: list[dict[str, Any]] = []
    for _ in range(256):  # deadlines (reports, progress, the steps) until the ladder is done
        state = replayer.states.get(issue)
        if state is None or state.status != "open" or not state.deadlines or (
                len(steps) >= len(rule.urging.steps)):
            break
        for decision in replayer.advance(min(d.due for d in state.deadlines)):
            for out in decision.emit:
                if isinstance(out, IssueUrged | IssueSupervised):
                    steps.append({"step": out.data.step, "at": out.time.isoformat(),
                                  "type": out.type, "kind": out.data.kind,
                                  "unit": out.data.units[0], "copy_to": list(out.data.copy_to)})
    return {"limit": rule.urging.limit,
            "decay": str(rule.urging.decay) if rule.urging.decay else None,
            "steps": steps}


def _returns(rule: Rule) -> dict[str, Any] | None:
    r = rule.returns
    return None if r is None else {
        "adjudicator": r.adjudicator, "dispatcher": r.dispatcher, "window": str(r.window),
        "max": r.max, "clock": "pauses" if r.pause else "runs"}


def _extensions(rule: Rule) -> dict[str, Any] | None:
    x = rule.extensions
    return None if x is None else {
        "tiers": [{"up_to": str(t.up_to), "approver": t.approver} for t in x.tiers],
        "max": x.max, "max_total": str(x.max_total) if x.max_total else None,
        "dispatcher": x.dispatcher}


def _workflow(rung: dict[str, Any], rule: Rule, rules: Ruleset, state: IssueState) -> None:
    """A rung's return deadline and adjudicator, and how far and by whom its resolve limit can
    be extended (computed in the rule's calendar, as the core computes them)."""
    calendar = rules.calendars[rule.calendar]
    start = datetime.fromisoformat(rung["from"])
    resolve_by = datetime.fromisoformat(rung["resolve_by"])
    if rule.returns is not None:
        r = rule.returns
        rung["return_by"] = calendar.add_utc(start, r.window)[0].isoformat()
        rung["adjudicator"] = above(state, rung["level"], r.adjudicator, r.dispatcher)
    if rule.extensions is not None:
        x = rule.extensions
        rung["extend"] = [
            {"until": calendar.add_utc(resolve_by, t.up_to)[0].isoformat(),
             "approver": above(state, rung["level"], t.approver, x.dispatcher)}
            for t in x.tiers]


def _ack(state: IssueState, n: int) -> IssueAcknowledged:
    return IssueAcknowledged.model_validate(
        {"id": f"explain-ack-{n}", "source": ACK_SOURCE, "subject": state.issue_id,
         "time": state.entered_at.isoformat(), "data": {"unit": state.units[0]}},
        strict=False,
    )


def _rung(out: IssueAssigned, rules: Ruleset) -> dict[str, Any]:
    d = out.data
    return {
        "level": d.level,
        "units": [{"id": u, "name": rules.registry.name_of(u)} for u in d.units],
        "lead": d.lead,
        "from": out.time.isoformat(),
        "respond_by": d.respond_by.isoformat() if d.respond_by else None,
        "resolve_by": d.resolve_by.isoformat(),
        "report_by": {k: v.isoformat() for k, v in d.report_by.items()},
        "warnings": [],
    }


def when(text: str | None, zone: str = "UTC") -> str:
    if text is None:
        return "-"
    t = datetime.fromisoformat(text).astimezone(ZoneInfo(zone))
    return f"{t:%Y-%m-%d} {WEEKDAYS[t.weekday()]} {t:%H:%M}"


def render(report: dict[str, Any]) -> str:
    ev, rule, cal = report["event"], report["rule"], report["calendar"]
    tz = cal["timezone"]
    lines = [
        f"event:    issue.raised {ev['subject']} at {when(ev['time'], tz)} "
        f"(grid {ev['grid']}, category {ev['category']}, severity {ev['severity']})",
        f"rule:     {rule['id']}  [{rule['source']}]  {rule['description']}",
        f"matched:  {', '.join(rule['match'])}",
        f"calendar: {cal['name']} ({'24x7' if cal['always'] else 'working time'}, "
        f"{tz}, holiday data until {cal['known_until'] or '-'}"
        + (f", holidays by law until {cal['law_until']}" if cal.get("law_until") else "") + ")",
        f"version:  {report['rules_version']}",
        "",
        f"times in {tz}; ladder (each rung acknowledges at once and is reached when the one "
        "below runs out of its resolve limit):",
    ]
    for i, rung in enumerate(report["ladder"], 1):
        names = ", ".join(
            f"{u['id']} {u['name']}" + (" (lead)" if u["id"] == rung["lead"] else "")
            for u in rung["units"]
        )
        lines.append(f"  {i}. {rung['level']:<10} {names}")
        lines.append(f"       from       {when(rung['from'], tz)}")
        if rung["respond_by"]:
            lines.append(f"       respond by {when(rung['respond_by'], tz)}")
        for dept, due in rung["report_by"].items():
            lines.append(f"       report by  {when(due, tz)}  ({dept})")
        lines.append(f"       resolve by {when(rung['resolve_by'], tz)}")
        for w in rung["warnings"]:
            lines.append(f"       warning    {when(w['at'], tz)}  ({w['kind']}, {w['unit']})")
        if rung.get("return_by"):
            lines.append(f"       return by  {when(rung['return_by'], tz)}  (退单, decided by "
                         f"{rung['adjudicator'] or '-'})")
        for x in rung.get("extend", ()):
            lines.append(f"       extend to  {when(x['until'], tz)}  (延期, approved by "
                         f"{x['approver'] or '-'})")
    if report.get("returns"):
        r = report["returns"]
        lines.append(f"returns:    within {r['window']} of each assignment, at most {r['max']} "
                     f"per issue; the clock {r['clock']} while one is pending")
    if report.get("extensions"):
        x = report["extensions"]
        total = f", {x['max_total']} in all" if x["max_total"] else ""
        lines.append(f"extensions: filed before the limit; at most {x['max']} per "
                     f"assignment{total}")
    urging = report.get("urging")
    if urging:
        decay = f", never two within {urging['decay']}" if urging["decay"] else ""
        lines.append(f"urging (催办/督办) after a missed {urging['limit']} limit{decay}; "
                     "if the top rung never resolves:")
        for step in urging["steps"]:
            what = "supervision case" if step["type"] == "issue.supervised" else "urging"
            copy = f", copied to {', '.join(step['copy_to'])}" if step["copy_to"] else ""
            lines.append(f"  {step['step']}. {when(step['at'], tz)}  {what} of "
                         f"{step['unit']}{copy}")
        if not urging["steps"]:
            lines.append("  (not reached: the limit it follows is met or climbs here)")
    parking = report.get("parking")
    if parking:
        review = f", review within {parking['max_review']}" if parking["max_review"] else ""
        lines.append(f"parking (挂账): approved by {', '.join(parking['approvers'])}{review}; "
                     "the limits pause while parked")
    for w in report["warnings"]:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)
