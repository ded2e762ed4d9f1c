"""Which limits of an issue are missed and not yet settled (the three rates' "open overdue").

A pure function of the state, used by the shell twice: the worker's open-overdue gauge after each
decision (``engine.agents.metrics``), and the stored value's header (``engine.agents.codec``),
so a scan after a restart counts them without decoding every state.
"""

from __future__ import annotations

from engine.domain.state import IssueState

Unit = tuple[str, str]  # (kind, unit): a limit's kind and the unit the rates attribute it to


def unit_of(state: IssueState, level: str, unit: str) -> str:
    """The rates' unit of a holder: the department itself, else the issue's street."""
    return unit if level == "department" else state.street


def open_overdue(state: IssueState | None) -> tuple[Unit, ...]:
    """The limits of ``state`` already missed and not settled, as (kind, unit) pairs: a respond
    limit not yet answered, a report (报到) not yet made, a resolve limit of an issue still open.
    Called twice a decision (before and after): kept to one pass over the deadlines, no Counter."""
    if state is None or state.status == "closed":
        return ()
    pending = {(d.kind, d.unit) for d in state.deadlines if not d.warning}
    # limits paused (set aside) while the issue is parked or a return pauses them: not missed
    if state.parked is not None:
        pending.update((d.kind, d.unit) for d in state.parked.paused if not d.warning)
    if state.return_paused:
        pending.update((d.kind, d.unit) for d in state.return_paused if not d.warning)
    out: list[Unit] = []
    is_open = state.status == "open"
    if (is_open and state.level != "department" and state.response is None
            and state.respond_by is not None and ("respond", state.units[0]) not in pending):
        out.append(("respond", state.street))
    for r in state.reports:
        if r.outcome is None and ("report", r.department) not in pending:
            out.append(("report", r.department))
    if is_open:
        holder = state.lead or (state.units[0] if state.units else "")
        if holder and ("resolve", holder) not in pending:
            out.append(("resolve", unit_of(state, state.level, holder)))
    return tuple(out)
