"""``whistle publish`` and ``whistle tail``: the synchronous side, on kafka-python."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from engine.domain.parse import Accepted, parse
from engine.domain.ruleset import Ruleset


def validate_lines(path: Path, rules: Ruleset) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """(key, value) of every valid line, and ``FILE:LINE: reason: detail`` for the others."""
    good: list[tuple[bytes, bytes]] = []
    bad: list[str] = []
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            raw = line.strip()
            if not raw:
                continue
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


def summary(value: bytes) -> str:
    try:
        e = json.loads(value)
        d = e.get("data", {})
    except (ValueError, AttributeError):
        return value[:200].decode("utf-8", "replace")
    if "reason" in e and "topic" in e:  # a rejected record
        return f"REJECTED {e['reason']}: {e.get('detail', '')}"
    parts = [str(e.get("time", "")), str(e.get("type", "")), str(e.get("subject", ""))]
    for k in ("level", "units", "from_level", "to_level", "reason", "kind", "unit", "count",
              "outcome", "satisfied", "closed_level", "on_time"):
        if k in d:
            parts.append(f"{k}={d[k]}")
    return " ".join(parts)


def tail(config: dict[str, Any], topics: list[str], from_beginning: bool, as_json: bool,
         out: TextIO = sys.stdout, limit: int | None = None, idle_ms: int | None = None) -> int:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        *topics, **config, auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False, group_id=None,
        consumer_timeout_ms=idle_ms if idle_ms is not None else float("inf"),
    )
    seen = 0
    try:
        for record in _records(consumer):
            line = record.value.decode("utf-8", "replace") if as_json else (
                f"[{record.topic}] {summary(record.value)}")
            print(line, file=out, flush=True)
            seen += 1
            if limit is not None and seen >= limit:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return seen


def _records(consumer: Any) -> Iterator[Any]:
    yield from consumer
