"""Parse condition text into a checked :mod:`crmkit.conditions.ast` tree.

Paths are checked against a :class:`Schema`, so a typo or an unknown facet value is an
error at load time, with its column, rather than a rule that silently never fires.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Transformer, Tree, UnexpectedEOF, UnexpectedInput
from lark.exceptions import UnexpectedToken, VisitError

from crmkit.clock import as_utc
from crmkit.conditions import literals
from crmkit.conditions.ast import (
    NEGATE_OP,
    Ago,
    And,
    Compare,
    Has,
    History,
    In,
    Node,
    Or,
    Scalar,
    negate,
)
from crmkit.conditions.literals import LiteralError
from crmkit.contact_fields import COMPUTED_ATTRIBUTES, CONTACT_ATTRIBUTES
from crmkit.errors import ConditionError

EQUALITY_OPS = frozenset({"==", "!="})
# The history function built into the language; plugins add others (Schema.macros).
HAD_EVENT = "had_event"

# Explicit bounds, so that no condition can take the parser, the SQL compiler, the
# databases (SQLite refuses expressions deeper than 1,000) or the compiled rule backend
# (Python's own parser) anywhere near a recursion limit: nesting counts parentheses and
# ``not``; tests count comparisons, ``has`` and history tests. PostgreSQL's planner time
# grows with the cube of the number of EXISTS tests ANDed (64: about 1.5 s on a busy
# 2-core machine, 256: 90 s), which sets MAX_TESTS.
MAX_LENGTH = 50_000
MAX_DEPTH = 32
MAX_TESTS = 64
MAX_LIST_VALUES = 1_000
_TESTS = frozenset({"compare", "in_", "not_in", "has", "not_has", "history"})


@dataclass(frozen=True)
class Schema:
    """What a condition may refer to.

    ``facets`` maps each known facet to its values; ``events`` says whether ``event.*``
    paths are allowed (rules: yes; contact searches: no). With ``open_facets``, a
    contact path that is not a built-in attribute is taken as a facet of a tenant not
    known yet (its values are checked when the condition runs on one). ``macros`` are
    the history functions plugins add (``engaged``: see
    :mod:`crmkit.conditions.macros`), each with the event condition it adds.
    """

    facets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    events: bool = True
    open_facets: bool = False
    macros: Mapping[str, Node] = field(default_factory=dict)
    # What the condition belongs to, named by the errors ("a search", "a tick rule").
    place: str = "a search"


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = files("crmkit.conditions").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        start=["start", "moment"],
        maybe_placeholders=False,
        propagate_positions=True,
    )


class _Builder(Transformer[Token, Any]):
    def __init__(self, text: str, schema: Schema) -> None:
        super().__init__()
        self.text = text
        self.schema = schema
        # In a search, event paths may only appear inside a history test; the columns of
        # the ones seen so far, checked when the whole condition is built.
        self.search_event_paths: dict[str, int] = {}

    def _fail(self, token: Token, reason: str) -> ConditionError:
        return ConditionError(self.text, reason, token.column)

    def _literal(self, token: Token, error: LiteralError, skip: int = 0) -> ConditionError:
        return ConditionError(self.text, error.reason, (token.column or 1) + skip + error.offset)

    # values ------------------------------------------------------------------
    def number(self, items: list[Token]) -> Scalar:
        try:
            return literals.number(str(items[0]))
        except LiteralError as exc:
            raise self._literal(items[0], exc) from None

    def string(self, items: list[Token]) -> Scalar:
        raw = str(items[0])[1:-1]
        try:
            return literals.unescape(raw)
        except LiteralError as exc:
            raise self._literal(items[0], exc, skip=1) from None

    def word(self, items: list[Token]) -> Scalar:
        raw = str(items[0])
        return {"true": True, "false": False}.get(raw, raw)

    def ago(self, items: list[Token]) -> Ago:
        unit = str(items[1]).rstrip("s")
        try:
            return Ago(literals.span(str(items[0]), unit), unit)
        except LiteralError as exc:
            raise self._literal(items[0], exc) from None

    def moment(self, items: list[Token]) -> Ago:
        return self.ago(items)

    def values(self, items: list[Scalar]) -> tuple[Scalar, ...]:
        return tuple(items)

    # checks ------------------------------------------------------------------
    def _check(self, path: Token, op: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """Check a path and its values; return the path and the values to compare with."""
        name = str(path)
        parts = name.split(".")
        root = parts[0]
        values = list(values)
        if any(isinstance(v, Ago) for v in values) and not (
            root == "contact" and CONTACT_ATTRIBUTES.get(parts[-1]) == "time"
        ):
            raise self._fail(path, f"'... ago' only compares with a time, and {name} is not one")
        if root == "event":
            if not self.schema.events:
                self.search_event_paths.setdefault(name, path.column or 1)
            if name == "event.kind":
                if op not in EQUALITY_OPS | {"in"}:
                    raise self._fail(path, f"event.kind does not support {op!r}")
                return name, values
            if len(parts) >= 3 and parts[1] == "data":
                return name, values
            raise self._fail(path, f"unknown path {name!r} (use event.kind or event.data.NAME)")
        if root != "contact":
            raise self._fail(path, f"unknown path {name!r}: paths start with contact. or event.")
        attr = parts[1]
        if attr == "fields" and len(parts) >= 3:
            return name, values
        if len(parts) != 2:
            raise self._fail(path, f"unknown path {name!r}")
        if attr == "tags":
            if op != "has":
                raise self._fail(path, "contact.tags is tested with 'has' or 'not has'")
            return name, values
        if op == "has":
            raise self._fail(path, "'has' only applies to contact.tags")
        if attr in self.schema.facets:
            allowed = list(self.schema.facets[attr])
            if op not in EQUALITY_OPS | {"in"}:
                raise self._fail(path, f"facet {attr!r} supports ==, !=, in and not in only")
            for value in values:
                if value not in allowed:
                    raise self._fail(
                        path,
                        f"{value!r} is not a value of facet {attr!r} "
                        f"(allowed: {', '.join(allowed)})",
                    )
            return name, values
        kind = CONTACT_ATTRIBUTES.get(attr)
        if kind is None and self.schema.open_facets:
            if op not in EQUALITY_OPS | {"in"}:
                raise self._fail(path, f"facet {attr!r} supports ==, !=, in and not in only")
            return name, values
        if kind is None:
            known = sorted([*CONTACT_ATTRIBUTES, *self.schema.facets, "tags", "fields.NAME"])
            raise self._fail(
                path, f"unknown path {name!r} (known: contact.{', contact.'.join(known)})"
            )
        if attr in COMPUTED_ATTRIBUTES and self.schema.events:
            raise self._fail(path, f"{name} is worked out by searches; rules cannot use it")
        return name, [self._typed(path, name, kind, op, value) for value in values]

    def _typed(self, path: Token, name: str, kind: str, op: str, value: Any) -> Any:
        if kind == "time":
            if isinstance(value, (Ago, datetime)):
                try:
                    return _checked_time(value)
                except LiteralError as exc:
                    raise self._fail(path, f"{name}: {exc.reason}") from None
            if isinstance(value, str):
                try:
                    return as_utc(datetime.fromisoformat(value))
                except (ValueError, OverflowError):
                    pass  # not a time at all, or one that leaves the calendar in UTC
            raise self._fail(
                path, f'{name} compares with a time ("2026-05-01" or 30 days ago), not {value!r}'
            )
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._fail(path, f"{name} compares with a number, not {value!r}")
            return value
        expected = bool if kind == "bool" else str
        if not isinstance(value, expected):
            raise self._fail(path, f"{name} compares with a {kind}, not {value!r}")
        if op not in EQUALITY_OPS | {"in"}:
            raise self._fail(path, f"{name} does not support {op!r}")
        return value

    # nodes -------------------------------------------------------------------
    def compare(self, items: list[Any]) -> Node:
        path, op, value = items
        operator = "==" if str(op) == "=" else str(op)
        name, (checked,) = self._check(path, operator, [value])
        return Compare(name, operator, checked)

    def _in(self, items: list[Any], negated: bool) -> Node:
        path, values = items
        if not values:
            raise self._fail(path, "an 'in' list needs at least one value")
        name, checked = self._check(path, "in", values)
        return In(name, tuple(checked), negated)

    def in_(self, items: list[Any]) -> Node:
        return self._in(items, False)

    def not_in(self, items: list[Any]) -> Node:
        return self._in(items, True)

    def _has(self, items: list[Any], negated: bool) -> Node:
        path, value = items
        if not isinstance(value, str):
            raise self._fail(path, f"a tag is a word or a string, not {value!r}")
        name, _ = self._check(path, "has", [value])
        return Has(name, value, negated)

    def has(self, items: list[Any]) -> Node:
        return self._has(items, False)

    def not_has(self, items: list[Any]) -> Node:
        return self._has(items, True)

    def window(self, items: list[Token]) -> Ago:
        return self.ago(items)

    def history(self, items: list[Any]) -> Node:
        keyword: Token = items[0]
        condition = next((i for i in items[1:] if not isinstance(i, Ago) and i is not None), None)
        within = next((i for i in items[1:] if isinstance(i, Ago)), None)
        if self.schema.events:
            raise self._fail(
                keyword,
                f"{keyword}(...) reads the contact's event history, which an event rule does "
                "not see (it sees one event: test event.kind or event.data.NAME); use it in "
                "a tick rule (trigger: tick) or a search",
            )
        if condition is not None:
            outside = sorted(p for p in _all_paths(condition) if not p.startswith("event."))
            if outside:
                raise self._fail(
                    keyword,
                    f"inside {keyword}(...) only event.kind and event.data.* apply, "
                    f"not {outside[0]}",
                )
        name = str(keyword)
        if name != HAD_EVENT:
            added = self.schema.macros.get(name)
            if added is None:
                known = ", ".join(f"{n}(...)" for n in sorted({HAD_EVENT, *self.schema.macros}))
                raise self._fail(keyword, f"unknown function {name!r}: a search may use {known}")
            condition = added if condition is None else And((added, condition))
        return History(condition, within)

    def and_(self, items: list[Node]) -> Node:
        return items[0] if len(items) == 1 else And(tuple(items))

    def or_(self, items: list[Node]) -> Node:
        return items[0] if len(items) == 1 else Or(tuple(items))

    def not_(self, items: list[Node]) -> Node:
        return negate(items[0])


def parse_condition(text: str, schema: Schema | None = None) -> Node:
    """Parse and check ``text``; raise :class:`ConditionError` with the column on error."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(str(text), "a condition must be a non-empty string")
    tree = _parse(text, "start")
    _check_size(text, tree)
    builder = _Builder(text, schema or Schema())
    schema_macros = builder.schema.macros
    node: Node = _build(builder, tree)
    stray = sorted(_all_paths(node, outside_history=True) & set(builder.search_event_paths))
    if stray and builder.schema.place == "a tick rule":
        raise ConditionError(
            text,
            f"{stray[0]}: a tick rule looks at contacts, not at one event; test the "
            f"contact's events inside {HAD_EVENT}(...) ({HAD_EVENT}(event.kind == X) within "
            "7 days), or make it an event rule (without trigger: tick)",
            builder.search_event_paths[stray[0]],
        )
    if stray:
        raise ConditionError(
            text,
            f"{stray[0]}: event paths are only allowed in rules, or inside a history "
            f"function ({HAD_EVENT}(...){''.join(f', {m}(...)' for m in sorted(schema_macros))})"
            " in searches",
            builder.search_event_paths[stray[0]],
        )
    return node


