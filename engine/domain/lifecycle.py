"""The lifecycle of an issue: the facts it takes and the moves they make.

``apply`` takes one inbound fact (acknowledged, whistled, reported, progressed, resolved, rated,
withdrawn) and calls the moves: respond, land on a level, climb, reopen, close (firing the
deadlines, which calls these moves too, is ``engine.domain.deadlines``).
Each takes a ``Draft`` (the state being built in one decision, plus what it emits and counts)
and the effective time of the move. Effective times are the facts' own times, or a deadline's
due time when a deadline fires: a decision is then the same whether the runtime's tick came on
time or late, which is what makes replays with a virtual clock exact.

Sections: facts; responding (on time, late, missed: counted here only); reporting (departments'
check-in); landing and climbing; closing.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter

from engine.domain import claims, points
from engine.domain.calendar import Limit
from engine.domain.draft import Draft
from engine.domain.events import (
    AssignedData,
    ClosedData,
    Envelope,
    EscalatedData,
    EscalationReason,
    IssueAcknowledged,
    IssueAssigned,
    IssueClosed,
    IssueEscalated,
    IssueProgressed,
    IssueRaised,
    IssueRated,
    IssueReopened,
    IssueReported,
    IssueResolved,
    IssueWhistled,
    IssueWithdrawn,
    PathEntry,
    ReopenedData,
    ReportOutcome,
    ReportRecord,
)
from engine.domain.fast import make
from engine.domain.ruleset import LEVEL_RANK, Level, Route, Step
from engine.domain.state import Deadline, DeadlineKind, PathStep, ReportDue
from engine.domain.workflow_hooks import closure_fields

_BY_DUE = attrgetter("due")



# --- facts --------------------------------------------------------------------------------------


def apply(draft: Draft, event: Envelope, at: datetime) -> str:
    """Apply one inbound fact; return "" if it fit, else the reason it did not."""
    status = draft.state.status
    if status == "closed":
        return "closed"
    if isinstance(event, IssueWithdrawn):
        close(draft, at, "withdrawn", None)
        return ""
    if isinstance(event, IssueRated):
        return _rated(draft, event, at)
    if status != "open":
        return "not_open"
    if isinstance(event, IssueAcknowledged):
        return _acknowledged(draft, event.data.unit, at)
    if isinstance(event, IssueWhistled):
        return _whistled(draft, event, at)
    if isinstance(event, IssueReported):
        return _reported(draft, event.data.department, at)
    if isinstance(event, IssueProgressed):
        return _progressed(draft, event.data.unit, at)
    if isinstance(event, IssueResolved):
        return _resolved(draft, event.data.unit, at)
    if isinstance(event, IssueRaised):
        return "already_raised"
    return "unknown_type"


def _acknowledged(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if unit not in s.units:
        return "not_holder"
    if s.level == "department":
        return "departments_report"
    if s.response is not None:
        return "already_acknowledged"
    _respond(draft, at)
    return ""


def _whistled(draft: Draft, event: IssueWhistled, at: datetime) -> str:
    s = draft.state
    if event.data.unit not in s.units:
        return "not_holder"
    if not can_climb(draft):
        return "top_of_ladder"
    hint = event.data.departments
    index = next_index(draft)
    assert index is not None
    if draft.rule.ladder[index].level == "department":
        depts, _ = departments_for(draft, hint)
        if any(d not in draft.rules.registry.departments for d in depts):
            return "unknown_department"
    draft.update(whistles=s.whistles + 1)
    climb(draft, at, "whistle", hint)
    return ""


def _progressed(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if unit not in s.units:
        return "not_holder"
    route = draft.rules.route(s.category)
    if s.level == "department" and route.progress_every is not None:
        due = draft.add(at, route.progress_every)
        again = Deadline("progress", s.lead or unit, due, draft.version)
        draft.update(deadlines=(*[d for d in s.deadlines if d.kind != "progress"], again))
    return ""


def _resolved(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if unit not in s.units:
        return "not_holder"
    if s.level != "department" and s.response is None:
        _respond(draft, at)  # solving it is answering it
    window = draft.rule.closing.rating_window
    rating = Deadline("rating", unit, draft.add(at, window), draft.version)
    reports_due = tuple([d for d in draft.state.deadlines if d.kind == "report"])
    draft.update(status="resolved", resolved_at=at, deadlines=(*reports_due, rating))
    return ""


def _rated(draft: Draft, event: IssueRated, at: datetime) -> str:
    s = draft.state
    if s.status != "resolved":
        return "not_resolved"
    satisfied = event.data.satisfied
    draft.count("whistle_ratings_total",
                (("satisfied", "true" if satisfied else "false"), ("street", s.street)))
    if satisfied:
        close(draft, at, "resolved", True)
    elif s.reopens >= draft.rule.closing.max_reopens and can_climb(draft):
        draft.update(status="open", resolved_at=None, reopens=s.reopens + 1)
        climb(draft, at, "reopened_too_often")
    else:
        reopen(draft, at)
    return ""


# --- responding ---------------------------------------------------------------------------------


def _count_response(draft: Draft, outcome: ReportOutcome) -> None:
    """Every response of a holding unit is counted here, once: on time or late when it comes
    (``_respond``), missed when the issue leaves the level unanswered (``leave``)."""
    s = draft.state
    draft.count("whistle_responses_total",
                (("level", s.level), ("outcome", outcome), ("street", s.street)))


def _respond(draft: Draft, at: datetime) -> None:
    s = draft.state
    outcome: ReportOutcome = "on_time" if s.respond_by is None or at <= s.respond_by else "late"
    _count_response(draft, outcome)
    draft.update(
        response=outcome,
        deadlines=tuple([d for d in s.deadlines if d.kind != "respond"]),
    )


respond = _respond  # for the moves built on these (returns: returning an issue answers it)


def leave(draft: Draft, at: datetime) -> PathStep:
    """Close the current level's path entry; a level left unacknowledged missed its response."""
    s = draft.state
    response = s.response
    if s.level != "department" and response is None and s.respond_by is not None:
        response = "missed"
        _count_response(draft, response)
    return PathStep(s.level, s.units, s.entered_at, at, s.entry_reason, response)


