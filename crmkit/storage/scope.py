"""Tenant scoping, enforced in this one layer.

Every statement crmkit runs against tenant data is built here, so a ``tenant_id``
filter (or value) can never be forgotten by a caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Delete, Insert, Select, Update, delete, insert, select, update
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import FromClause


def _tenant_tables(stmt: Select[Any]) -> list[FromClause]:
    return [t for t in stmt.columns_clause_froms if "tenant_id" in t.c]


class TenantScope:
    """Builds statements restricted to one tenant."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id

    def select(self, *columns: Any) -> Select[Any]:
        """``select(*columns)`` filtered to this tenant on every table it reads."""
        stmt = select(*columns)
        for table in _tenant_tables(stmt):
            stmt = stmt.where(table.c.tenant_id == self.tenant_id)
        return stmt

    def insert(self, model: type[DeclarativeBase]) -> Insert:
        """An INSERT whose rows always get this tenant's id (see :meth:`rows`)."""
        return insert(model)

    def rows(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Stamp ``tenant_id`` on rows for :meth:`insert`; a foreign tenant id is an error."""
        stamped = []
        for row in rows:
            given = row.get("tenant_id", self.tenant_id)
            if given != self.tenant_id:
                raise ValueError(f"row for tenant {given} written through tenant {self.tenant_id}")
            stamped.append({**row, "tenant_id": self.tenant_id})
        return stamped

    def update(self, model: type[DeclarativeBase]) -> Update:
        return update(model).where(model.__table__.c.tenant_id == self.tenant_id)

    def delete(self, model: type[DeclarativeBase]) -> Delete:
        return delete(model).where(model.__table__.c.tenant_id == self.tenant_id)