def parse_moment(text: str) -> datetime | Ago:
    """A time as a search option gives it: an ISO date or time (UTC unless it says), or a
    relative time such as ``30 days ago``; :class:`ConditionError` otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(str(text), "a time must be a non-empty string")
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except (ValueError, OverflowError):
        pass  # not an ISO time: a relative one, or an error
    try:
        tree = _parse(text, "moment")
    except ConditionError as exc:
        raise ConditionError(
            text, 'use an ISO date ("2026-05-01") or a time such as "30 days ago"', exc.column
        ) from None
    moment: Ago = _build(_Builder(text, Schema()), tree)
    return moment


def _parse(text: str, start: str) -> Tree[Token]:
    """The parse tree of ``text`` from the grammar rule ``start``, after the checks that
    must come before any parsing (length, text no database can encode)."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(
            text, f"the condition is {len(text):,} characters long; at most {MAX_LENGTH:,}"
        )
    try:
        literals.check_text(text)
    except LiteralError as exc:
        column = exc.offset - text.rfind("\n", 0, exc.offset)
        raise ConditionError(text, exc.reason, column) from None
    try:
        return _parser().parse(text, start=start)
    except UnexpectedInput as exc:
        raise _explained(text, exc) from None


# What may follow a path, for the error naming an operator the language does not have.
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "has", "not has")
_ALSO_ACCEPTED = frozenset({"="})
_PATH_AND_OPERATOR = re.compile(
    r"(?<![\w.\"])([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_]+)+)\s*([=!<>~]+|[A-Za-z_]+(?:\s+(?:in|has)\b)?)"
)


