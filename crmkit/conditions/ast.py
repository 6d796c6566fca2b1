"""The condition tree, after parsing and ``not`` push-down.

A comparison whose left side has no value (a missing field, an empty email) is false,
whatever the operator. ``not`` is pushed down onto the comparisons (``not a == 1``
becomes ``a != 1``), so every backend (durable_rules, SQL, Python) agrees on missing
values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Ago:
    """A time relative to the moment a search runs: ``30 days ago``."""

    amount: float
    unit: str  # minute, hour, day or week

    def resolve(self, now: datetime) -> datetime:
        try:
            return now - timedelta(**{f"{self.unit}s": self.amount})
        except OverflowError:  # a clock near year 1 (a replay's, a test's): the earliest
            return datetime.min.replace(tzinfo=now.tzinfo)


Scalar = str | int | float | bool | datetime | Ago

NEGATE_OP = {"==": "!=", "!=": "==", ">": "<=", "<=": ">", "<": ">=", ">=": "<"}


@dataclass(frozen=True)
class Compare:
    path: str
    op: str
    value: Scalar


@dataclass(frozen=True)
class In:
    path: str
    values: tuple[Scalar, ...]
    negated: bool = False


@dataclass(frozen=True)
class Has:
    """``contact.tags has vip`` (or ``not has``)."""

    path: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class History:
    """The contact has (or, negated, has not) a recorded event matching ``condition``
    (on ``event.kind`` and ``event.data.*``) within the last ``within`` (any time if
    None). Searches only."""

    condition: Node | None
    within: Ago | None
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | In | Has | History | And | Or


def negate(node: Node) -> Node:
    """Return the condition that holds where ``node`` does not (De Morgan push-down)."""
    if isinstance(node, Compare):
        return Compare(node.path, NEGATE_OP[node.op], node.value)
    if isinstance(node, In):
        return In(node.path, node.values, not node.negated)
    if isinstance(node, Has):
        return Has(node.path, node.value, not node.negated)
    if isinstance(node, History):
        return History(node.condition, node.within, not node.negated)
    if isinstance(node, And):
        return Or(tuple(negate(item) for item in node.items))
    return And(tuple(negate(item) for item in node.items))


def paths(node: Node) -> set[str]:
    """Every path the condition reads."""
    if isinstance(node, (And, Or)):
        return set().union(*(paths(item) for item in node.items))
    if isinstance(node, History):
        return set()  # searches only: never part of a rule's fact
    return {node.path}


def tags(node: Node) -> set[str]:
    """Every tag a ``has`` test names."""
    if isinstance(node, Has):
        return {node.value}
    if isinstance(node, (And, Or)):
        return set().union(*(tags(item) for item in node.items))
    return set()


def event_kinds(node: Node) -> frozenset[str] | None:
    """The event kinds the condition can match, or None when it can match any kind.

    Lets the pipeline skip the rule engine for events no rule can match.
    """
    if isinstance(node, Compare) and node.path == "event.kind" and node.op == "==":
        return frozenset({str(node.value)})
    if isinstance(node, In) and node.path == "event.kind" and not node.negated:
        return frozenset(str(v) for v in node.values)
    if isinstance(node, And):
        found = [k for k in (event_kinds(item) for item in node.items) if k is not None]
        return frozenset.intersection(*found) if found else None
    if isinstance(node, Or):
        parts = [event_kinds(item) for item in node.items]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    return None
