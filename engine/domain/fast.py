"""Trusted construction of the core's own frozen models, without validation.

The core builds every value it emits from values it already holds, so validating them again
(pydantic's ``__init__``) or going through ``model_construct`` (a Python loop over all fields)
costs 4-8 us a model, several times per decision: most of the decision's time. ``build`` and
``replace`` do what ``model_construct``/``model_copy`` do for our plain frozen models (no
validators that transform, no private attributes, no extras), in about a microsecond.
Boundaries still validate: inbound events are parsed strictly, and states read back from a
table go through ``model_validate``.

Rejected: stdlib dataclasses for the state (fast, but then serialisation, JSON Schemas and
strict parsing of stored states would be ours to write twice).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_defaults: dict[type[BaseModel], tuple[dict[str, Any], set[str]]] = {}
_setattr = object.__setattr__


def _defaults_of(cls: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
    found = _defaults.get(cls)
    if found is None:
        defaults = {
            name: field.get_default(call_default_factory=True)
            for name, field in cls.model_fields.items()
            if not field.is_required()
        }
        found = (defaults, set(cls.model_fields))
        _defaults[cls] = found
    return found


def build(cls: type[M], **fields: Any) -> M:
    """``cls(**fields)`` for trusted values: defaults filled in, nothing validated.

    Every field counts as set, and all instances of a class share that one ``fields_set``
    (pydantic copies it before it changes it): a set per instance would double the memory of
    every open issue.
    """
    defaults, all_fields = _defaults_of(cls)
    obj = cls.__new__(cls)
    _setattr(obj, "__dict__", {**defaults, **fields})
    _setattr(obj, "__pydantic_fields_set__", all_fields)
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


def replace(model: M, **changes: Any) -> M:
    """A copy of ``model`` with ``changes``; like ``model_copy(update=...)``, only cheaper."""
    cls = type(model)
    obj = cls.__new__(cls)
    values = model.__dict__.copy()
    values.update(changes)
    _setattr(obj, "__dict__", values)
    _setattr(obj, "__pydantic_fields_set__", _defaults_of(cls)[1])
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


def amend(model: BaseModel, changes: dict[str, Any]) -> None:
    """Change ``model`` in place, frozen or not: only for a copy nobody else holds yet (a
    decision's draft state, before the decision returns it)."""
    model.__dict__.update(changes)
