"""What the core builds without validation (``engine.domain.fast``) is what validation would
have built: every field present, nothing else, and equal to a validated copy.

``fast.make`` takes a dict that must hold every field of the model (the core writes them out
in full, for speed); a field left out would only show when the event is serialised. This
replays a generated month of Xishan traffic and checks every emitted event, its data and the
path and report entries of closures, and every state.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from engine.domain.events import INBOUND_TYPES, OUTBOUND_TYPES, Envelope, IssueClosed
from engine.domain.replay import Replayer
from engine.domain.state import IssueState
from engine.rules.loader import load_ruleset
from engine.simulation import Pace, history

RULES = Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan"
START = datetime(2026, 9, 21, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def _parking_story() -> list[Envelope]:
    """A project parked (挂账) on the Xishan rules: refused once, approved, reviewed, resumed
    (the simulated history has no parking)."""
    day = timedelta(days=1)
    facts: list[tuple[timedelta, str, dict[str, Any]]] = [
        (timedelta(0), "raised", {"grid": "anzhen-jinan-g1", "title": "加装电梯",
                                  "category": "old_compound_renovation"}),
        (timedelta(hours=1), "acknowledged", {"unit": "anzhen-jinan-g1"}),
        (timedelta(hours=2), "park_requested", {"unit": "anzhen-jinan-g1", "reason": "预算",
                                                "review_at": (START + 9 * day).isoformat()}),
        (timedelta(hours=3), "park_decided", {"decision": "rejected", "approver": "housing"}),
        (timedelta(hours=4), "park_requested", {"unit": "anzhen-jinan-g1", "reason": "预算",
                                                "review_at": (START + 9 * day).isoformat()}),
        (timedelta(hours=5), "park_decided", {"decision": "approved",
                                              "approver": "anzhen-jinan"}),
        (10 * day, "unparked", {"unit": "housing"}),
    ]
    return [INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {"id": f"story-{n}", "source": "grid-app/xishan", "subject": "XS-PARKED-1",
         "time": (START + after).isoformat(), "type": f"issue.{kind}", "data": data},
        strict=False) for n, (after, kind, data) in enumerate(facts)]


def _supervision_story() -> list[Envelope]:
    """A default issue whistled up to the departments, which never resolve it: urged up to a
    supervision case (the simulated history with returns and extensions may have none)."""
    m = timedelta(minutes=10)
    facts: list[tuple[timedelta, str, dict[str, Any]]] = [
        (timedelta(0), "raised", {"grid": "anzhen-jinan-g1", "title": "物业不作为",
                                  "category": "property_management"}),
        (m, "acknowledged", {"unit": "anzhen-jinan-g1"}),
        (2 * m, "whistled", {"unit": "anzhen-jinan-g1"}),
        (3 * m, "acknowledged", {"unit": "anzhen-jinan"}),
        (4 * m, "whistled", {"unit": "anzhen-jinan"}),
        (5 * m, "acknowledged", {"unit": "anzhen"}),
        (6 * m, "whistled", {"unit": "anzhen"}),
    ]
    return [INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {"id": f"urged-{n}", "source": "grid-app/xishan", "subject": "XS-URGED-1",
         "time": (START + timedelta(days=1) + after).isoformat(), "type": f"issue.{kind}",
         "data": data}, strict=False) for n, (after, kind, data) in enumerate(facts)]


def _complete(model: BaseModel) -> None:
    assert set(model.__dict__) == set(type(model).model_fields), type(model).__name__


def people_history() -> list[Envelope]:
    """Claims and points, which the simulated traffic has none of: a rider's report claimed by
    two people, one of whom lets it expire, resolved, reopened (a reversal), resolved again and
    rated satisfied."""
    pm, vol = {"kind": "party_member", "id": "pm-1"}, {"kind": "volunteer", "id": "vol-2"}
    at = START + timedelta(days=1)
    steps: list[tuple[float, str, dict[str, object]]] = [
        (0, "raised", {"grid": "anzhen-jinan-g1", "category": "illegal_parking", "title": "乱停车",
                       "reporter": {"kind": "rider", "id": "rd-3"}}),
        (0.1, "acknowledged", {"unit": "anzhen-jinan-g1"}),
        (0.2, "claimed", {"claimant": pm}), (0.3, "claimed", {"claimant": vol}),
        (1, "progressed", {"unit": "anzhen-jinan-g1", "claimant": pm}),
        (3, "resolved", {"unit": "anzhen-jinan-g1", "claimant": pm}),
        (3.5, "rated", {"satisfied": False}),
        (4, "resolved", {"unit": "anzhen-jinan-g1"}), (4.5, "rated", {"satisfied": True}),
    ]
    out = [INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {"id": f"people-{n}", "source": "test", "subject": "XS-PEOPLE-1", "type": f"issue.{kind}",
         "time": (at + timedelta(hours=hours)).isoformat(), "data": data}, strict=False)
        for n, (hours, kind, data) in enumerate(steps)]
    # and a claim nobody acts on: it expires after two working days
    out += [INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {"id": f"people-2-{kind}", "source": "test", "subject": "XS-PEOPLE-2",
         "type": f"issue.{kind}", "time": at.isoformat(), "data": data}, strict=False)
        for kind, data in (("raised", steps[0][2]), ("claimed", {"claimant": vol}))]
    return out


def test_every_trusted_model_has_exactly_its_fields_and_validates_to_itself() -> None:
    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    # with returns and extensions, so that their events and closure entries are made too, and
    # the people, parking and supervision stories, which the simulated traffic may have none of
    pace = Pace(returns=0.3, extensions=0.3)
    events = sorted([*history(rules, START, 400, timedelta(days=21), pace=pace),
                     *people_history(), *_parking_story(), *_supervision_story()],
                    key=lambda e: e.time)
    replayer = Replayer(rules)
    kinds: set[str] = set()
    for decision in replayer.run(events, until=START + timedelta(days=60)):
        for e in decision.emit:
            kinds.add(e.type)
            _complete(e)
            _complete(e.data)
            if isinstance(e, IssueClosed):
                for entry in (*e.data.path, *e.data.reports, *e.data.claims, *e.data.parked,
                              *e.data.returns, *e.data.extensions):
                    _complete(entry)
            again = OUTBOUND_TYPES[e.type].model_validate_json(e.model_dump_json())
            assert again == e
    assert kinds == set(OUTBOUND_TYPES)  # every outbound event type was made
    for state in replayer.states.values():
        _complete(state)
        assert IssueState.model_validate_json(state.model_dump_json()) == state
