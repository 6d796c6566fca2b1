"""The ``groups`` column of contact imports and exports (``crmkit_register_transfer_columns``).

An import column mapped to ``groups`` (or headed "Groups", "Group" or "Lists") holds
group names separated by ``,`` or ``;``: each batch puts its contacts in those groups,
creating the groups that do not exist yet, in the import's own transaction. A contact
that joins a group it was not in counts as updated. An export writes each contact's
groups, by name, in the ``groups`` column after ``tags``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from crmkit.plugin_api import (
    ROWS_PER_ROUND,
    BulkWriter,
    TenantScope,
    TransferColumn,
    ids_by_name,
    one_of,
)
from crmkit_contacts.tables import GroupMemberRow, GroupRow

_G = GroupRow.__table__.c
_M = GroupMemberRow.__table__.c


def group_name(text: str) -> str:
    """One name of a ``groups`` cell, as stored."""
    name = text.strip()
    if not name or len(name) > 200:
        raise ValueError(f"invalid group {text!r}: group names are 1 to 200 characters")
    return name


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), ROWS_PER_ROUND):
        yield values[start : start + ROWS_PER_ROUND]


def join_groups(
    conn: Connection,
    scope: TenantScope,
    wanted: Sequence[tuple[int, Sequence[str]]],
    now: datetime,
) -> set[int]:
    """Put contacts in groups by name (creating missing groups); return the contacts
    that joined a group they were not in."""
    if not wanted:
        return set()
    names = {name for _, groups in wanted for name in groups}
    ids = ids_by_name(conn, scope, GroupRow, "group", {"description": ""}, names, now)
    contacts = sorted({contact_id for contact_id, _ in wanted})
    present: set[tuple[int, int]] = set()
    for chunk in _chunks(contacts):
        present.update(
            (group_id, contact_id)
            for group_id, contact_id in conn.execute(
                scope.select(_M.group_id, _M.contact_id).where(one_of(conn, _M.contact_id, chunk))
            )
        )
    joins: list[tuple[int, int, int]] = []
    for contact_id, groups in wanted:
        for name in groups:
            pair = (ids[name], contact_id)
            if pair not in present:
                present.add(pair)
                joins.append((scope.tenant_id, *pair))
    BulkWriter(conn).insert(GroupMemberRow, ("tenant_id", "group_id", "contact_id"), joins)
    return {contact_id for _, _, contact_id in joins}


def groups_of(conn: Connection, scope: TenantScope, ids: Sequence[int]) -> dict[int, list[str]]:
    """The names of the groups each contact is in, by contact, sorted by name."""
    found: dict[int, list[str]] = {}
    rows = conn.execute(
        scope.select(_M.contact_id, _G.name)
        .join_from(
            GroupMemberRow, GroupRow, (_G.tenant_id == _M.tenant_id) & (_G.id == _M.group_id)
        )
        .where(one_of(conn, _M.contact_id, ids))
        .order_by(_M.contact_id, _G.name)
    )
    for contact_id, name in rows:
        found.setdefault(contact_id, []).append(name)
    return found


GROUPS_COLUMN = TransferColumn(
    name="groups",
    clean=group_name,
    write=join_groups,
    read=groups_of,
    synonyms=("group", "lists"),
    tables=("contact_groups", "group_members"),
)
