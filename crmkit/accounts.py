"""Accounts (companies): created by name, listed with their contacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from crmkit.applying import allocate_ids
from crmkit.context import TenantContext
from crmkit.errors import NotFoundError, ValidationError
from crmkit.runtime import TenantRuntime
from crmkit.storage.models import AccountRow, ContactRow
from crmkit.storage.scope import TenantScope


def account_id(ctx: TenantContext, conn: Connection, runtime: TenantRuntime, name: str) -> int:
    """The id of the account called ``name``, created (in this transaction) if new."""
    scope = TenantScope(runtime.tenant_id)
    a = AccountRow.__table__.c
    found = conn.execute(scope.select(a.id).where(a.name == name)).scalar()
    if found is not None:
        return int(found)
    new_id = allocate_ids(conn, runtime, 1, "account")
    conn.execute(
        scope.insert(AccountRow),
        scope.rows([{"id": new_id, "name": name, "fields": {}, "created_at": ctx.clock()}]),
    )
    return new_id


def add_account(ctx: TenantContext, name: str) -> int:
    """Create an account (company) or return the existing one of that name."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("an account needs a name")
    with ctx.db.begin() as conn:
        return account_id(ctx, conn, ctx.write_runtime(conn), name.strip())


def list_accounts(ctx: TenantContext) -> list[dict[str, Any]]:
    """Accounts (companies) by name, with the ids of their contacts."""
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        a = AccountRow.__table__.c
        c = ContactRow.__table__.c
        members: dict[int, list[int]] = {}
        for account, contact_id in conn.execute(
            scope.select(c.account_id, c.id).where(c.account_id.is_not(None)).order_by(c.id)
        ):
            members.setdefault(account, []).append(contact_id)
        return [
            {"id": aid, "name": name, "contacts": members.get(aid, [])}
            for aid, name in conn.execute(scope.select(a.id, a.name).order_by(a.name))
        ]


def account_contacts(ctx: TenantContext, name: str) -> list[int]:
    """The ids of the contacts in the account called ``name``."""
    found = next((a for a in list_accounts(ctx) if a["name"] == name), None)
    if found is None:
        raise NotFoundError(f"account {name!r} does not exist in tenant {ctx.name!r}")
    return list(found["contacts"])
