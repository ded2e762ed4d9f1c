"""Invariants of the core, checked on random histories (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.events import Envelope, IssueClosed, Outbound
from engine.domain.replay import Replayer
from engine.domain.ruleset import LEVEL_RANK
from tests.factories import T0, event, raised, ruleset

UNITS = ["jinan-g1", "jinan-g2", "jinan", "dongting", "traffic_police", "urban_management",
         "housing"]
KINDS = ["acknowledged", "whistled", "reported", "progressed", "resolved", "rated", "withdrawn"]


def data_for(kind: str, unit: str, flag: bool) -> dict[str, Any]:
    if kind == "reported":
        return {"department": unit}
    if kind == "rated":
        return {"satisfied": flag}
    if kind == "withdrawn":
        return {"reason": "test"}
    return {"unit": unit}


step = st.tuples(
    st.sampled_from(["A", "B"]),
    st.sampled_from(KINDS),
    st.sampled_from(UNITS),
    st.booleans(),
    st.integers(min_value=0, max_value=400),  # minutes since the previous event
)

history = st.tuples(
    st.booleans(),  # A is an emergency
    st.lists(step, max_size=30),
)


def build(emergency: bool, steps: list[tuple[str, str, str, bool, int]]) -> list[Envelope]:
    events: list[Envelope] = [
        raised("A", T0, severity="emergency" if emergency else "normal"),
        raised("B", T0 + timedelta(minutes=1), category="noise"),
    ]
    at = T0 + timedelta(minutes=1)
    for issue, kind, unit, flag, gap in steps:
        at += timedelta(minutes=gap)
        events.append(event(kind, issue, at, **data_for(kind, unit, flag)))
    return events


def replay(events: list[Envelope], until: datetime) -> tuple[Replayer, list[Any]]:
    r = Replayer(ruleset())
    return r, list(r.run(events, until=until))


END = T0 + timedelta(days=30)


@settings(max_examples=150, deadline=None)
@given(history)
def test_an_issue_never_moves_down_a_level(h: Any) -> None:
    r = Replayer(ruleset())
    rank: dict[str, int] = {}
    for d in r.run(build(*h), until=END):
        if d.state is not None:
            now = LEVEL_RANK[d.state.level]
            assert now >= rank.get(d.state.issue_id, 0)
            rank[d.state.issue_id] = now


@settings(max_examples=150, deadline=None)
@given(history)
def test_closure_is_final(h: Any) -> None:
    r = Replayer(ruleset())
    closed: dict[str, int] = {}
    for d in r.run(build(*h), until=END):
        if d.state is None:
            continue
        issue = d.state.issue_id
        if issue in closed:
            assert d.state.status == "closed" and d.state.version == closed[issue]
            assert d.result in ("unfit", "duplicate", "stale") and not d.emit
        elif d.state.status == "closed":
            closed[issue] = d.state.version


@settings(max_examples=100, deadline=None)
@given(history, st.data())
def test_applying_every_event_twice_equals_once(h: Any, data: st.DataObject) -> None:
    events = build(*h)
    once, d1 = replay(events, END)
    twice_events: list[Envelope] = []
    for e in events:
        twice_events.append(e)
        twice_events.append(e)
    # and some redelivered again later, out of their place
    late = data.draw(st.lists(st.sampled_from(events), max_size=5))
    twice, d2 = replay(twice_events + late, END)
    strip = {"seen", "last_trigger"}
    assert {k: s.model_dump(exclude=strip) for k, s in once.states.items()} == {
        k: s.model_dump(exclude=strip) for k, s in twice.states.items()
    }
    ids_once = [e.id for d in d1 for e in d.emit]
    ids_twice = list(dict.fromkeys(e.id for d in d2 for e in d.emit))
    assert ids_once == ids_twice
    by_id = {e.id: e for d in d1 for e in d.emit}
    assert all(by_id[e.id] == e for d in d2 for e in d.emit)


@settings(max_examples=400, deadline=None)
@given(history)
def test_deadlines_never_precede_the_event_that_set_them(h: Any) -> None:
    _, decisions = replay(build(*h), END)
    for d in decisions:
        for e in d.emit:
            if e.type == "issue.assigned":
                # a reopen restates the reports still due, set when the issue got there
                reports = () if e.data.reason == "reopened" else e.data.report_by.values()
                for due in (e.data.respond_by, e.data.resolve_by, *reports):
                    assert due is None or due >= e.time
        if d.state is not None and d.result == "accepted":
            armed = [x for x in d.state.deadlines if x.token == d.state.version]
            times = [e.time for e in d.emit] or [min((x.due for x in armed), default=END)]
            for x in armed:
                assert x.due >= min(times)


def check_closure(e: Outbound) -> None:
    c = e.data
    path = c.path
    assert path, "a closed issue has a path"
    assert path[0].entered_at == c.raised_at and path[-1].left_at == c.closed_at
    for a, b in itertools.pairwise(path):
        assert a.left_at == b.entered_at
        assert LEVEL_RANK[a.level] < LEVEL_RANK[b.level]
    assert path[-1].level == c.closed_level and path[-1].units == c.closed_units
    for rep in c.reports:
        assert rep.outcome in ("on_time", "late", "missed")
        assert (rep.reported_at is None) == (rep.outcome == "missed")
        if rep.reported_at is not None:
            assert (rep.reported_at > rep.due) == (rep.outcome == "late")
    if c.on_time:
        assert c.outcome == "resolved" and c.breaches == 0
    assert c.closed_at >= c.raised_at


@settings(max_examples=150, deadline=None)
@given(history)
def test_every_closure_has_a_complete_consistent_path_and_reports(h: Any) -> None:
    _, decisions = replay(build(*h), END)
    closures = [e for d in decisions for e in d.emit if isinstance(e, IssueClosed)]
    for e in closures:
        check_closure(e)
    assert len({e.subject for e in closures}) == len(closures)


@settings(max_examples=50, deadline=None)
@given(history)
def test_every_state_survives_its_json_round_trip(h: Any) -> None:
    """What the table stores is what the core decided: nothing lost (e.g. the events to re-send)."""
    from engine.domain.state import IssueState

    r, _ = replay(build(*h), END)
    for state in r.states.values():
        assert IssueState.model_validate_json(state.model_dump_json()) == state
