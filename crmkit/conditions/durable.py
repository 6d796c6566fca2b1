"""Compile a condition tree to a durable_rules JSON condition over a flat fact.

Facts are flat dictionaries keyed by dotted paths with the type of the value held
(``"event.kind#s"``, ``"contact.score#n"``): a value is only ever compared with a literal
of its own type (text, number, or yes/no), so ``"5" == 5`` is false, as a missing value
is, whatever the operator. durable_rules would otherwise coerce between types, and
inconsistently (``"5" == 5`` holds but ``"5" > 1.5`` against ``5.0 <= "5"``...). Tag
tests read precomputed booleans (``"contact.tag.vip"``) because durable_rules' array
operators are false on empty lists.
"""

from __future__ import annotations

from typing import Any

from crmkit.conditions.ast import And, Compare, Has, In, Node, Or

_DURABLE_OPS = {"!=": "$neq", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def tag_key(tag: str) -> str:
    return f"contact.tag.{tag}"


def type_suffix(value: Any) -> str:
    """``#s`` for text, ``#b`` for yes/no, ``#n`` for numbers."""
    if isinstance(value, str):
        return "#s"
    if isinstance(value, bool):
        return "#b"
    if isinstance(value, (int, float)):
        return "#n"
    raise TypeError(f"rules compare with text, numbers or yes/no, not {value!r}")


def typed_key(path: str, value: Any) -> str:
    """The fact key that holds ``path`` when its value has the type of ``value``."""
    return path + type_suffix(value)


def typed_keys(path: str) -> tuple[str, str, str]:
    """The keys of ``path`` for text, yes/no and number values."""
    return (f"{path}#s", f"{path}#b", f"{path}#n")


def to_durable(node: Node) -> dict[str, Any]:
    """Return the durable_rules condition equivalent to ``node``."""
    if isinstance(node, Compare):
        key = typed_key(node.path, node.value)
        if node.op == "==":
            return {key: node.value}
        return {_DURABLE_OPS[node.op]: {key: node.value}}
    if isinstance(node, In):
        if node.negated:
            parts = [{"$neq": {typed_key(node.path, v): v}} for v in node.values]
            return parts[0] if len(parts) == 1 else {"$and": parts}
        alternatives = [{typed_key(node.path, v): v} for v in node.values]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    if isinstance(node, Has):
        return {tag_key(node.value): not node.negated}
    if isinstance(node, And):
        return {"$and": [to_durable(item) for item in node.items]}
    if isinstance(node, Or):
        return {"$or": [to_durable(item) for item in node.items]}
    raise TypeError(f"not a condition node: {node!r}")
