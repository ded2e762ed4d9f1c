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

from pydantic import BaseModel

from engine.domain.events import OUTBOUND_TYPES, IssueClosed
from engine.domain.replay import Replayer
from engine.domain.state import IssueState
from engine.rules.loader import load_ruleset
from engine.simulation import Pace, history

RULES = Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan"
START = datetime(2026, 9, 21, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def _complete(model: BaseModel) -> None:
    assert set(model.__dict__) == set(type(model).model_fields), type(model).__name__


def test_every_trusted_model_has_exactly_its_fields_and_validates_to_itself() -> None:
    rules = load_ruleset(RULES).ruleset
    assert rules is not None
    # with returns and extensions, so that their events and closure entries are made too
    pace = Pace(returns=0.3, extensions=0.3)
    events = list(history(rules, START, 400, timedelta(days=21), pace=pace))
    replayer = Replayer(rules)
    kinds: set[str] = set()
    for decision in replayer.run(events, until=START + timedelta(days=60)):
        for e in decision.emit:
            kinds.add(e.type)
            _complete(e)
            _complete(e.data)
            if isinstance(e, IssueClosed):
                for entry in (*e.data.path, *e.data.reports, *e.data.returns,
                              *e.data.extensions):
                    _complete(entry)
            again = OUTBOUND_TYPES[e.type].model_validate_json(e.model_dump_json())
            assert again == e
    assert kinds == set(OUTBOUND_TYPES)  # every outbound event type was made
    for state in replayer.states.values():
        _complete(state)
        assert IssueState.model_validate_json(state.model_dump_json()) == state
