"""What an import batch looks up or creates by name: matched contacts, accounts, groups."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from crmkit.runtime import TenantRuntime
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import AccountRow, ContactRow, GroupMemberRow, GroupRow
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    pass

# Field types whose values can identify a contact (``--match fields.NAME``).
MATCHABLE_TYPES = ("text", "email", "phone", "url", "choice", "integer")
_C = ContactRow.__table__.c
_A = AccountRow.__table__.c
_G = GroupRow.__table__.c
_M = GroupMemberRow.__table__.c


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), ROWS_PER_ROUND):
        yield values[start : start + ROWS_PER_ROUND]


def existing(
    conn: Connection, scope: TenantScope, match: str | None, keys: Iterable[Any]
) -> dict[Any, int]:
    """The contact each key matches: the oldest active one, else the oldest archived."""
    wanted = list(dict.fromkeys(k for k in keys if k is not None))
    if match is None or not wanted:
        return {}
    integer = match == "id"
    if match.startswith("fields."):
        element = _C.fields[match.removeprefix("fields.")]
        integer = all(isinstance(k, int) for k in wanted)
        column = element.as_float() if integer else element.as_string()
    else:
        column = _C[match]
    found: dict[Any, int] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(
            scope.select(_C.id, column)
            .where(one_of(conn, column, chunk))
            .order_by(_C.archived, _C.id)
        )
        for contact_id, key in rows:
            found.setdefault(int(key) if integer else key, contact_id)
    return found


def _ids_by_name(
    conn: Connection,
    runtime: TenantRuntime,
    model: type[AccountRow] | type[GroupRow],
    counter: str,
    extra: dict[str, Any],
    names: Collection[str],
    now: datetime,
) -> dict[str, int]:
    """Ids of accounts or groups by name, creating those that do not exist yet (with
    the ``extra`` column values)."""
    scope = TenantScope(runtime.tenant_id)
    table = model.__table__.c
    wanted = sorted(names)
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found.update(
            (name, row_id)
            for row_id, name in conn.execute(
                scope.select(table.id, table.name).where(one_of(conn, table.name, chunk))
            )
        )
    missing = [name for name in wanted if name not in found]
    if missing:
        first = counters.allocate(conn, runtime.tenant_id, counter, len(missing))
        columns = ("tenant_id", "id", "name", *extra, "created_at")
        rows = [
            (runtime.tenant_id, first + i, name, *extra.values(), now)
            for i, name in enumerate(missing)
        ]
        BulkWriter(conn).insert(model, columns, rows)
        found.update((name, first + i) for i, name in enumerate(missing))
    return found


def accounts(
    conn: Connection, runtime: TenantRuntime, names: Collection[str], now: datetime
) -> dict[str, int]:
    """Account ids by name, creating the accounts that do not exist yet."""
    return _ids_by_name(conn, runtime, AccountRow, "account", {"fields": {}}, names, now)


def join_groups(
    conn: Connection,
    runtime: TenantRuntime,
    wanted: Sequence[tuple[int, Sequence[str]]],
    now: datetime,
) -> set[int]:
    """Put contacts in groups by name (creating missing groups); return the contacts
    that joined a group they were not in."""
    if not wanted:
        return set()
    scope = TenantScope(runtime.tenant_id)
    names = {name for _, groups in wanted for name in groups}
    ids = _ids_by_name(conn, runtime, GroupRow, "group", {"description": ""}, names, now)
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
                joins.append((runtime.tenant_id, *pair))
    BulkWriter(conn).insert(GroupMemberRow, ("tenant_id", "group_id", "contact_id"), joins)
    return {contact_id for _, _, contact_id in joins}
