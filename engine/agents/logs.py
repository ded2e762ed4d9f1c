"""structlog set-up: JSON lines on stderr (or in a file), ``issue_id`` bound where known, no
personal data; records below the chosen level are dropped.

Only ids, codes and counts are logged: never titles, descriptions, addresses or reporter ids
(the rejected topic keeps the original bytes for the data's owner; logs do not).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure(level: str = "info", json_logs: bool = True, stream: TextIO | None = None) -> None:
    """``stream``: where the lines go (default stderr); the demo gives a file, so that the
    terminal shows its summary only."""
    out = stream or sys.stderr
    threshold = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=out, level=threshold, format="%(message)s",
                        force=stream is not None)
    for noisy in ("kafka", "aiokafka"):  # client chatter at INFO is not the operator's business
        logging.getLogger(noisy).setLevel(logging.WARNING)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json_logs
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=out),
        # below the level a call is a no-op: without this structlog renders every debug line
        # (one per unfit event) whatever --log-level says
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=True,
    )
