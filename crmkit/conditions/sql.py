"""Compile a contact condition to a SQL WHERE clause over ``contacts``.

Values are bound parameters, never spliced into SQL text. NULLs behave as in the
other backends: a comparison on a missing value is false.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from crmkit.conditions.ast import And, Compare, Has, In, Node, Or, Scalar
from crmkit.storage.models import AccountRow, ContactFacetRow, ContactRow, ContactTagRow
from crmkit.storage.scope import TenantScope

_C = ContactRow.__table__.c


def _compare(column: Any, op: str, value: Scalar) -> ColumnElement[bool]:
    if op == "==":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    return column <= value  # type: ignore[no-any-return]


def _json_field(parts: list[str], sample: Scalar) -> Any:
    element = _C.fields[tuple(parts)] if len(parts) > 1 else _C.fields[parts[0]]
    if isinstance(sample, bool):
        return element.as_boolean()
    if isinstance(sample, (int, float)):
        return element.as_float()
    return element.as_string()


def _column(path: str, sample: Scalar, scope: TenantScope) -> Any:
    parts = path.split(".")
    attr = parts[1]
    if attr == "fields":
        return _json_field(parts[2:], sample)
    if attr == "account":
        a = AccountRow.__table__.c
        return (
            select(a.name)
            .where(a.tenant_id == scope.tenant_id, a.id == _C.account_id)
            .scalar_subquery()
        )
    return _C[attr]


def _facet(path: str, condition: ColumnElement[bool], scope: TenantScope) -> ColumnElement[bool]:
    f = ContactFacetRow.__table__.c
    return exists().where(
        f.tenant_id == scope.tenant_id,
        f.contact_id == _C.id,
        f.facet == path.split(".")[1],
        condition,
    )


def to_sql(
    node: Node, scope: TenantScope, facets: frozenset[str] | None = None
) -> ColumnElement[bool]:
    """The WHERE clause for ``node`` on the contacts of ``scope``'s tenant.

    ``facets`` names the tenant's facets; when omitted, any path that is not a built-in
    attribute is taken as a facet (the parser has already checked it).
    """
    from crmkit.conditions.parser import CONTACT_ATTRIBUTES

    def is_facet(path: str) -> bool:
        attr = path.split(".")[1]
        if facets is not None:
            return attr in facets
        return attr not in CONTACT_ATTRIBUTES and attr not in ("fields", "tags")

    if isinstance(node, And):
        return and_(true(), *(to_sql(item, scope, facets) for item in node.items))
    if isinstance(node, Or):
        return or_(false(), *(to_sql(item, scope, facets) for item in node.items))
    if isinstance(node, Has):
        t = ContactTagRow.__table__.c
        found = exists().where(
            t.tenant_id == scope.tenant_id, t.contact_id == _C.id, t.tag == node.value
        )
        return ~found if node.negated else found
    if isinstance(node, Compare):
        if is_facet(node.path):
            value_column = ContactFacetRow.__table__.c.value
            return _facet(node.path, _compare(value_column, node.op, node.value), scope)
        return _compare(_column(node.path, node.value, scope), node.op, node.value)
    if isinstance(node, In):
        if is_facet(node.path):
            value_column = ContactFacetRow.__table__.c.value
            inner = (
                value_column.not_in(node.values) if node.negated else value_column.in_(node.values)
            )
            return _facet(node.path, inner, scope)
        column = _column(node.path, node.values[0], scope)
        if node.negated:
            return and_(column.is_not(None), column.not_in(node.values))
        return column.in_(node.values)  # type: ignore[no-any-return]
    raise TypeError(f"not a condition node: {node!r}")
