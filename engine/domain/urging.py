"""Supervision (督办/催办): the rule's urging ladder after a missed limit.

Practice (12345 rules of several cities): a reminder before the limit (the rule's warning point,
``issue.warning``), an urging notice when the limit is missed, a second urging copied to the
level above some working days later, and a supervision case after more. Here a rule's
``urging`` ladder names the limit it follows (respond or resolve) and its steps, each ``after``
the miss (working time in the rule's calendar, like every limit), with the units to copy and
whether the step makes the issue a supervision case.

How it runs: when the limit is missed and the issue stays with its holder (no climb; e.g. a
department at the top of the ladder, or a rung with ``escalate_on`` leaving that limit out),
``missed`` starts the ladder and arms its first step as an ``urge`` deadline. Each step fires
through the engine's durable deadlines (``fire``): it sends ``issue.urged`` (or
``issue.supervised``), counts it per unit, and arms the next step. Only one step is armed at a
time. Ids are deterministic like every outbound event's, and a redelivered tick is a duplicate,
so nothing is sent twice; the ``decay`` keeps any two urgings of one issue at least that far
apart (a limit missed again soon after, e.g. after a reopen, does not urge at once again). The
ladder stops when the limit is met late (acknowledged, resolved), the issue leaves the level,
or it is parked (the step then waits, and moves by the paused time: ``engine.domain.parking``).
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter

from engine.domain.draft import Draft, utc
from engine.domain.events import IssueSupervised, IssueUrged, SupervisedData, UrgedData
from engine.domain.fast import make
from engine.domain.lifecycle import departments_for, next_index, shared, units_for
from engine.domain.state import Deadline, Urging

_BY_DUE = attrgetter("due")


def units_named(draft: Draft, names: tuple[str, ...]) -> tuple[str, ...]:
    """The units a rule names for the issue: ``above`` (the rung above the holder's: its
    units; none at the top of the ladder), ``street``, ``village``, or a unit id as it is."""
    s = draft.state
    out: list[str] = []
    for name in names:
        if name == "above":
            index = next_index(draft)
            if index is not None:
                level = draft.rule.ladder[index].level
                if level == "department":
                    out += departments_for(draft, ())[0]
                else:
                    out += units_for(draft, level, ())
        elif name == "street":
            out.append(s.street)
        elif name == "village":
            out.append(s.village)
        else:
            out.append(name)
    return shared(tuple(dict.fromkeys(out)))


def missed(draft: Draft, d: Deadline) -> None:
    """A limit was missed and the issue stayed with its holder: start the urging ladder if the
    rule has one for this kind of limit."""
    urging = draft.rule.urging
    s = draft.state
    if urging is None or d.kind != urging.limit or s.status != "open":
        return
    kind = urging.limit
    last_at = s.urging.last_at if s.urging is not None else None  # the decay spans ladders
    started = Urging(kind, d.unit, s.level, d.due, 0, last_at)
    draft.update(urging=started)
    arm(draft, started)


def arm(draft: Draft, u: Urging) -> None:
    """Arm the ladder's next step (after ``u.sent`` steps) as the issue's ``urge`` deadline."""
    s = draft.state
    deadlines = [x for x in s.deadlines if x.kind != "urge"]
    urging = draft.rule.urging
    if urging is not None and u.sent < len(urging.steps):
        step = urging.steps[u.sent]
        base = utc(u.due)
        due = base if step.after is None else draft.add(base, step.after)
        if urging.decay is not None and u.last_at is not None:
            earliest = draft.add(utc(u.last_at), urging.decay)
            if earliest > due:
                due = earliest
        deadlines.append(Deadline("urge", u.unit, due, draft.version, False, base))
    draft.update(deadlines=tuple(sorted(deadlines, key=_BY_DUE)))


def fire(draft: Draft, d: Deadline) -> None:
    """The ``urge`` deadline ``d`` is due: send its step, if the limit is still unmet."""
    s = draft.state
    u, urging = s.urging, draft.rule.urging
    if u is None or urging is None or u.sent >= len(urging.steps):
        return  # the rules changed under it: the ladder is gone or shorter
    if s.status != "open" or s.level != u.level or (u.kind == "respond" and s.response):
        draft.update(urging=None)
        return
    step = urging.steps[u.sent]
    number = u.sent + 1
    values = {
        "sequence": draft.version, "step": number, "kind": u.kind, "due": utc(u.due),
        "level": s.level, "units": shared((u.unit,)),
        "copy_to": units_named(draft, step.copy_to), "rule": draft.rule.id,
    }
    at: datetime = d.due
    if step.supervise:
        draft.send(IssueSupervised, make(SupervisedData, values), at)
        draft.count("whistle_supervisions_total", (("unit", u.unit), ("level", s.level)))
    else:
        draft.send(IssueUrged, make(UrgedData, values), at)
    draft.count("whistle_urgings_total", (("unit", u.unit), ("step", str(number)),
                                          ("level", s.level)))
    done = u._replace(sent=number, last_at=at)
    draft.update(urging=done, urged=s.urged + 1, supervised=s.supervised or step.supervise)
    arm(draft, done)
