"""Parking (挂账): an issue that cannot be solved now (next season's budget, a planned works
programme) is parked with approval; its limits pause until it resumes, and it is reviewed.

Facts: ``issue.park_requested`` {unit, reason, plan, review_at} by a holding unit, answered by
``issue.park_decided`` {decision, approver, review_at?} from an approver the rule names
(``parking.approvers``: ``above``, ``street``, ``village`` or unit ids); ``issue.unparked``
{unit} by a holder or an approver resumes it. A renewal is a new request and decision while
parked (it moves the review date; the period goes on).

While parked, Zammad-style: the limits' deadlines (respond, resolve, report, progress, their
warnings and the next urging step) are set aside in ``state.parked.paused`` and the clock of the
unit stops; the only deadline is the review (``issue.review_due`` at ``review_at``). On resume,
the paused working time (in the rule's calendar: working seconds between park and resume) is
added to every set-aside deadline, and ``issue.resumed`` and ``issue.assigned{reason:
unparked}`` say the new limits. Limits already missed before the park stay missed. The periods
are kept in ``state.parked_spans`` and carried by ``issue.closed`` as ``parked``.

A whistle while parked is unfit (``parked``: resume it first), and so are returns and
extensions (``decide`` refuses them; a park request while a return is pending is unfit,
``return_pending``); a resolution while parked resumes it first (the period ends at the
resolution) and then resolves it.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter

from engine.domain.calendar import Limit
from engine.domain.draft import Draft, utc
from engine.domain.events import (
    AssignedData,
    Envelope,
    IssueAssigned,
    IssueParkDecided,
    IssueParked,
    IssueParkPending,
    IssueParkRefused,
    IssueParkRequested,
    IssueResolved,
    IssueResumed,
    IssueReviewDue,
    IssueUnparked,
    IssueWhistled,
    ParkedData,
    ParkedPeriod,
    ParkPendingData,
    ParkRefusedData,
    ResumedData,
    ReviewDueData,
)
from engine.domain.fast import make
from engine.domain.returns import pending_return
from engine.domain.state import Deadline, Parked, ParkedSpan, ParkRequest
from engine.domain.urging import arm, units_named

_BY_DUE = attrgetter("due")
# deadlines a park does not pause (rating: not open anyway; claim: a claimant's clock, not the
# unit's, which ``claims.sync`` keeps from the claims whatever the lifecycle does)
_KEPT = ("rating", "review", "claim")


def apply(draft: Draft, event: Envelope, at: datetime) -> str | None:
    """Apply a parking fact: "" if it fit, else the reason it did not; None for any other
    fact (which ``lifecycle.apply`` takes), after what parking does to it first."""
    if isinstance(event, IssueParkRequested):
        return _requested(draft, event, at)
    if isinstance(event, IssueParkDecided):
        return _decided(draft, event, at)
    if isinstance(event, IssueUnparked):
        return _unparked(draft, event.data.unit, at)
    s = draft.state
    if s.parked is not None:
        if isinstance(event, IssueWhistled):
            return "parked"
        if isinstance(event, IssueResolved) and event.data.unit in s.units:
            resume(draft, at, announce=False)
    return None


def approvers(draft: Draft) -> tuple[str, ...]:
    parking = draft.rule.parking
    return units_named(draft, parking.approvers) if parking is not None else ()


def _review_problem(draft: Draft, review_at: datetime, at: datetime) -> str:
    if review_at <= at:
        return "review_at_past"
    parking = draft.rule.parking
    if parking is not None and parking.max_review is not None and (
            review_at > draft.add(at, parking.max_review)):
        return "review_too_far"
    return ""


def _requested(draft: Draft, event: IssueParkRequested, at: datetime) -> str:
    s, data = draft.state, event.data
    if s.status != "open":
        return "not_open"
    if draft.rule.parking is None:
        return "parking_not_allowed"
    if data.unit not in s.units:
        return "not_holder"
    if s.park_request is not None:
        return "park_pending"
    if s.returns and pending_return(s) is not None:  # the holder says it is not its business
        return "return_pending"
    review_at = utc(data.review_at)
    problem = _review_problem(draft, review_at, at)
    if problem:
        return problem
    draft.update(park_request=ParkRequest(data.unit, at, review_at, data.reason, data.plan))
    draft.send(IssueParkPending, make(ParkPendingData, {
        "sequence": draft.version, "unit": data.unit, "level": s.level, "review_at": review_at,
        "approvers": approvers(draft), "renewal": s.parked is not None, "rule": draft.rule.id,
    }), at)
    return ""


def _decided(draft: Draft, event: IssueParkDecided, at: datetime) -> str:
    s, data = draft.state, event.data
    request = s.park_request
    if request is None:
        return "no_park_pending"
    if data.approver not in approvers(draft):
        return "approver_not_allowed"
    review_at = utc(data.review_at) if data.review_at is not None else utc(request.review_at)
    if data.decision == "approved":
        problem = _review_problem(draft, review_at, at)
        if problem:
            return problem
    draft.count("whistle_parks_total", (("unit", request.unit), ("decision", data.decision)))
    if data.decision == "rejected":
        draft.update(park_request=None)
        draft.send(IssueParkRefused, make(ParkRefusedData, {
            "sequence": draft.version, "unit": request.unit, "level": s.level,
            "approver": data.approver, "rule": draft.rule.id,
        }), at)
        return ""
    review = Deadline("review", request.unit, review_at, draft.version)
    if s.parked is not None:  # a renewal: a new review date, the same period
        parked = s.parked._replace(review_at=review_at, approver=data.approver,
                                   reason=request.reason, plan=request.plan)
        deadlines = [d for d in s.deadlines if d.kind != "review"]
    else:
        paused = tuple([d for d in s.deadlines if d.kind not in _KEPT])
        parked = Parked(request.unit, at, review_at, data.approver, request.reason,
                        request.plan, paused)
        deadlines = [d for d in s.deadlines if d.kind in _KEPT and d.kind != "review"]
    draft.update(park_request=None, parked=parked,
                 deadlines=tuple(sorted((*deadlines, review), key=_BY_DUE)))
    draft.send(IssueParked, make(ParkedData, {
        "sequence": draft.version, "unit": parked.unit, "level": s.level,
        "since": utc(parked.since), "review_at": review_at, "approver": data.approver,
        "reason": parked.reason, "plan": parked.plan, "rule": draft.rule.id,
    }), at)
    return ""


def _unparked(draft: Draft, unit: str, at: datetime) -> str:
    s = draft.state
    if s.parked is None:
        return "not_parked"
    if unit not in s.units and unit not in approvers(draft):
        return "not_holder"
    resume(draft, at, announce=True)
    return ""


def fire_review(draft: Draft, d: Deadline) -> None:
    """The parked issue's review date has come."""
    s = draft.state
    parked = s.parked
    if parked is None:
        return
    draft.send(IssueReviewDue, make(ReviewDueData, {
        "sequence": draft.version, "unit": parked.unit, "level": s.level,
        "since": utc(parked.since), "review_at": d.due, "approver": parked.approver,
        "rule": draft.rule.id,
    }), d.due)


