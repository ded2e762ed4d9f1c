"""Real stored-state bytes of a given commit, for the codec's upcaster tests.

Runs a few issues through the core of whatever ``engine`` is importable (an old commit checked
out as a git worktree, or this tree) and writes every distinct state the core held, as that
commit's table value, one per line. The issues cover a whole lifecycle: raised, warned, escalated
on a missed limit, whistled up to the street and on to two departments with reports (one on
time, one missed), progressed, resolved, reopened after an unsatisfied rating, resolved again,
closed by a rating; a resolution closed by the rating window; an emergency withdrawn; an issue
with hinted departments left open past its limits.

Formats (see ``engine/agents/codec.py`` for what each one is):

* ``v0``: ``engine.agents.store.Stored(p=..., s=...).model_dump_json()`` of that commit
  (the unversioned table value written by every commit before the codec);
* ``v1``: ``engine.agents.codec.encode(...)`` of b6b04d1 (the last commit writing v1), with
  outboxes and trigger keys, and the state's ``last_emitted``;
* ``v2``: ``engine.agents.codec.encode(...)`` of 91b7205 (the last commit writing v2): an
  outbox wherever the decision emitted something, no ``last_emitted``;
* ``v3``: the same of 54a0dbc (the last commit writing v3): path and report entries as arrays;
* ``v4``: the same of 6e672f3 (which introduced v4; ``v4-lifecycle.jsonl``) and of 6b7fbe0
  (the last commit writing v4; ``v4-6b7fbe0-lifecycle.jsonl``: outbound events' fields in
  another order): with the scan header ``h``;
* ``v5``: the same of this tree: the header with the parked unit and the open overdue limits,
  the state with claims, points, returns, extensions, urging and parking;
* ``before-store``: for a commit before the first store (456b206), which never wrote a table
  value: the state's own ``model_dump_json()`` in the ``{"p": ..., "s": ...}`` object v0 has.

Rerun (from the repository root; the fixtures are committed, the worktrees are not)::

    for c in 97ce9df 1058fb2 1a4a3d4 e879155 b6b04d1 91b7205; do
        git worktree add --detach /tmp/old-$c $c
    done
    PYTHONPATH=/tmp/old-97ce9df .venv/bin/python tests/testdata/states/generate.py before-store \\
        tests/testdata/states/v0-97ce9df-before-store.jsonl
    PYTHONPATH=/tmp/old-1058fb2 .venv/bin/python tests/testdata/states/generate.py v0 \\
        tests/testdata/states/v0-1058fb2-step-untyped-resend.jsonl
    PYTHONPATH=/tmp/old-1a4a3d4 .venv/bin/python tests/testdata/states/generate.py v0 \\
        tests/testdata/states/v0-1a4a3d4-step.jsonl
    PYTHONPATH=/tmp/old-e879155 .venv/bin/python tests/testdata/states/generate.py v0 \\
        tests/testdata/states/v0-e879155-no-step.jsonl
    PYTHONPATH=/tmp/old-b6b04d1 .venv/bin/python tests/testdata/states/generate.py v1 \\
        tests/testdata/states/v1-lifecycle.jsonl
    PYTHONPATH=/tmp/old-91b7205 .venv/bin/python tests/testdata/states/generate.py v2 \\
        tests/testdata/states/v2-lifecycle.jsonl
    git worktree add --detach /tmp/old-54a0dbc 54a0dbc  # the last commit writing v3
    PYTHONPATH=/tmp/old-54a0dbc .venv/bin/python tests/testdata/states/generate.py v3 \\
        tests/testdata/states/v3-lifecycle.jsonl
    git worktree add --detach /tmp/old-6e672f3 6e672f3  # the commit introducing v4
    PYTHONPATH=/tmp/old-6e672f3 .venv/bin/python tests/testdata/states/generate.py v4 \\
        tests/testdata/states/v4-lifecycle.jsonl
    git worktree add --detach /tmp/old-6b7fbe0 6b7fbe0  # the last commit writing v4
    PYTHONPATH=/tmp/old-6b7fbe0 .venv/bin/python tests/testdata/states/generate.py v4 \\
        tests/testdata/states/v4-6b7fbe0-lifecycle.jsonl
    PYTHONPATH=. .venv/bin/python tests/testdata/states/generate.py v5 \\
        tests/testdata/states/v5-lifecycle.jsonl
    for c in 97ce9df 1058fb2 1a4a3d4 e879155 b6b04d1 91b7205; do
        git worktree remove /tmp/old-$c
    done

* 97ce9df (= 2de2579^): before the first store; ``Deadline`` a model (a JSON object), instants in
  the event's own offset (+08:00), untyped ``last_emitted``, with ``step``;
* 1058fb2 (= 7305b0d^): the last commit whose states kept their re-send events as the untyped
  ``Outbound`` base (``last_emitted`` entries without ``type`` and ``data``), with ``step``;
* 1a4a3d4 (= e879155^): typed ``last_emitted``, with ``step``;
* e879155: no ``step`` (the table value the codec's v0 shares with its v1 state).

The script only uses what all of these commits have (``Replayer``, ``tests.factories``), and
builds its events with fixed ids so every run, old or new, sees the same history. The codec
tests import :func:`states` to compare the decoded fixtures with the current core's states.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.domain.events import INBOUND_TYPES, Envelope
from engine.domain.replay import Replayer
from engine.domain.state import IssueState
from tests.factories import T0, ruleset

PARTITIONS = {"A": 0, "B": 1, "C": 2, "D": 1, "E": 0}
UNTIL = T0 + timedelta(days=5)


def _event(n: int, kind: str, issue: str, at: datetime, **data: Any) -> Envelope:
    return INBOUND_TYPES[f"issue.{kind}"].model_validate(
        {
            "id": f"fixture-{n}",
            "source": "test/grid-app",
            "subject": issue,
            "time": at.isoformat(),
            "type": f"issue.{kind}",
            "data": data,
        },
        strict=False,
    )


def scenario() -> list[Envelope]:
    def m(n: int) -> datetime:
        return T0 + timedelta(minutes=n)

    title = "乱停车堵住消防通道"
    steps: list[tuple[str, str, datetime, dict[str, Any]]] = [
        ("raised", "A", m(0), {"grid": "jinan-g1", "category": "illegal_parking", "title": title}),
        ("raised", "B", m(1), {"grid": "jinan-g2", "category": "noise", "title": "夜间施工噪音"}),
        ("raised", "C", m(2), {"grid": "jinan-g1", "category": "noise", "title": "燃气泄漏",
                               "severity": "emergency"}),
        ("acknowledged", "C", m(5), {"unit": "dongting"}),
        ("acknowledged", "B", m(10), {"unit": "jinan-g2"}),
        ("withdrawn", "C", m(20), {"reason": "误报"}),
        # A misses the grid's respond limit at 09:30 and is escalated to the village
        ("acknowledged", "A", m(40), {"unit": "jinan"}),
        ("resolved", "B", m(60), {"unit": "jinan-g2"}),
        ("whistled", "A", m(60), {"unit": "jinan", "reason": "需街道协调"}),
        ("acknowledged", "A", m(70), {"unit": "dongting"}),
        ("rated", "B", m(90), {"satisfied": True, "score": 5}),
        ("whistled", "A", m(90), {"unit": "dongting", "reason": "需交警和城管联合执法"}),
        ("reported", "A", m(120), {"department": "traffic_police"}),
        # urban management misses its report limit
        ("progressed", "A", m(180), {"unit": "traffic_police", "note": "已张贴告知书"}),
        ("raised", "D", m(200), {"grid": "jinan-g2", "category": "noise", "title": "广场舞扰民",
                                 "departments": ["housing"]}),
        ("raised", "E", m(210), {"grid": "jinan-g1", "category": "noise", "title": "路灯不亮"}),
        ("resolved", "A", m(240), {"unit": "traffic_police"}),
        ("acknowledged", "E", m(220), {"unit": "jinan-g1"}),
        ("acknowledged", "D", m(225), {"unit": "jinan-g2"}),
        ("resolved", "E", m(250), {"unit": "jinan-g1"}),
        ("rated", "A", m(300), {"satisfied": False, "score": 2, "note": "车又停回来了"}),
        ("whistled", "D", m(300), {"unit": "jinan-g2", "departments": ["housing"]}),
        ("acknowledged", "A", m(310), {"unit": "traffic_police"}),
        ("reported", "A", m(320), {"department": "urban_management"}),
        ("resolved", "A", m(400), {"unit": "traffic_police"}),
        ("rated", "A", m(425), {"satisfied": True, "score": 4}),
        # E is closed by its rating window; D stays open past its limits
    ]
    ordered = sorted(enumerate(steps), key=lambda s: s[1][2])  # stable: by time, then as listed
    return [_event(n, kind, issue, at, **data) for n, (kind, issue, at, data) in ordered]


def decisions() -> Iterator[tuple[int, IssueState, tuple[Any, ...]]]:
    """(partition, state, events emitted) for every distinct state the core held, in order."""
    replayer = Replayer(ruleset())
    last: dict[str, int] = {}
    for decision in replayer.run(scenario(), until=UNTIL):
        state = decision.state
        if state is None or last.get(state.issue_id) == state.version:
            continue
        last[state.issue_id] = state.version
        yield PARTITIONS[state.issue_id], state, tuple(decision.emit)


def states() -> Iterator[tuple[int, IssueState]]:
    """(partition, state) for every distinct state the core held, in the order it held them."""
    for partition, state, _ in decisions():
        yield partition, state


def v0_lines() -> Iterator[bytes]:
    from engine.agents.store import Stored

    for partition, state in states():
        yield Stored(p=partition, s=state).model_dump_json().encode()


def before_store_lines() -> Iterator[bytes]:
    # No table before 456b206: the {"p", "s"} object around the state is written here the way
    # the first store's ``Stored`` model would have written it.
    for partition, state in states():
        yield b'{"p":%d,"s":%s}' % (partition, state.model_dump_json().encode())


def v1_lines() -> Iterator[bytes]:
    from engine.agents.codec import Stored, encode

    for n, (partition, state) in enumerate(states()):
        # every other state as if its outputs were still waiting in the outbox
        outbox = state.last_emitted if n % 2 else ()
        keys = (state.last_trigger,) if outbox else ()
        yield encode(Stored(partition, state, outbox, keys))


def outbox_lines() -> Iterator[bytes]:
    """v2 and later: whatever format the importable engine's codec writes."""
    from engine.agents.codec import Stored, encode

    for partition, state, emitted in decisions():
        keys = (state.last_trigger,) if emitted else ()
        yield encode(Stored(partition, state, emitted, keys))


def main(argv: list[str]) -> None:
    import engine

    fmt, out = argv
    lines = {"v0": v0_lines, "before-store": before_store_lines, "v1": v1_lines,
             "v2": outbox_lines, "v3": outbox_lines, "v4": outbox_lines,
             "v5": outbox_lines}[fmt]()
    Path(out).write_bytes(b"".join(line + b"\n" for line in lines))
    print(f"{out}: {fmt} from {Path(engine.__file__).parent.parent}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
