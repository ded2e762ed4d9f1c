"""``whistle publish`` and ``whistle tail``: the synchronous side, on kafka-python."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from engine.domain.parse import Accepted, parse
from engine.domain.ruleset import Ruleset
from engine.streams.jsonl import lines
from engine.streams.kafka import read
from engine.streams.render import line


def validate_lines(path: Path, rules: Ruleset) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """(key, value) of every valid line, and ``FILE:LINE: reason: detail`` for the others."""
    good: list[tuple[bytes, bytes]] = []
    bad: list[str] = []
    for n, raw in lines(path):
        parsed = parse(raw, None, rules.registry.grids)
        if isinstance(parsed, Accepted):
            good.append((parsed.event.subject.encode(), raw))
        else:
            bad.append(f"{path}:{n}: {parsed.reason}: {parsed.detail}")
    return good, bad


def publish(config: dict[str, Any], topic: str, records: list[tuple[bytes, bytes]]) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(**config, linger_ms=20, acks="all")
    try:
        futures = [producer.send(topic, key=k, value=v) for k, v in records]
        producer.flush()
        for fut in futures:
            fut.get(timeout=30)
    finally:
        producer.close()
    return len(records)


def tail(config: dict[str, Any], topics: list[str], from_beginning: bool, as_json: bool,
         out: TextIO = sys.stdout, limit: int | None = None, idle_ms: int | None = None) -> int:
    """Print each record of ``topics`` as it comes (``engine.streams.render.line``, or the raw
    value with ``as_json``); stop after ``limit`` records or ``idle_ms`` without one."""
    seen = 0
    idle = idle_ms / 1000 if idle_ms is not None else None
    try:
        for record in read(config, topics, from_beginning=from_beginning, idle_seconds=idle):
            text = (record.value or b"").decode("utf-8", "replace") if as_json else (
                f"[{record.topic}] {line(record.value)}")
            print(text, file=out, flush=True)
            seen += 1
            if limit is not None and seen >= limit:
                break
    except KeyboardInterrupt:
        pass
    return seen