def _span(draft: Draft, parked: Parked, at: datetime) -> ParkedSpan:
    since = utc(parked.since)
    paused = draft.calendar.working_seconds_between(since, at) if at > since else 0.0
    return ParkedSpan(parked.unit, since, at, parked.approver, paused)


def _shift(draft: Draft, moment: datetime, by: Limit | None) -> datetime:
    moment = utc(moment)
    return moment if by is None else draft.add(moment, by)


def resume(draft: Draft, at: datetime, *, announce: bool) -> None:
    """End the parked period at ``at``: every set-aside deadline moves by the paused time."""
    s = draft.state
    parked = s.parked
    assert parked is not None
    span = _span(draft, parked, at)
    seconds = int(span.paused_seconds)
    by = Limit(amount=seconds, unit="seconds", working=True) if seconds > 0 else None
    version = draft.version
    moved = [
        d._replace(due=_shift(draft, d.due, by), token=version,
                   limit_due=None if d.limit_due is None else _shift(draft, d.limit_due, by))
        for d in parked.paused if d.kind != "urge"
    ]
    kept = [d for d in s.deadlines if d.kind in _KEPT and d.kind != "review"]
    respond_by, resolve_by = s.respond_by, s.resolve_by
    report_by: dict[str, datetime] = {}
    for d in moved:
        if d.warning:
            continue
        if d.kind == "respond":
            respond_by = d.due
        elif d.kind == "resolve":
            resolve_by = d.due
        elif d.kind == "report":
            report_by[d.unit] = d.due
    reports = tuple(r._replace(due=report_by[r.department])
                    if r.outcome is None and r.department in report_by else r
                    for r in s.reports)
    draft.update(parked=None, parked_spans=(*s.parked_spans, span), respond_by=respond_by,
                 resolve_by=resolve_by, reports=reports,
                 deadlines=tuple(sorted((*kept, *moved), key=_BY_DUE)))
    draft.count("whistle_parked_seconds", (("level", s.level),),
                (at - span.since).total_seconds())
    u = s.urging
    if u is not None and any(d.kind == "urge" for d in parked.paused):
        u = u._replace(due=_shift(draft, u.due, by),
                       last_at=None if u.last_at is None else _shift(draft, u.last_at, by))
        draft.update(urging=u)
        arm(draft, u)
    if not announce:
        return
    s = draft.state
    draft.send(IssueResumed, make(ResumedData, {
        "sequence": draft.version, "unit": parked.unit, "level": s.level,
        "period": period(span), "rule": draft.rule.id,
    }), at)
    draft.send(IssueAssigned, make(AssignedData, {
        "sequence": draft.version, "level": s.level, "units": s.units, "lead": s.lead,
        "respond_by": respond_by if s.response is None else None, "resolve_by": resolve_by,
        "report_by": report_by, "rule": draft.rule.id, "rules_version": s.rules_version,
        "reason": "unparked",
    }), at)


def period(span: ParkedSpan) -> ParkedPeriod:
    return make(ParkedPeriod, {"unit": span.unit, "since": span.since, "until": span.until,
                               "approver": span.approver,
                               "paused_seconds": span.paused_seconds})


def on_close(draft: Draft, at: datetime) -> tuple[ParkedPeriod, ...]:
    """The issue closes: a period still open ends here; the closure's ``parked`` periods."""
    s = draft.state
    if s.parked is not None:
        span = _span(draft, s.parked, at)
        draft.count("whistle_parked_seconds", (("level", s.level),),
                    (at - span.since).total_seconds())
        draft.update(parked=None, park_request=None, parked_spans=(*s.parked_spans, span))
    elif s.park_request is not None:
        draft.update(park_request=None)
    return tuple(period(p) for p in draft.state.parked_spans)