def _explained(text: str, exc: UnexpectedInput) -> ConditionError:
    """The error for a parse failure, naming the newcomer's usual slips where it can:
    single quotes, an operator the language does not have."""
    column = getattr(exc, "column", None)
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return ConditionError(text, "the condition ends too early", len(text) + 1)
    offset = _offset(text, exc)
    if offset is not None and offset < len(text) and text[offset] == "'":
        return ConditionError(
            text, 'strings are written in double quotes ("hot lead"), not single quotes', column
        )
    for match in _PATH_AND_OPERATOR.finditer(text):
        if offset is not None and match.start(2) > offset:
            break
        operator = " ".join(match.group(2).split())
        if operator not in OPERATORS and operator not in _ALSO_ACCEPTED:
            return ConditionError(
                text,
                f"unknown operator {operator!r} after {match.group(1)} "
                f"(operators: {', '.join(OPERATORS)})",
                match.start(2) - text.rfind("\n", 0, match.start(2)),
            )
    if isinstance(exc, UnexpectedToken):
        return ConditionError(text, f"unexpected {str(exc.token)!r}", column)
    snippet = text[max((column or 1) - 1, 0) : (column or 1) + 9]
    return ConditionError(text, f"unexpected input near {snippet!r}", column)


def _offset(text: str, exc: UnexpectedInput) -> int | None:
    """Where in ``text`` the parse failed (a character offset), if Lark says."""
    if isinstance(exc, UnexpectedToken):
        start = exc.token.start_pos
        return start if isinstance(start, int) else None
    position = getattr(exc, "pos_in_stream", None)
    return position if isinstance(position, int) else None


