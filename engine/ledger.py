"""The points (积分) ledger read back: ``points.awarded`` / ``points.reversed`` totalled.

Where the events come from: a JSONL export (``engine.streams.jsonl``) or the ``points.ledger``
topic (``engine.streams.kafka``, no consumer group). Delivery is at least once, so the same
event may come twice: each event id counts once (the engine's ledger ids are deterministic,
see ``engine.domain.points``). Other engine events (a whole ``issues.lifecycle`` export) are
passed over and counted; anything else is an error naming its line, or its partition and offset.

Totals are of the events whose time is in the period (``start`` inclusive, ``end`` exclusive):
a reversal counts in the period it happened in, as in any ledger, even when its award is older.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.domain.events import (
    LEDGER_TYPES,
    OUTBOUND_TYPES,
    PointsAwarded,
    PointsReversed,
)
from engine.streams.jsonl import lines
from engine.streams.kafka import ReadError, read


class LedgerError(Exception):
    """Bad input to ``whistle points``: the message is for the operator, as is."""


LedgerEvent = PointsAwarded | PointsReversed


@dataclass
class Ledger:
    events: dict[str, LedgerEvent] = field(default_factory=dict)  # by event id: once each
    duplicates: int = 0  # events seen again (redeliveries), not counted again
    other: int = 0  # well-formed engine events of another type, passed over

    def add(self, raw: bytes | str, where: str) -> None:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise LedgerError(f"{where}: not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise LedgerError(f"{where}: not a CloudEvent (a JSON object)")
        kind = body.get("type")
        if isinstance(kind, str) and kind in OUTBOUND_TYPES and kind not in LEDGER_TYPES:
            self.other += 1
            return
        if kind not in LEDGER_TYPES:
            raise LedgerError(f"{where}: type {kind!r} is not points.awarded or points.reversed")
        try:
            event = OUTBOUND_TYPES[kind].model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            path = ".".join(str(p) for p in first["loc"])
            raise LedgerError(f"{where}: {kind}: {path}: {first['msg']}") from None
        assert isinstance(event, PointsAwarded | PointsReversed)
        if event.id in self.events:
            self.duplicates += 1
            return
        self.events[event.id] = event


def read_jsonl(path: Path) -> Ledger:
    out = Ledger()
    try:
        for n, raw in lines(path):
            out.add(raw, f"{path}:{n}")
    except OSError as exc:
        raise LedgerError(f"{path}: {exc.strerror or exc}") from None
    return out


def read_records(values: Iterable[tuple[str, bytes | None]]) -> Ledger:
    out = Ledger()
    for where, value in values:
        if value is None:
            raise LedgerError(f"{where}: a record without a value")
        out.add(value, where)
    return out


def read_broker(config: dict[str, Any], topic: str, idle_seconds: float = 3.0,
                connect_seconds: float = 10.0) -> Ledger:
    """The whole topic from the beginning, until nothing has come for ``idle_seconds``."""
    records = read(config, [topic], idle_seconds=idle_seconds, connect_seconds=connect_seconds)
    try:
        return read_records((r.where, r.value) for r in records)
    except ReadError as exc:
        raise LedgerError(str(exc)) from None


@dataclass
class Total:
    awarded: int = 0
    reversed: int = 0
    awards: int = 0  # award events
    reversals: int = 0
    people: set[str] = field(default_factory=set)  # person ids (per-kind totals only)

    @property
    def net(self) -> int:
        return self.awarded - self.reversed


@dataclass
class Totals:
    start: datetime | None
    end: datetime | None
    by_person: dict[tuple[str, str], Total]  # (kind, id) -> total
    by_kind: dict[str, Total]
    events: int  # ledger events in the period (each once)


def totals(ledger: Ledger, start: datetime | None = None, end: datetime | None = None) -> Totals:
    by_person: dict[tuple[str, str], Total] = {}
    by_kind: dict[str, Total] = {}
    counted = 0
    for event in ledger.events.values():
        if (start is not None and event.time < start) or (end is not None and event.time >= end):
            continue
        counted += 1
        person = event.data.person
        for total in (by_person.setdefault((person.kind, person.id), Total()),
                      by_kind.setdefault(person.kind, Total())):
            if isinstance(event, PointsAwarded):
                total.awarded += event.data.points
                total.awards += 1
            else:
                total.reversed += event.data.points
                total.reversals += 1
        by_kind[person.kind].people.add(person.id)
    return Totals(start, end, dict(sorted(by_person.items())), dict(sorted(by_kind.items())),
                  counted)


CSV_HEADER = ("scope", "kind", "id", "people", "awarded", "reversed", "net", "awards",
              "reversals")


def render_csv(t: Totals) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for (kind, ident), x in t.by_person.items():
        w.writerow(("person", kind, ident, 1, x.awarded, x.reversed, x.net, x.awards,
                    x.reversals))
    for kind, x in t.by_kind.items():
        w.writerow(("kind", kind, "", len(x.people), x.awarded, x.reversed, x.net, x.awards,
                    x.reversals))
    return buf.getvalue()


def render_table(t: Totals) -> str:
    start = t.start.isoformat() if t.start else "the beginning"
    end = t.end.isoformat() if t.end else "the end"
    out = [f"points (积分) from {start} to {end} (exclusive): {t.events} ledger event(s)", ""]
    rows = [("kind", "id", "awarded", "reversed", "net")]
    rows += [(k, i, str(x.awarded), str(x.reversed), str(x.net))
             for (k, i), x in t.by_person.items()]
    out += _table(rows)
    out += ["", "by kind"]
    rows = [("kind", "people", "awarded", "reversed", "net")]
    rows += [(k, str(len(x.people)), str(x.awarded), str(x.reversed), str(x.net))
             for k, x in t.by_kind.items()]
    out += _table(rows)
    return "\n".join(out) + "\n"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]
