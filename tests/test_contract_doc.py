"""docs/contract.md, the public contract users read, names what the engine really has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from engine.agents.metrics import Metrics
from engine.domain.events import INBOUND_TYPES, OutboundEvent
from engine.domain.parse import REJECTION_REASONS

CONTRACT = (Path(__file__).resolve().parent.parent / "docs" / "contract.md").read_text("utf-8")


def test_every_metric_family_the_engine_exports_is_in_the_contract() -> None:
    exported = {m.name for m in Metrics().registry.collect() if m.name.startswith("whistle_")}
    documented = set(re.findall(r"`(whistle_[a-z_]+)`", CONTRACT))
    # prometheus_client names counters without their _total suffix
    missing = {n for n in exported if n not in documented and f"{n}_total" not in documented}
    assert exported and not missing, missing


def test_every_rejection_reason_and_event_type_is_in_the_contract() -> None:
    for reason in REJECTION_REASONS:
        assert f"`{reason}`" in CONTRACT, reason
    outbound = {get_args(c.model_fields["type"].annotation)[0]
                for c in get_args(get_args(OutboundEvent)[0])}
    for type_ in set(INBOUND_TYPES) | outbound:
        assert f"`{type_}`" in CONTRACT, type_