def _build(builder: _Builder, tree: Tree[Token]) -> Any:
    try:
        return builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionError):
            raise exc.orig_exc from None
        raise


def _check_size(text: str, tree: Tree[Token]) -> None:
    """Refuse a parse nested deeper than MAX_DEPTH or holding more than MAX_TESTS tests
    (or a list longer than MAX_LIST_VALUES), walking it without recursion."""
    tests = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        column = getattr(node.meta, "column", None)
        # Each parenthesis opens an ``or_`` node (the whole condition is one too).
        if node.data in ("or_", "not_"):
            depth += 1
            if depth > MAX_DEPTH + 1:
                raise ConditionError(
                    text,
                    f"the condition nests deeper than {MAX_DEPTH} levels of parentheses and 'not'",
                    column,
                )
        if node.data in _TESTS:
            tests += 1
            if tests > MAX_TESTS:
                raise ConditionError(
                    text, f"the condition holds more than {MAX_TESTS} tests", column
                )
        if node.data == "values" and len(node.children) > MAX_LIST_VALUES:
            raise ConditionError(
                text, f"an 'in' list holds more than {MAX_LIST_VALUES:,} values", column
            )
        children = [c for c in node.children if isinstance(c, Tree)]
        stack.extend((child, depth) for child in reversed(children))  # in text order


def check_tree(node: Node, schema: Schema) -> Node:
    """Check a condition built in code (a tree, not text) as :func:`parse_condition`
    checks text: paths, operators, values and the size bounds; return it with values
    in the form the backends compare (times in UTC...). Errors are ConditionError."""
    return _TreeChecker(schema).node(node, 1)


