"""Segments, the contacts pack's saved searches: named conditions, evaluated each time
they are used, so they always reflect current data, as SQL.

A condition uses the search language: facets (``contact.lead_status``...), score, tags,
fields, engagement level (``contact.engagement``, events in the last 30 days), last
contact date (``contact.last_interaction``), location (``contact.city``, ``state``,
``country``), industry, lead source, and event history (``engaged(...) within 14 days``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from crmkit.plugin_api import (
    ContactOut,
    ContactRow,
    NotFoundError,
    Tenant,
    TenantScope,
    ValidationError,
)
from crmkit_contacts.tables import SegmentRow

_S = SegmentRow.__table__.c
_C = ContactRow.__table__.c


class SavedSearches:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def _scope(self, conn: Connection) -> TenantScope:
        return TenantScope(self.tenant.runtime(conn).tenant_id)

    def save(self, name: str, condition: str, description: str = "") -> None:
        """Create or replace a saved search; the condition is checked, and run once on
        the database (fetching nothing), first: what is saved can run."""
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise ValidationError("a saved search needs a name of 1 to 200 characters")
        with self.tenant.crm.db.begin() as conn:
            scope = self._scope(conn)
            where = self.tenant.contact_filter(conn, condition)
            conn.execute(scope.select(_C.id).where(where).limit(0))
            conn.execute(scope.delete(SegmentRow).where(_S.name == name))
            conn.execute(
                scope.insert(SegmentRow),
                scope.rows(
                    [
                        {
                            "name": name,
                            "condition": condition,
                            "description": description,
                            "created_at": self.tenant.crm.clock(),
                        }
                    ]
                ),
            )

    def get(self, name: str) -> dict[str, Any]:
        with self.tenant.crm.db.connect() as conn:
            row = conn.execute(
                self._scope(conn)
                .select(_S.name, _S.condition, _S.description)
                .where(_S.name == name)
            ).first()
        if row is None:
            raise NotFoundError(
                f"saved search {name!r} does not exist in tenant {self.tenant.name!r}"
            )
        return {"name": row[0], "condition": row[1], "description": row[2]}

    def all(self) -> list[dict[str, Any]]:
        with self.tenant.crm.db.connect() as conn:
            rows = conn.execute(
                self._scope(conn).select(_S.name, _S.condition, _S.description).order_by(_S.name)
            ).all()
        return [{"name": n, "condition": c, "description": d} for n, c, d in rows]

    def delete(self, name: str) -> None:
        self.get(name)
        with self.tenant.crm.db.begin() as conn:
            conn.execute(self._scope(conn).delete(SegmentRow).where(_S.name == name))

    def run(self, name: str, *, limit: int | None = None, offset: int = 0) -> list[ContactOut]:
        """The contacts matching the saved search now (a page of them with ``limit``)."""
        return self.tenant.list_contacts(self.get(name)["condition"], limit=limit, offset=offset)


# The contacts pack's word for them.
Segments = SavedSearches

__all__ = ["SavedSearches", "Segments"]
