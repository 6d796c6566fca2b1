"""Parse condition text into a checked :mod:`crmkit.conditions.ast` tree.

Paths are checked against a :class:`Schema`, so a typo or an unknown facet value is an
error at load time, with its column, rather than a rule that silently never fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedEOF, UnexpectedInput
from lark.exceptions import UnexpectedToken, VisitError

from crmkit.conditions.ast import And, Compare, Has, In, Node, Or, Scalar, negate
from crmkit.errors import ConditionError

# Built-in contact attributes a condition may read, with their value type.
CONTACT_ATTRIBUTES: dict[str, type] = {
    "id": int,
    "first_name": str,
    "last_name": str,
    "email": str,
    "phone": str,
    "account": str,
    "archived": bool,
    "score": float,
}
EQUALITY_OPS = frozenset({"==", "!="})


@dataclass(frozen=True)
class Schema:
    """What a condition may refer to.

    ``facets`` maps each known facet to its values; ``events`` says whether ``event.*``
    paths are allowed (rules: yes; contact searches: no).
    """

    facets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    events: bool = True


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = files("crmkit.conditions").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", maybe_placeholders=False)


class _Builder(Transformer[Token, Any]):
    def __init__(self, text: str, schema: Schema) -> None:
        super().__init__()
        self.text = text
        self.schema = schema

    def _fail(self, token: Token, reason: str) -> ConditionError:
        return ConditionError(self.text, reason, token.column)

    # values ------------------------------------------------------------------
    def number(self, items: list[Token]) -> Scalar:
        raw = str(items[0])
        return float(raw) if any(c in raw for c in ".eE") else int(raw)

    def string(self, items: list[Token]) -> Scalar:
        raw = str(items[0])[1:-1]
        return raw.encode("latin-1", "backslashreplace").decode("unicode_escape")

    def word(self, items: list[Token]) -> Scalar:
        raw = str(items[0])
        return {"true": True, "false": False}.get(raw, raw)

    def values(self, items: list[Scalar]) -> tuple[Scalar, ...]:
        return tuple(items)

    # checks ------------------------------------------------------------------
    def _check(self, path: Token, op: str, values: Sequence[Scalar]) -> str:
        name = str(path)
        parts = name.split(".")
        root = parts[0]
        if root == "event":
            if not self.schema.events:
                raise self._fail(path, "event paths are only allowed in rules")
            if name == "event.kind":
                if op not in EQUALITY_OPS | {"in"}:
                    raise self._fail(path, f"event.kind does not support {op!r}")
                return name
            if len(parts) >= 3 and parts[1] == "data":
                return name
            raise self._fail(path, f"unknown path {name!r} (use event.kind or event.data.NAME)")
        if root != "contact":
            raise self._fail(path, f"unknown path {name!r}: paths start with contact. or event.")
        attr = parts[1]
        if attr == "fields" and len(parts) >= 3:
            return name
        if len(parts) != 2:
            raise self._fail(path, f"unknown path {name!r}")
        if attr == "tags":
            if op != "has":
                raise self._fail(path, "contact.tags is tested with 'has' or 'not has'")
            return name
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
            return name
        kind = CONTACT_ATTRIBUTES.get(attr)
        if kind is None:
            known = sorted([*CONTACT_ATTRIBUTES, *self.schema.facets, "tags", "fields.NAME"])
            raise self._fail(
                path, f"unknown path {name!r} (known: contact.{', contact.'.join(known)})"
            )
        for value in values:
            ok = (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                if kind in (int, float)
                else isinstance(value, kind)
            )
            if not ok:
                raise self._fail(path, f"{name} compares with a {kind.__name__}, not {value!r}")
        if kind in (str, bool) and op not in EQUALITY_OPS | {"in"}:
            raise self._fail(path, f"{name} does not support {op!r}")
        return name

    # nodes -------------------------------------------------------------------
    def compare(self, items: list[Any]) -> Node:
        path, op, value = items
        operator = "==" if str(op) == "=" else str(op)
        return Compare(self._check(path, operator, [value]), operator, value)

    def _in(self, items: list[Any], negated: bool) -> Node:
        path, values = items
        if not values:
            raise self._fail(path, "an 'in' list needs at least one value")
        return In(self._check(path, "in", values), tuple(values), negated)

    def in_(self, items: list[Any]) -> Node:
        return self._in(items, False)

    def not_in(self, items: list[Any]) -> Node:
        return self._in(items, True)

    def _has(self, items: list[Any], negated: bool) -> Node:
        path, value = items
        if not isinstance(value, str):
            raise self._fail(path, f"a tag is a word or a string, not {value!r}")
        return Has(self._check(path, "has", [value]), value, negated)

    def has(self, items: list[Any]) -> Node:
        return self._has(items, False)

    def not_has(self, items: list[Any]) -> Node:
        return self._has(items, True)

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
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF:
        raise ConditionError(text, "the condition ends too early", len(text) + 1) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise ConditionError(text, "the condition ends too early", len(text) + 1) from None
        raise ConditionError(text, f"unexpected {str(exc.token)!r}", exc.column) from None
    except UnexpectedInput as exc:
        snippet = text[max(exc.column - 1, 0) : exc.column + 9]
        raise ConditionError(text, f"unexpected input near {snippet!r}", exc.column) from None
    try:
        node: Node = _Builder(text, schema or Schema()).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionError):
            raise exc.orig_exc from None
        raise
    return node