class _TreeChecker:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.events = replace(schema, events=True)
        self.tests = 0

    def node(self, node: Node, depth: int, inside_history: bool = False) -> Node:
        if depth > MAX_DEPTH + 1:
            raise ConditionError(
                "(a condition tree)", f"the condition nests deeper than {MAX_DEPTH} levels"
            )
        if isinstance(node, (And, Or)):
            if not isinstance(node.items, tuple) or not node.items:
                raise ConditionError(repr(node)[:200], "'and' and 'or' need at least one item")
            items = tuple(self.node(item, depth + 1, inside_history) for item in node.items)
            return type(node)(items)
        self.tests += 1
        if self.tests > MAX_TESTS:
            raise ConditionError(
                "(a condition tree)", f"the condition holds more than {MAX_TESTS} tests"
            )
        if isinstance(node, History) and not inside_history:
            return self.history(node, depth)
        if isinstance(node, (Compare, In, Has)):
            return self.leaf(node, inside_history)
        raise ConditionError(repr(node)[:200], "not a condition node")

    def history(self, node: History, depth: int) -> Node:
        within: Ago | None = None
        if node.within is not None:
            try:
                checked = _checked_time(node.within)
            except LiteralError as exc:
                raise ConditionError(repr(node.within), exc.reason) from None
            if not isinstance(checked, Ago):
                raise ConditionError(repr(node.within), "a history window is a relative time")
            within = checked
        inner = None if node.condition is None else self.node(node.condition, depth + 1, True)
        return History(inner, within, bool(node.negated))

    def leaf(self, node: Compare | In | Has, inside_history: bool) -> Node:
        values = list(node.values) if isinstance(node, In) else [node.value]
        shown = f"{node.path} {getattr(node, 'op', 'in')} {values!r}"[:200]
        if not isinstance(node.path, str) or (node.path.startswith("event.") != inside_history):
            where = "inside a history test" if inside_history else "in a contact search"
            raise ConditionError(shown, f"path {node.path!r} cannot be used {where}")
        if len(values) > MAX_LIST_VALUES:
            raise ConditionError(shown, f"an 'in' list holds more than {MAX_LIST_VALUES:,} values")
        for value in values:
            try:
                _checked_scalar(value)
            except LiteralError as exc:
                raise ConditionError(shown, exc.reason) from None
        builder = _Builder(shown, self.events if inside_history else self.schema)
        path = Token("PATH", node.path)
        if isinstance(node, Compare):
            if node.op not in NEGATE_OP:
                raise ConditionError(shown, f"unknown operator {node.op!r}")
            name, (value,) = builder._check(path, node.op, values)
            return Compare(name, node.op, value)
        if isinstance(node, In):
            if not values:
                raise ConditionError(shown, "an 'in' list needs at least one value")
            name, checked = builder._check(path, "in", values)
            return In(name, tuple(checked), bool(node.negated))
        if not isinstance(node.value, str):
            raise ConditionError(shown, f"a tag is a word or a string, not {node.value!r}")
        name, _ = builder._check(path, "has", values)
        return Has(name, node.value, bool(node.negated))


def _checked_scalar(value: object) -> None:
    """Refuse a value built in code that text could not have written."""
    if isinstance(value, str):
        literals.check_text(value)
    elif isinstance(value, bool | datetime | Ago):
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise LiteralError(f"the number {value} is not finite")
    elif isinstance(value, int):
        literals.number(str(value))
    else:
        raise LiteralError(f"{value!r} is not a text, a number, yes/no or a time")


def _checked_time(value: datetime | Ago) -> datetime | Ago:
    if isinstance(value, datetime):
        try:
            return as_utc(value)
        except OverflowError:
            raise LiteralError(f"{value.isoformat()} is outside the calendar in UTC") from None
    if value.unit not in literals.UNIT_DAYS or isinstance(value.amount, bool):
        raise LiteralError(f"{value!r} is not a relative time")
    return Ago(literals.span(value.amount, value.unit), value.unit)


def _all_paths(node: Node, outside_history: bool = False) -> set[str]:
    """Every path in the condition (only those outside history tests if asked)."""
    if isinstance(node, (And, Or)):
        return set().union(*(_all_paths(item, outside_history) for item in node.items))
    if isinstance(node, History):
        if outside_history or node.condition is None:
            return set()
        return _all_paths(node.condition)
    return {node.path}
