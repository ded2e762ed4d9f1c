"""Issue states as table values: a versioned JSON format, read from every format ever written.

Stored state format
-------------------

Each issue is one value in the Faust table, keyed by its id: UTF-8 JSON bytes of ::

    {"v": 5, "p": <partition>,
     "h": [<status>, <level>, <due>, <token>, <closed_at>, <parked unit>, [[<kind>, <unit>]...]],
     "s": <IssueState>, "o": [<outbound event>...], "k": [<key>...]}

``v`` is the format version (:data:`FORMAT_VERSION`); ``p`` the partition the issue lives on (so
a partition's deadline index can be rebuilt from the table alone); ``h`` a header with what that
rebuild needs (the state's status and level, its earliest deadline's due time and token or
nulls, its ``closed_at`` or null, the unit holding it parked or null, its limits missed and not
settled as (kind, unit) pairs, ``engine.domain.overdue``; times ISO 8601), written first so
that a scan reads it without decoding the state (:func:`peek`); it is derived from ``s`` and
never read back into it; ``s`` the issue's state as
``IssueState.model_dump(mode="json")`` (deadlines as ``[kind, unit, due, token, warning,
limit_due]`` arrays, path steps as ``[level, units, entered_at, left_at, reason, response]``,
reports as ``[department, due, reported_at, outcome]``); ``o`` the outbound events the last
batch that changed the issue produced for it (the discriminated ``OutboundEvent`` union, ``type``
included), re-sent when one of its triggers is redelivered, and ``k`` those trigger keys. ``o``
and ``k`` are left out when empty. :func:`decode` reads any version up to the current one:
:func:`upcast` takes an older object one version at a time through :data:`UPCASTERS`
(n -> n+1) to the current version, which is then validated. A value no upcaster can read
raises :class:`UndecodableState` (never anything else), so the caller can set it aside and carry
on with the partition's other issues.

Version history (the real bytes of each are in ``tests/testdata/states/``):

* **v0**, any object without ``"v"``: ``{"p": <int>, "s": <IssueState>}``, written by
  ``engine.agents.store.Stored(...).model_dump_json()`` from 456b206 (the first store) to
  the codec. Three variants:

  - 456b206 .. 1058fb2 (before 7305b0d): ``s.step`` (the ladder index), and ``s.last_emitted``
    serialised as the untyped ``Outbound`` base: each re-send event has only its envelope
    (``id``, ``subject``, ``time``, ``source``, ...), its ``type`` and ``data`` were never
    written. **They cannot be recovered**: the upcaster drops such a ``last_emitted`` whole, so
    a redelivery of that state's last trigger re-sends nothing (its events were sent when it
    was first decided; the next decision writes a typed ``last_emitted`` again).
  - 7305b0d .. 1a4a3d4 (before e879155): ``s.step``; ``last_emitted`` typed as today.
  - e879155 .. the codec: no ``step``; the state as v1 has it.

  Before 456b206 there was no table, so no value was ever stored. For the record, a state
  dumped by the core before 2de2579 (``Deadline`` a model, so a JSON object; instants in the
  event's own offset, e.g. +08:00; with ``step``; untyped ``last_emitted``) still reads: pydantic
  validates the deadline named tuple from a JSON object as well, the offsets give the same
  instants, ``step`` and ``last_emitted`` go as above. Only its ``last_trigger``, when a
  deadline, keeps the local offset in its text (``deadline:<token>:<due>``): it then matches no
  redelivered tick, which is harmless (that deadline is gone from the state, so the tick is
  stale). The fixture ``v0-97ce9df-before-store.jsonl`` wraps such states for that test.

* **v1** (b6b04d1 and before, back to the codec): ``"v": 1`` and the optional outbox ``o``/``k``,
  written only when a batch applied several triggers to the issue; otherwise the state's own
  ``s.last_emitted`` held what its last trigger ``s.last_trigger`` produced. Upcaster 0 -> 1:
  drop ``s.step`` (written, never read), drop an untyped ``s.last_emitted``, no outbox.

* **v2** (91b7205): the state has no ``last_emitted`` (open issues in memory carry no events),
  and ``o``/``k`` are written whenever the batch emitted anything for the issue. Upcaster
  1 -> 2: without ``o``, a non-empty ``s.last_emitted`` becomes ``o`` with ``k`` =
  ``[s.last_trigger]`` (exactly what v1 would have re-sent); with ``o`` it is dropped (``o``
  already holds the batch's whole output, those events included).

* **v3** (1a6efd0 .. 54a0dbc): the state's ``path`` and ``reports`` entries are arrays (named
  tuples in memory, a third of a climbed issue's memory) instead of objects. Upcaster 2 -> 3
  changes only ``v``: validation reads an entry written as an object into the named tuple as
  well (missing or extra keys fail as they did), so v0..v2 entries read unchanged.

* **v4** (6e672f3 .. 6b7fbe0): the header ``h`` = [status, level, due, token, closed_at].
  Upcaster 3 -> 4 changes only ``v``: ``h`` is optional, and a value without it is decoded
  whole by the scan (and gets one at its next write).

* **v5** (this code): the header adds the unit holding the issue parked and the open overdue
  limits (so a scan after a restart rebuilds the parked-issues and open-overdue gauges from
  headers, not by decoding every open state); the state adds the people (issue 12: ``reporter``,
  ``claims``, ``awards``, deadlines of kind ``claim``) and the workflow (issue 11: returns,
  extensions, ``urging``/``urged``/``supervised``, ``park_request``/``parked``/``parked_spans``,
  deadlines of kinds ``urge`` and ``review``), all with defaults, and drops ``unfit``;
  ``issue.closed`` and the
  outbox gain the matching fields and events. Upcaster 4 -> 5 drops the v4 header (it cannot say
  the two new things) and changes ``v``: the state's new fields take their defaults. A v5 value
  is not readable by a v4 worker: roll forward, not back.

The rule for the next change to anything a stored value holds (``IssueState`` or the models in
it, the outbound events, this envelope): bump :data:`FORMAT_VERSION`, add the upcaster from the
previous version to ``UPCASTERS`` (a function of the JSON object only, pure and total: what it
cannot fix it leaves for validation to report), and commit a fixture of real bytes of the
previous version, written by the previous code (``tests/testdata/states/generate.py``), beside
the ones already there: every older fixture must still decode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, NotRequired

from pydantic import ConfigDict, Strict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from engine.domain.events import OutboundEvent
from engine.domain.fast import replace
from engine.domain.overdue import Unit, open_overdue
from engine.domain.state import IssueState

FORMAT_VERSION: int = 5  # the version this code writes

_MAX_ERRORS = 3  # validation errors named in a reason


@dataclass(frozen=True, slots=True)
class Stored:
    partition: int
    state: IssueState
    outbox: tuple[OutboundEvent, ...] = ()
    keys: tuple[str, ...] = ()  # trigger keys the outbox answers


class UndecodableState(Exception):
    """A stored value no upcaster can read; .reason is a short human text (no personal data)."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# status, level, the earliest deadline's due and token, closed_at, the unit holding the issue
