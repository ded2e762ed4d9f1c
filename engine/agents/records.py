"""``Record``: one record the shell produces (a changelog state, a tombstone, an output event)."""

from __future__ import annotations

from typing import NamedTuple


class Record(NamedTuple):
    """One record to produce: ``partition`` None = by key (outputs), set = changelog."""

    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone (the changelog forgets the key)
    partition: int | None = None


class Landed(NamedTuple):
    """A delivered record batch: where it is, and the offset of its last record."""

    topic: str
    partition: int
    last_offset: int
