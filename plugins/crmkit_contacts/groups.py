"""Groups: named sets of contacts, chosen by hand or added from a filter.

A contact can be in many groups. Adding from a filter adds the contacts that match
it at that moment (one INSERT ... SELECT); a segment is the saved filter that is
evaluated each time instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, literal, select

from crmkit.plugin_api import (
    ContactOut,
    ContactRow,
    NotFoundError,
    Tenant,
    TenantScope,
    ValidationError,
    allocate_id,
)
from crmkit_contacts.tables import GroupMemberRow, GroupRow

_G = GroupRow.__table__.c
_M = GroupMemberRow.__table__.c


class Groups:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def _scope(self, conn: Connection) -> TenantScope:
        return TenantScope(self.tenant.runtime(conn).tenant_id)

    def _id(self, conn: Connection, scope: TenantScope, name: str) -> int:
        found = conn.scalar(scope.select(_G.id).where(_G.name == name))
        if found is None:
            raise NotFoundError(f"group {name!r} does not exist in tenant {self.tenant.name!r}")
        return int(found)

    def create(self, name: str, description: str = "") -> int:
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise ValidationError("a group needs a name of 1 to 200 characters")
        with self.tenant.crm.db.begin() as conn:
            scope = self._scope(conn)
            if conn.scalar(scope.select(_G.id).where(_G.name == name)) is not None:
                raise ValidationError(f"group {name!r} already exists")
            group_id = allocate_id(conn, scope.tenant_id, "group")
            conn.execute(
                scope.insert(GroupRow),
                scope.rows(
                    [
                        {
                            "id": group_id,
                            "name": name,
                            "description": description,
                            "created_at": self.tenant.crm.clock(),
                        }
                    ]
                ),
            )
            return group_id

    def delete(self, name: str) -> None:
        with self.tenant.crm.db.begin() as conn:
            scope = self._scope(conn)
            group_id = self._id(conn, scope, name)
            conn.execute(scope.delete(GroupMemberRow).where(_M.group_id == group_id))
            conn.execute(scope.delete(GroupRow).where(_G.id == group_id))

    def all(self) -> list[dict[str, Any]]:
        """Groups by name with their member counts."""
        with self.tenant.crm.db.connect() as conn:
            scope = self._scope(conn)
            counts: dict[int, int] = dict(
                conn.execute(scope.select(_M.group_id, func.count()).group_by(_M.group_id)).all()
            )
            return [
                {"name": name, "description": description, "members": counts.get(gid, 0)}
                for gid, name, description in conn.execute(
                    scope.select(_G.id, _G.name, _G.description).order_by(_G.name)
                )
            ]

    def add(self, name: str, contact_ids: list[int]) -> int:
        """Add contacts by hand; returns how many were not members yet."""
        with self.tenant.crm.db.begin() as conn:
            scope = self._scope(conn)
            group_id = self._id(conn, scope, name)
            c = ContactRow.__table__.c
            wanted: set[int] = set(contact_ids)
            found = set(conn.scalars(scope.select(c.id).where(c.id.in_(wanted))))
            if wanted - found:
                raise NotFoundError(
                    f"contact {min(wanted - found)} does not exist in tenant {self.tenant.name!r}"
                )
            present = set(
                conn.scalars(
                    scope.select(_M.contact_id).where(
                        _M.group_id == group_id, _M.contact_id.in_(wanted)
                    )
                )
            )
            new = sorted(wanted - present)
            if new:
                conn.execute(
                    scope.insert(GroupMemberRow),
                    scope.rows({"group_id": group_id, "contact_id": cid} for cid in new),
                )
            return len(new)

    def add_matching(self, name: str, where: str) -> int:
        """Add every contact matching the condition ``where`` (run as SQL)."""
        with self.tenant.crm.db.begin() as conn:
            scope = self._scope(conn)
            group_id = self._id(conn, scope, name)
            condition = self.tenant.contact_filter(conn, where)
            c = ContactRow.__table__.c
            already = scope.select(_M.contact_id).where(_M.group_id == group_id)
            matching = (
                scope.select(c.tenant_id, literal(group_id), c.id)
                .where(condition)
                .where(c.id.not_in(already))
            )
            members = scope.select(_M.contact_id).where(_M.group_id == group_id).subquery()
            count = select(func.count()).select_from(members)
            before = int(conn.scalar(count) or 0)
            conn.execute(
                insert(GroupMemberRow).from_select(
                    ["tenant_id", "group_id", "contact_id"], matching
                )
            )
            # Counted, because drivers disagree on the rowcount of INSERT ... SELECT.
            return int(conn.scalar(count) or 0) - before

    def remove(self, name: str, contact_ids: list[int]) -> int:
        with self.tenant.crm.db.begin() as conn:
            scope = self._scope(conn)
            group_id = self._id(conn, scope, name)
            result = conn.execute(
                scope.delete(GroupMemberRow).where(
                    _M.group_id == group_id, _M.contact_id.in_(contact_ids)
                )
            )
            return int(result.rowcount or 0)

    def members(self, name: str) -> list[ContactOut]:
        with self.tenant.crm.db.connect() as conn:
            scope = self._scope(conn)
            group_id = self._id(conn, scope, name)
            ids = list(
                conn.scalars(
                    scope.select(_M.contact_id)
                    .where(_M.group_id == group_id)
                    .order_by(_M.contact_id)
                )
            )
        return self.tenant.contacts_by_id(ids)

    def of(self, contact_id: int) -> list[str]:
        """The names of the groups a contact is in."""
        self.tenant.get_contact(contact_id)
        with self.tenant.crm.db.connect() as conn:
            scope = self._scope(conn)
            group_ids = scope.select(_M.group_id).where(_M.contact_id == contact_id)
            return list(
                conn.scalars(scope.select(_G.name).where(_G.id.in_(group_ids)).order_by(_G.name))
            )