# parked, the limits missed and not settled ((kind, unit) pairs: ``engine.domain.overdue``)
Header = tuple[str, str, str | None, int | None, str | None, str | None,
               tuple[tuple[str, str], ...]]


class Summary(NamedTuple):
    """What a scan needs of a stored issue (``peek``), without its state decoded."""

    issue_id: str
    partition: int
    status: str
    level: str
    due: datetime | None  # the earliest deadline's
    token: int | None
    closed_at: datetime | None
    parked: str | None = None  # the unit holding it parked (for the parked-issues gauge)
    overdue: tuple[tuple[str, str], ...] = ()  # open overdue limits (the three rates' gauge)


def summary_of(partition: int, state: IssueState) -> Summary:
    first = min(state.deadlines, key=_due, default=None)
    return Summary(state.issue_id, partition, state.status, state.level,
                   first.due if first else None, first.token if first else None,
                   state.closed_at, state.parked.unit if state.parked else None,
                   open_overdue(state))


def _due(d: Any) -> datetime:
    return d.due  # type: ignore[no-any-return]


@with_config(ConfigDict(extra="forbid"))
class _V5(TypedDict):
    """The current format's object: one schema validates and serialises it."""

    v: Literal[5]
    p: Annotated[int, Strict()]
    h: NotRequired[Header]
    s: IssueState
    o: NotRequired[tuple[OutboundEvent, ...]]
    k: NotRequired[tuple[Annotated[str, Strict()], ...]]


_CURRENT = TypeAdapter(_V5)
_KEYS = TypeAdapter(tuple[Annotated[str, Strict()], ...])
_CURRENT_PREFIX = b'{"v":%d,' % FORMAT_VERSION  # how encode starts every value


