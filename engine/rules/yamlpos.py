"""YAML with positions: every mapping key, value and list item keeps its file, line and column.

``yaml.safe_load`` throws positions away and silently keeps the last of two equal keys, so the
loader composes the node graph (``SafeLoader.get_single_node``) and converts it here into small
frozen values that carry a ``Mark``. Scalars are still resolved the YAML 1.1 way by PyYAML's
``SafeConstructor`` (``2027-01-01`` is a date, ``off`` is false, ``30`` is an int): the section
parsers decide what each field accepts. Rejected alternatives: ruamel.yaml (round-trip
positions, but another dependency with its own YAML 1.2 resolution) and re-scanning the text for
keys (fragile with flow mappings and anchors).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.rules.errors import Mark, Problems

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

ScalarValue = str | int | float | bool | None | date | datetime


@dataclass(frozen=True)
class Scalar:
    value: ScalarValue
    mark: Mark


@dataclass(frozen=True)
class Seq:
    items: tuple[YNode, ...]
    mark: Mark


@dataclass(frozen=True)
class Key:
    name: str
    mark: Mark


@dataclass(frozen=True)
class Map:
    entries: tuple[tuple[Key, YNode], ...]
    mark: Mark

    def get(self, name: str) -> YNode | None:
        for key, value in self.entries:
            if key.name == name:
                return value
        return None


YNode = Scalar | Seq | Map


def describe(node: YNode) -> str:
    """How a value reads in an error message: ``a list``, ``nothing``, ``the number 30``."""
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    value = node.value
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, datetime):
        return f"the timestamp {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return f'"{value}"'


def _mark(file: str, node: Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, file: str, problems: Problems) -> None:
        self.file = file
        self.problems = problems
        self.constructor = SafeConstructor()
        self.active: set[int] = set()  # nodes being converted: an alias to one is a cycle

    def node(self, node: Node) -> YNode:
        mark = _mark(self.file, node)
        if id(node) in self.active:
            self.problems.error(mark, "yaml: recursive alias")
            return Scalar(None, mark)
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                self._plain_tag(node, _MAP_TAG, mark)
                return self.mapping(node, mark)
            if isinstance(node, SequenceNode):
                self._plain_tag(node, _SEQ_TAG, mark)
                return Seq(tuple(self.node(item) for item in node.value), mark)
            return self.scalar(node, mark)
        finally:
            self.active.discard(id(node))

    def _plain_tag(self, node: Node, expected: str, mark: Mark) -> None:
        if node.tag != expected:
            self.problems.error(mark, f"yaml: unsupported tag {node.tag}")

    def scalar(self, node: Node, mark: Mark) -> Scalar:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.problems.error(mark, f"yaml: bad value {node.value!r}: {problem}")
            return Scalar(None, mark)
        if not isinstance(value, str | int | float | bool | date | datetime | None):
            self.problems.error(mark, f"yaml: unsupported value {node.value!r}")
            return Scalar(None, mark)
        return Scalar(value, mark)

    def mapping(self, node: MappingNode, mark: Mark) -> Map:
        entries: list[tuple[Key, YNode]] = []
        first: dict[str, Key] = {}
        merged: list[tuple[Key, YNode]] = []
        for key_node, value_node in node.value:
            key_mark = _mark(self.file, key_node)
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_source(self.node(value_node), key_mark))
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.error(key_mark, "a key must be a plain name, not a list or mapping")
                continue
            key = Key(str(key_node.value), key_mark)
            if key.name in first:
                self.problems.error(
                    key_mark,
                    f'duplicate key "{key.name}" (first at line {first[key.name].mark.line})',
                )
                continue
            first[key.name] = key
            entries.append((key, self.node(value_node)))
        # Merge keys (``<<: *base``): explicit keys win over merged ones, silently (that is
        # what a merge is for); the merged entries keep the anchor's positions.
        for key, value in merged:
            if key.name not in first:
                first[key.name] = key
                entries.append((key, value))
        return Map(tuple(entries), mark)

    def _merge_source(self, value: YNode, mark: Mark) -> list[tuple[Key, YNode]]:
        sources = value.items if isinstance(value, Seq) else (value,)
        out: list[tuple[Key, YNode]] = []
        for source in sources:
            if not isinstance(source, Map):
                self.problems.error(mark, f"yaml: << must merge a mapping, got {describe(source)}")
                continue
            out.extend(source.entries)
        return out


def _text_mark(file: str, text: str, index: int) -> Mark:
    before = text[:index]
    line = before.count("\n") + 1
    return Mark(file, line, index - (before.rfind("\n") + 1) + 1)


def _problem_mark(file: str, exc: yaml.MarkedYAMLError) -> Mark:
    """Where the offending token is: for a scanning error (an unfinished key or quoted string)
    that is where the token starts, not where the scanner gave up."""
    scanning = (exc.context or "").startswith("while scanning") and exc.context_mark is not None
    where = exc.context_mark if scanning else exc.problem_mark or exc.context_mark
    return Mark(file, where.line + 1, where.column + 1) if where else Mark(file)


def _problem_text(exc: yaml.MarkedYAMLError) -> str:
    """``expected ',' or ']', but got ':' (while parsing a flow sequence at line 3)``."""
    if not exc.problem or not exc.context:
        return exc.problem or exc.context or "invalid YAML"
    context = exc.context
    if not context.startswith("while"):  # "expected a single document ..., but found another"
        return f"{context}, {exc.problem}"
    if (
        not context.startswith("while scanning")
        and exc.context_mark is not None
        and exc.problem_mark is not None
        and exc.context_mark.line != exc.problem_mark.line
    ):
        context += f" at line {exc.context_mark.line + 1}"
    return f"{exc.problem} ({context})"


def load_yaml(text: str, file: str, problems: Problems) -> YNode | None:
    """The document in ``text`` with positions, or None (empty file, or a syntax error).

    Syntax errors are reported at PyYAML's mark for the problem, with its context.
    """
    try:
        # The reader refuses non-printable characters as soon as the loader is built.
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        problems.error(_text_mark(file, text, exc.position), f"yaml: {exc.reason}")
        return None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        problems.error(_problem_mark(file, exc), f"yaml: {_problem_text(exc)}")
        return None
    finally:
        loader.dispose()
    if root is None:
        return None
    return _Converter(file, problems).node(root)
