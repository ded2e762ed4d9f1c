"""Rule files: YAML with positions -> strict sections -> checked, compiled ``Ruleset``."""

from engine.rules.durations import parse_duration
from engine.rules.errors import RuleError
from engine.rules.loader import LoadResult, load_ruleset

__all__ = ["LoadResult", "RuleError", "load_ruleset", "parse_duration"]