# --- reporting ----------------------------------------------------------------------------------


def _count_report(draft: Draft, department: str, outcome: ReportOutcome) -> None:
    """Every department's report (报到) is counted here, once: on time or late when it comes
    (``_reported``), missed when the issue closes without it (``close``). The report rate."""
    draft.count("whistle_report_outcomes_total", (("department", department), ("outcome", outcome)))


def _reported(draft: Draft, department: str, at: datetime) -> str:
    s = draft.state
    pending = [r for r in s.reports if r.department == department and r.outcome is None]
    if not pending:
        return "no_report_due"
    record = pending[0]
    outcome: ReportOutcome = "on_time" if at <= record.due else "late"
    _count_report(draft, department, outcome)
    reports = tuple(
        r._replace(reported_at=at, outcome=outcome) if r is record else r
        for r in s.reports
    )
    deadlines = tuple([
        d for d in s.deadlines if not (d.kind == "report" and d.unit == department)])
    draft.update(reports=reports, deadlines=deadlines)
    return ""


# --- landing on a level and climbing ------------------------------------------------------------


_UNITS: dict[tuple[str, ...], tuple[str, ...]] = {}


def shared(units: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object for each set of holders, shared by every issue (and path step) they
    hold: 48 bytes or more each, several per open issue. Bounded (the registry's units and
    their combinations in routes and hints; cleared if it ever grows past that)."""
    found = _UNITS.get(units)
    if found is None:
        if len(_UNITS) >= 65536:
            _UNITS.clear()
        found = _UNITS[units] = units
    return found


def units_for(draft: Draft, level: Level, departments: tuple[str, ...]) -> tuple[str, ...]:
    s = draft.state
    if level == "grid":
        return shared((s.grid,))
    if level == "village":
        return shared((s.village,))
    if level == "street":
        return shared((s.street,))
    return departments


def departments_for(draft: Draft, hint: tuple[str, ...]) -> tuple[tuple[str, ...], Route]:
    """Departments for the department rung: an explicit hint wins, else the category's route."""
    route = draft.rules.route(draft.state.category)
    chosen = hint or draft.state.hint_departments
    if chosen:
        return shared(tuple(dict.fromkeys(chosen))), route
    return shared((route.lead, *route.co)), route


def enter(draft: Draft, index: int, at: datetime, reason: str, hint: tuple[str, ...] = ()) -> None:
    """Put the issue on ladder rung ``index`` at ``at``: holders, limits, deadlines; emit it."""
    step: Step = draft.rule.ladder[index]
    deadlines: list[Deadline] = []
    reports: list[ReportDue] = list(draft.state.reports)
    report_by: dict[str, datetime] = {}
    respond_by: datetime | None = None
    lead: str | None = None
    if step.level == "department":
        units, route = departments_for(draft, hint)
        lead = units[0]
        for dept in units:
            due = draft.add(at, route.report)
            report_by[dept] = due
            reports.append(ReportDue(dept, due))
            deadlines += draft.deadline("report", dept, at, due)
        resolve_by = draft.add(at, step.resolve or route.resolve)
        if route.progress_every is not None:
            deadlines.append(
                Deadline("progress", lead, draft.add(at, route.progress_every), draft.version)
            )
    else:
        units = units_for(draft, step.level, ())
        assert step.resolve is not None  # the loader requires it below department level
        resolve_by = draft.add(at, step.resolve)
        if step.respond is not None:
            respond_by = draft.add(at, step.respond)
            deadlines += draft.deadline("respond", units[0], at, respond_by)
    deadlines += draft.deadline("resolve", lead or units[0], at, resolve_by)
    draft.update(
        level=step.level, units=units, lead=lead, entered_at=at, entry_reason=reason,
        respond_by=respond_by, resolve_by=resolve_by, response=None, rule=draft.rule.id,
        rules_version=draft.rules.version,
        deadlines=tuple(sorted(deadlines, key=_BY_DUE)), reports=tuple(reports),
    )
    s = draft.state
    draft.send(
        IssueAssigned,
        make(AssignedData, {
            "sequence": draft.version, "level": s.level, "units": s.units, "lead": lead,
            "respond_by": respond_by, "resolve_by": resolve_by, "report_by": report_by,
            "rule": draft.rule.id, "rules_version": draft.rules.version, "reason": reason,
        }),
        at,
    )


def retime(draft: Draft, at: datetime) -> None:
    """Follow a rules change: the current level's limits are recomputed from when the issue
    entered it, under the new rules (pinning policy ``follow``). Limits already met stay met."""
    s = draft.state
    step = current_step(draft)
    route = draft.rules.route(s.category)
    start = s.entered_at
    # Only limits still pending are re-timed: one already missed stays missed (and counted
    # once), and its warning is not given again.
    pending = {(d.kind, d.unit) for d in s.deadlines if not d.warning}
    warned = {(d.kind, d.unit) for d in s.deadlines if d.warning}

    def arm(kind: DeadlineKind, unit: str, due: datetime) -> list[Deadline]:
        return [d for d in draft.deadline(kind, unit, start, due)
                if not d.warning or ((kind, unit) in warned and d.due > at)]

    deadlines = [d for d in s.deadlines if d.kind in ("rating", "progress", "urge", "review")]
    holder = s.lead or s.units[0]
    resolve_by = s.resolve_by
    if ("resolve", holder) in pending:
        resolve_by = draft.add(start, resolve_limit(draft))
        deadlines += arm("resolve", holder, resolve_by)
    respond_by = s.respond_by
    if ("respond", s.units[0]) in pending and step is not None and step.respond is not None:
        respond_by = draft.add(start, step.respond)
        deadlines += arm("respond", s.units[0], respond_by)
    report_by: dict[str, datetime] = {}
    reports = []
    for r in s.reports:
        if r.outcome is None and ("report", r.department) in pending:
            due = draft.add(start, route.report)
            report_by[r.department] = due
            deadlines += arm("report", r.department, due)
            r = r._replace(due=due)
        reports.append(r)
    draft.update(
        respond_by=respond_by, resolve_by=resolve_by, reports=tuple(reports),
        deadlines=tuple(sorted(deadlines, key=_BY_DUE)), rule=draft.rule.id,
        rules_version=draft.rules.version,
    )
    draft.send(
        IssueAssigned,
        make(AssignedData, {
            "sequence": draft.version, "level": s.level, "units": s.units, "lead": s.lead,
            "respond_by": respond_by, "resolve_by": resolve_by, "report_by": report_by,
            "rule": draft.rule.id, "rules_version": draft.rules.version, "reason": "rules_changed",
        }),
        at,
    )


def current_step(draft: Draft) -> Step | None:
    """The rung of the issue's level in its rule's ladder (None: a newer rule set dropped it)."""
    index = draft.rule.step_index(draft.state.level)
    return None if index is None else draft.rule.ladder[index]


def next_index(draft: Draft) -> int | None:
    """The first rung above the issue's level. Looked up by level, not by position, so that a
    reload which shortens or reorders a ladder cannot send an issue to the wrong rung."""
    rank = LEVEL_RANK[draft.state.level]
    for i, step in enumerate(draft.rule.ladder):
        if LEVEL_RANK[step.level] > rank:
            return i
    return None


def resolve_limit(draft: Draft) -> Limit:
    step = current_step(draft)
    if step is not None and step.resolve is not None:
        return step.resolve
    return draft.rules.route(draft.state.category).resolve


def can_climb(draft: Draft) -> bool:
    return next_index(draft) is not None


def climb(draft: Draft, at: datetime, reason: EscalationReason, hint: tuple[str, ...] = ()) -> None:
    """Escalate one rung up the rule's ladder."""
    s = draft.state
    index = next_index(draft)
    assert index is not None  # callers check can_climb
    entry = leave(draft, at)
    draft.update(path=(*s.path, entry), deadlines=())
    nxt = draft.rule.ladder[index]
    units = units_for(draft, nxt.level, departments_for(draft, hint)[0])
    draft.send(
        IssueEscalated,
        make(EscalatedData, {
            "sequence": draft.version, "from_level": s.level, "from_units": s.units,
            "to_level": nxt.level, "to_units": units, "reason": reason, "rule": draft.rule.id,
        }),
        at,
    )
    draft.count("whistle_escalations_total", (("from_level", s.level), ("to_level", nxt.level),
                                              ("reason", reason), ("street", s.street)))
    enter(draft, index, at, reason, hint)


def reopen(draft: Draft, at: datetime) -> None:
    """Unsatisfied: the same level gets a fresh resolve limit from the rating's time."""
    s = draft.state
    resolve_by = draft.add(at, resolve_limit(draft))
    holder = s.lead or s.units[0]
    # reports still due stay due; a department's feedback interval starts again
    deadlines = [d for d in s.deadlines if d.kind == "report"]
    deadlines += draft.deadline("resolve", holder, at, resolve_by)
    route = draft.rules.route(s.category)
    if s.level == "department" and route.progress_every is not None:
        due = draft.add(at, route.progress_every)
        deadlines.append(Deadline("progress", holder, due, draft.version))
    report_by = {r.department: r.due for r in s.reports if r.outcome is None}
    count = s.reopens + 1
    draft.update(
        status="open", resolved_at=None, resolve_by=resolve_by, reopens=count,
        deadlines=tuple(sorted(deadlines, key=_BY_DUE)),
    )
    draft.send(
        IssueReopened,
        make(ReopenedData, {
            "sequence": draft.version, "count": count, "level": s.level, "units": s.units,
            "rule": draft.rule.id,
        }),
        at,
    )
    draft.send(
        IssueAssigned,
        make(AssignedData, {
            "sequence": draft.version, "level": s.level, "units": s.units, "lead": s.lead,
            "respond_by": None, "resolve_by": resolve_by, "report_by": report_by,
            "rule": draft.rule.id, "rules_version": draft.rules.version, "reason": "reopened",
        }),
        at,
    )


# --- closing ------------------------------------------------------------------------------------


def close(draft: Draft, at: datetime, outcome: str, satisfied: bool | None) -> None:
    """Close the loop: final path entry, reports settled (never reported = missed), counts."""
    from engine.domain import parking
    parked = parking.on_close(draft, at)
    s = draft.state
    entry = leave(draft, at) if outcome == "resolved" else PathStep(
        s.level, s.units, s.entered_at, at, s.entry_reason, s.response)
    reports = []
    for r in s.reports:
        if r.outcome is None:
            r = r._replace(outcome="missed")
            _count_report(draft, r.department, "missed")
        reports.append(r)
    on_time = outcome == "resolved" and s.breaches == 0
    draft.update(
        status="closed", closed_at=at, deadlines=(), path=(*s.path, entry), reports=tuple(reports)
    )
    s = draft.state
    draft.send(
        IssueClosed,
        make(ClosedData, {
            "sequence": draft.version, "outcome": outcome, "satisfied": satisfied,
            "closed_level": s.level, "closed_units": s.units, "raised_at": s.raised_at,
            "closed_at": at,
            "path": tuple(make(PathEntry, dict(zip(PathStep._fields, p, strict=True)))
                           for p in s.path),
            "reports": tuple(make(ReportRecord, dict(zip(ReportDue._fields, r, strict=True)))
                              for r in s.reports),
            "breaches": s.breaches, "on_time": on_time, "street": s.street, "village": s.village,
            "grid": s.grid, "category": s.category, "severity": s.severity, "whistles": s.whistles,
            "reopens": s.reopens, "rule": s.rule, "rules_version": s.rules_version,
            "claims": claims.records(s) if s.claims else (),
            "urgings": s.urged, "supervised": s.supervised, "parked": parked,
            **closure_fields(s),
        }),
        at,
    )
    if s.claims:
        claims.held_at_close(draft)
    if s.awards or (satisfied and (s.reporter or s.claims) and draft.rules.points):
        points.on_closed(draft, at, outcome, satisfied)
    draft.count("whistle_issues_closed_total", (
        ("closed_level", s.level), ("outcome", outcome), ("street", s.street),
        ("on_time", "true" if on_time else "false")))
    if outcome == "resolved":
        draft.count("whistle_issue_resolution_seconds", (("closed_level", s.level),),
                    (at - s.raised_at).total_seconds())
