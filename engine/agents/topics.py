"""Topic administration with kafka-python: create what is missing, with one partition count.

Every topic the engine reads or writes (including Faust's table changelog and the tick topic)
is created before a worker starts: Tansu auto-creates unknown topics with 4 partitions, and a
partition mismatch makes Faust crash-loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("whistle.topics")


@dataclass(frozen=True)
class Topics:
    """The engine's topic names (with the deployment's prefix): built once, from ``Settings``."""

    events: str = "issues.events"
    lifecycle: str = "issues.lifecycle"
    closed: str = "issues.closed"
    rejected: str = "issues.rejected"
    ticks: str = "whistle.ticks"
    points: str = "points.ledger"  # points.awarded / points.reversed (docs/points.md)

    @classmethod
    def with_prefix(cls, prefix: str) -> Topics:
        return cls(**{k: f"{prefix}{v}" for k, v in cls().__dict__.items()})


def ensure_topics(
    config: dict[str, Any], names: Iterable[str], partitions: int, replication: int,
    compacted: Iterable[str] = (),
) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left alone."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**config)
    try:
        existing = set(admin.list_topics())
        compact = set(compacted)
        wanted = [n for n in dict.fromkeys(names) if n not in existing]
        new = [
            NewTopic(name=n, num_partitions=partitions, replication_factor=replication,
                     topic_configs={"cleanup.policy": "compact"} if n in compact else {})
            for n in wanted
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                admin.create_topics(new)
            log.info("topics created", topics=wanted, partitions=partitions)
        return wanted
    finally:
        admin.close()
