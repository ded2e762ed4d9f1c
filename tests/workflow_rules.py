"""Rule sets with supervision (an urging ladder) and parking, for the core's tests."""

from __future__ import annotations

from engine.domain.ruleset import Parking, Rule, Ruleset, UrgeStep, Urging
from tests.factories import minutes, ruleset


def with_workflow(urging: Urging | None = None, parking: Parking | None = None,
                  warn_at: float | None = 0.8) -> Ruleset:
    """``factories.ruleset()`` whose rules (emergency: street 15m/60m -> departments; default:
    grid -> village -> street -> departments; 24x7) have ``urging`` and ``parking``."""
    base = ruleset(warn_at=warn_at)
    rules: tuple[Rule, ...] = tuple(
        r.model_copy(update={"urging": urging, "parking": parking}) for r in base.rules)
    return base.model_copy(update={"rules": rules})


LADDER = Urging(limit="resolve", decay=minutes(30), steps=(
    UrgeStep(),
    UrgeStep(after=minutes(60), copy_to=("street",)),
    UrgeStep(after=minutes(180), copy_to=("street", "housing"), supervise=True),
))
PARKING = Parking(approvers=("above", "housing"), max_review=minutes(60 * 24 * 30))