def encode(stored: Stored, outbox_json: Sequence[bytes] | None = None,
           overdue: tuple[Unit, ...] | None = None) -> bytes:
    """The current format's bytes (JSON, UTF-8) of ``stored``; an empty outbox and keys left out.

    ``outbox_json``: the outbox's events as the shell already encoded them to send them
    (``model_dump_json``, the serialiser the outbox uses), spliced in instead of encoded again;
    the bytes are the same either way (tests/test_state_codec.py). ``overdue``: the state's
    ``open_overdue``, when the caller has it already."""
    state = stored.state
    first = min(state.deadlines, key=_due, default=None)
    header: Header = (
        state.status, state.level, first.due.isoformat() if first else None,
        first.token if first else None, state.closed_at.isoformat() if state.closed_at else None,
        state.parked.unit if state.parked is not None else None,
        open_overdue(state) if overdue is None else overdue)
    doc: _V5 = {"v": 5, "p": stored.partition, "h": header, "s": state}
    if outbox_json is not None and stored.outbox:
        assert len(outbox_json) == len(stored.outbox)
        tail = b',"o":[' + b",".join(outbox_json) + b"]"
        if stored.keys:
            tail += b',"k":' + _KEYS.dump_json(tuple(stored.keys))
        return _CURRENT.dump_json(doc)[:-1] + tail + b"}"  # "o" and "k" come last
    if stored.outbox:
        doc["o"] = tuple(stored.outbox)
    if stored.keys:
        doc["k"] = tuple(stored.keys)
    return _CURRENT.dump_json(doc)


def decode(raw: bytes) -> Stored:
    """The value ``raw`` holds, from any format version; raises only :class:`UndecodableState`."""
    try:
        return _decode(raw)
    except UndecodableState:
        raise
    except Exception as error:  # never anything else, whatever came in
        raise UndecodableState(f"unreadable value ({type(error).__name__})") from None


def _decode(raw: bytes) -> Stored:
    first: ValidationError | None = None
    if raw.startswith(_CURRENT_PREFIX):  # the common case: validated in one pass, no copies
        try:
            doc = _CURRENT.validate_json(raw)
        except ValidationError as error:
            first = error
        else:
            return _stored(doc)
    # an earlier version's value (or the current one in another layout, or no value at all)
    obj, problem = _loads(raw)
    if problem:
        raise UndecodableState(problem)
    if not isinstance(obj, dict):
        raise UndecodableState(f"not a JSON object but {_json_kind(obj)}")
    version = _version(obj)
    if version == FORMAT_VERSION and first is not None:
        raise UndecodableState(f"format v{version}: {_summary(first)}")
    current = upcast(obj)
    try:
        doc = _CURRENT.validate_json(json.dumps(current))
    except ValidationError as error:
        first = error
    else:
        return _stored(doc)
    upcasted = f" upcast to v{FORMAT_VERSION}" if version < FORMAT_VERSION else ""
    raise UndecodableState(f"format v{version}{upcasted}: {_summary(first)}")


def peek(issue_id: str, raw: bytes) -> Summary | None:
    """The header of a current value, read without decoding its state (a few microseconds
    against tens); None when ``raw`` has none (an older version, or not a value of ours): the
    caller then decodes it whole. A header that does not parse is None too."""
    if not raw.startswith(_CURRENT_PREFIX):
        return None
    end = raw.find(b',"s":')
    if end < 0:
        return None
    try:
        head = json.loads(raw[:end] + b"}")
        status, level, due, token, closed_at, parked, overdue = head["h"]
        return Summary(issue_id, int(head["p"]), str(status), str(level),
                       None if due is None else datetime.fromisoformat(due),
                       None if token is None else int(token),
                       None if closed_at is None else datetime.fromisoformat(closed_at),
                       None if parked is None else str(parked),
                       tuple((str(kind), str(unit)) for kind, unit in overdue))
    except Exception:  # any surprise: decode it whole instead
        return None


def _stored(doc: _V5) -> Stored:
    return Stored(doc["p"], in_utc(doc["s"]), doc.get("o", ()), doc.get("k", ()))


_ZERO = timedelta(0)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC or moment.utcoffset() != _ZERO:
        return moment
    return moment.astimezone(UTC)


def in_utc(state: IssueState) -> IssueState:
    """``state`` with every time read as UTC (``...Z``) in ``datetime.UTC`` instead of
    pydantic's ``TzInfo(0)``: the same instants and the same bytes when encoded, but the core
    compares and computes times in ``datetime.UTC`` without asking a tzinfo for its offset
    (each comparison across the two cost ~0.7 us, and the calendar's UTC fast path needs it).
    Times with another offset (only in states the earliest core wrote) stay as they are."""
    changes: dict[str, Any] = {}
    for name in ("raised_at", "entered_at", "respond_by", "resolve_by", "resolved_at",
                 "closed_at"):
        moment = getattr(state, name)
        if moment is not None and moment.tzinfo is not UTC:
            changes[name] = _utc(moment)
    if state.deadlines:
        changes["deadlines"] = tuple(
            d._replace(due=_utc(d.due),
                       limit_due=None if d.limit_due is None else _utc(d.limit_due))
            for d in state.deadlines)
    if state.path:
        changes["path"] = tuple(
            p._replace(entered_at=_utc(p.entered_at),
                       left_at=None if p.left_at is None else _utc(p.left_at))
            for p in state.path)
    if state.reports:
        changes["reports"] = tuple(
            r._replace(due=_utc(r.due),
                       reported_at=None if r.reported_at is None else _utc(r.reported_at))
            for r in state.reports)
    return replace(state, **changes) if changes else state


