"""Compile a condition tree to a durable_rules JSON condition over a flat fact.

Facts are flat dictionaries keyed by dotted paths (``"event.kind"``, ``"contact.score"``);
tag tests read precomputed booleans (``"contact.tag.vip"``) because durable_rules'
array operators are false on empty lists.
"""

from __future__ import annotations

from typing import Any

from crmkit.conditions.ast import And, Compare, Has, In, Node, Or

_DURABLE_OPS = {"!=": "$neq", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}


def tag_key(tag: str) -> str:
    return f"contact.tag.{tag}"


def to_durable(node: Node) -> dict[str, Any]:
    """Return the durable_rules condition equivalent to ``node``."""
    if isinstance(node, Compare):
        if node.op == "==":
            return {node.path: node.value}
        return {_DURABLE_OPS[node.op]: {node.path: node.value}}
    if isinstance(node, In):
        if node.negated:
            parts = [{"$neq": {node.path: v}} for v in node.values]
            return parts[0] if len(parts) == 1 else {"$and": parts}
        alternatives = [{node.path: v} for v in node.values]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    if isinstance(node, Has):
        return {tag_key(node.value): not node.negated}
    if isinstance(node, And):
        return {"$and": [to_durable(item) for item in node.items]}
    if isinstance(node, Or):
        return {"$or": [to_durable(item) for item in node.items]}
    raise TypeError(f"not a condition node: {node!r}")
