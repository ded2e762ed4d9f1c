"""Trusted construction of the core's own frozen models, without validation.

The core builds every value it emits from values it already holds, so validating them again
(pydantic's ``__init__``) or going through ``model_construct`` (a Python loop over all fields)
costs 4-8 us a model, several times per decision: most of the decision's time. ``build`` and
``replace`` do what ``model_construct``/``model_copy`` do for our plain frozen models (no
validators that transform, no private attributes, no extras), in about a microsecond;
``make`` takes a dict that already holds every field (the hot paths write them out in full),
which saves the keyword arguments and the merge with the defaults.
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
_new = object.__new__
# BaseModel's slots, set through their descriptors (no attribute lookup by name each time)
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


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
    found = _defaults.get(cls)
    defaults, all_fields = _defaults_of(cls) if found is None else found
    obj = _new(cls)
    _setattr(obj, "__dict__", {**defaults, **fields})
    _set_fields_set(obj, all_fields)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def defaults_of(cls: type[BaseModel]) -> dict[str, Any]:
    """The default values of ``cls``'s fields that have one (shared: never change it)."""
    found = _defaults.get(cls)
    return (_defaults_of(cls) if found is None else found)[0]


def make(cls: type[M], values: dict[str, Any]) -> M:
    """``build`` from a dict holding a value for *every* field of ``cls`` (defaults included:
    see ``defaults_of``), which becomes the instance's own: no keyword arguments, no copy."""
    found = _defaults.get(cls)
    obj = _new(cls)
    _setattr(obj, "__dict__", values)
    _set_fields_set(obj, (_defaults_of(cls) if found is None else found)[1])
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def replace(model: M, **changes: Any) -> M:
    """A copy of ``model`` with ``changes``; like ``model_copy(update=...)``, only cheaper."""
    cls = type(model)
    obj = _new(cls)
    values = model.__dict__.copy()
    if changes:
        values.update(changes)
    _setattr(obj, "__dict__", values)
    found = _defaults.get(cls)
    _set_fields_set(obj, (_defaults_of(cls) if found is None else found)[1])
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj


def amend(model: BaseModel, changes: dict[str, Any]) -> None:
    """Change ``model`` in place, frozen or not: only for a copy nobody else holds yet (a
    decision's draft state, before the decision returns it)."""
    model.__dict__.update(changes)