def _loads(raw: bytes) -> tuple[object, str]:
    """The JSON value in ``raw``, or what is wrong with it."""
    try:
        return json.loads(raw), ""
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except json.JSONDecodeError as error:
        return None, f"not JSON ({error.msg} at character {error.pos})"
    except RecursionError:
        return None, "not JSON (nested too deeply)"


def upcast(doc: dict[str, Any]) -> dict[str, Any]:
    """Any earlier version's JSON object -> the current version's object (not yet validated).

    The current version's object is returned as it is; an older one is not changed in place.
    Raises :class:`UndecodableState` for a version it cannot tell or a newer one.
    """
    version = _version(doc)
    while version < FORMAT_VERSION:
        doc = UPCASTERS[version](doc)
        version += 1
    return doc


def _version(doc: dict[str, Any]) -> int:
    version = doc.get("v", 0)
    if type(version) is not int or version < 0:
        raise UndecodableState("the format version \"v\" is not a non-negative integer")
    if version > FORMAT_VERSION:
        raise UndecodableState(
            f"written by a newer format version {version}; this worker reads up to "
            f"{FORMAT_VERSION}"
        )
    return version


def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """v0 -> v1: drop ``s.step`` and an untyped ``s.last_emitted``; version 1, no outbox."""
    out = {"v": 1, **{key: value for key, value in doc.items() if key != "v"}}
    state = out.get("s")
    if isinstance(state, dict):
        state = {key: value for key, value in state.items() if key != "step"}
        emitted = state.get("last_emitted")
        if isinstance(emitted, list) and any(
            isinstance(event, dict) and "type" not in event for event in emitted
        ):
            state["last_emitted"] = []  # before 7305b0d: type and data never written
        out["s"] = state
    return out


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: the state's ``last_emitted`` moves to the outbox (if it has none yet)."""
    out = {**doc, "v": 2}
    state = out.get("s")
    if isinstance(state, dict) and "last_emitted" in state:
        state = dict(state)
        emitted = state.pop("last_emitted")
        if "o" not in out and isinstance(emitted, list) and emitted:
            out["o"] = emitted
            out["k"] = [state.get("last_trigger", "")]
        out["s"] = state
    return out


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """v2 -> v3: path and report entries as objects validate into their named tuples as they
    are; only the version changes."""
    return {**doc, "v": 3}


def _v3_to_v4(doc: dict[str, Any]) -> dict[str, Any]:
    """v3 -> v4: the header is optional (scans decode a value without one whole); only the
    version changes."""
    return {**doc, "v": 4}


def _v4_to_v5(doc: dict[str, Any]) -> dict[str, Any]:
    """v4 -> v5: the header gains the parked unit and the open overdue limits, which a v4
    value cannot say (a v4 state has neither parking nor the fields v5 added): it is dropped,
    so the scan decodes the value whole, and its next write has a v5 header. The state's new
    fields all have defaults; its ``unfit`` count goes (written, never read: the unfit facts are
    counted in the metrics; the state's 43rd field, it doubled the size of every state's
    attribute dict, CPython's being sized for 42 keys)."""
    out = {**{key: value for key, value in doc.items() if key != "h"}, "v": 5}
    state = out.get("s")
    if isinstance(state, dict) and "unfit" in state:
        out["s"] = {key: value for key, value in state.items() if key != "unfit"}
    return out


UPCASTERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _v0_to_v1,
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
}


def _summary(error: ValidationError) -> str:
    """Where and what failed, without the values (they may hold personal data, e.g. titles)."""
    parts = []
    for detail in error.errors(include_url=False)[:_MAX_ERRORS]:
        where = ".".join(str(part) for part in detail["loc"]) or "value"
        message = detail["msg"]
        echoed = [detail.get("input"), (detail.get("ctx") or {}).get("tag")]
        for value in echoed:
            if isinstance(value, str) and value:
                message = message.replace(f"'{value}'", "'…'").replace(repr(value), "'…'")
        parts.append(f"{where}: {message}")
    more = error.error_count() - _MAX_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if isinstance(obj, bool):
        return "a boolean"
    if isinstance(obj, int | float):
        return "a number"
    return "null"
