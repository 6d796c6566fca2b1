"""Compile a contact condition to a SQL WHERE clause over ``contacts``.

Values are bound parameters, never spliced into SQL text. NULLs behave as in the
other backends: a comparison on a missing value is false.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true

from crmkit.clock import utc_now
from crmkit.conditions.ast import Ago, And, Compare, Has, History, In, Node, Or, Scalar
from crmkit.contact_fields import CONTACT_ATTRIBUTES, ENGAGEMENT_DAYS
from crmkit.storage.models import (
    AccountRow,
    ContactFacetRow,
    ContactRow,
    ContactTagRow,
    EventRow,
)
from crmkit.storage.scope import TenantScope

_C = ContactRow.__table__.c


def _compare(column: Any, op: str, value: Scalar, now: datetime) -> ColumnElement[bool]:
    if isinstance(value, Ago):
        value = value.resolve(now)
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


def _column(path: str, sample: Scalar, scope: TenantScope, now: datetime) -> Any:
    parts = path.split(".")
    attr = parts[1]
    if attr == "fields":
        return _json_field(parts[2:], sample)
    if attr in ("last_interaction", "engagement"):
        # Worked out when the search runs, so it always reflects the event log.
        e = EventRow.__table__.c
        own = (e.tenant_id == scope.tenant_id, e.contact_id == _C.id, e.status == "applied")
        if attr == "last_interaction":
            return select(func.max(e.occurred_at)).where(*own).scalar_subquery()
        since = now - timedelta(days=ENGAGEMENT_DAYS)
        return (
            select(func.count()).where(*own, e.occurred_at >= since, e.occurred_at <= now)
        ).scalar_subquery()
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


def _event_column(path: str, sample: Scalar) -> Any:
    e = EventRow.__table__.c
    if path == "event.kind":
        return e.kind
    parts = path.split(".")[2:]
    element = e.data[tuple(parts)] if len(parts) > 1 else e.data[parts[0]]
    if isinstance(sample, bool):
        return element.as_boolean()
    if isinstance(sample, (int, float)):
        return element.as_float()
    return element.as_string()


def _event_sql(node: Node, now: datetime) -> ColumnElement[bool]:
    """A condition on ``event.kind`` / ``event.data.*`` as SQL over the events table."""
    if isinstance(node, And):
        return and_(true(), *(_event_sql(part, now) for part in node.items))
    if isinstance(node, Or):
        return or_(false(), *(_event_sql(part, now) for part in node.items))
    if isinstance(node, Compare):
        return _compare(_event_column(node.path, node.value), node.op, node.value, now)
    if isinstance(node, In):
        column = _event_column(node.path, node.values[0])
        if node.negated:
            return and_(column.is_not(None), column.not_in(node.values))
        return column.in_(node.values)  # type: ignore[no-any-return]
    raise TypeError(f"not an event condition: {node!r}")


def to_sql(
    node: Node,
    scope: TenantScope,
    facets: frozenset[str] | None = None,
    now: datetime | None = None,
) -> ColumnElement[bool]:
    """The WHERE clause for ``node`` on the contacts of ``scope``'s tenant.

    ``facets`` names the tenant's facets; when omitted, any path that is not a built-in
    attribute is taken as a facet (the parser has already checked it). ``now`` anchors
    relative times (``30 days ago``) and the engagement window; default: the real time.
    """
    moment = now or utc_now()

    def is_facet(path: str) -> bool:
        attr = path.split(".")[1]
        if facets is not None:
            return attr in facets
        return attr not in CONTACT_ATTRIBUTES and attr not in ("fields", "tags")

    def build(item: Node) -> ColumnElement[bool]:
        if isinstance(item, And):
            return and_(true(), *(build(part) for part in item.items))
        if isinstance(item, Or):
            return or_(false(), *(build(part) for part in item.items))
        if isinstance(item, Has):
            t = ContactTagRow.__table__.c
            found = exists().where(
                t.tenant_id == scope.tenant_id, t.contact_id == _C.id, t.tag == item.value
            )
            return ~found if item.negated else found
        if isinstance(item, History):
            e = EventRow.__table__.c
            where = [e.tenant_id == scope.tenant_id, e.contact_id == _C.id, e.status == "applied"]
            if item.within is not None:
                where += [e.occurred_at >= item.within.resolve(moment), e.occurred_at <= moment]
            if item.condition is not None:
                where.append(_event_sql(item.condition, moment))
            found = exists().where(*where)
            return ~found if item.negated else found
        if isinstance(item, Compare):
            if is_facet(item.path):
                value_column = ContactFacetRow.__table__.c.value
                condition = _compare(value_column, item.op, item.value, moment)
                return _facet(item.path, condition, scope)
            column = _column(item.path, item.value, scope, moment)
            return _compare(column, item.op, item.value, moment)
        if isinstance(item, In):
            if is_facet(item.path):
                value_column = ContactFacetRow.__table__.c.value
                inner = (
                    value_column.not_in(item.values)
                    if item.negated
                    else value_column.in_(item.values)
                )
                return _facet(item.path, inner, scope)
            column = _column(item.path, item.values[0], scope, moment)
            values = [v.resolve(moment) if isinstance(v, Ago) else v for v in item.values]
            if item.negated:
                return and_(column.is_not(None), column.not_in(values))
            return column.in_(values)  # type: ignore[no-any-return]
        raise TypeError(f"not a condition node: {item!r}")

    return build(node)
