"""What an import batch looks up or creates by name: matched contacts and accounts.

:func:`ids_by_name` also serves plugins' list columns (names of rows they own).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from crmkit.runtime import TenantRuntime
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import AccountRow, Base, ContactRow
from crmkit.storage.scope import TenantScope

# Field types whose values can identify a contact (``--match fields.NAME``).
MATCHABLE_TYPES = ("text", "email", "phone", "url", "choice", "integer")
_C = ContactRow.__table__.c
_A = AccountRow.__table__.c


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


def ids_by_name(
    conn: Connection,
    scope: TenantScope,
    model: type[Base],
    counter: str,
    extra: dict[str, Any],
    names: Collection[str],
    now: datetime,
) -> dict[str, int]:
    """Ids of a tenant's named rows (accounts, a plugin's groups...) by name, creating
    those that do not exist yet: ``model`` has ``tenant_id``, ``id`` (allocated from
    the tenant's ``counter``), ``name``, the ``extra`` columns (given these values) and
    ``created_at``."""
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
        first = counters.allocate(conn, scope.tenant_id, counter, len(missing))
        columns = ("tenant_id", "id", "name", *extra, "created_at")
        rows = [
            (scope.tenant_id, first + i, name, *extra.values(), now)
            for i, name in enumerate(missing)
        ]
        BulkWriter(conn).insert(model, columns, rows)
        found.update((name, first + i) for i, name in enumerate(missing))
    return found


def accounts(
    conn: Connection, runtime: TenantRuntime, names: Collection[str], now: datetime
) -> dict[str, int]:
    """Account ids by name, creating the accounts that do not exist yet."""
    scope = TenantScope(runtime.tenant_id)
    return ids_by_name(conn, scope, AccountRow, "account", {"fields": {}}, names, now)
