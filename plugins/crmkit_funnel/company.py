"""Company First mode (tenant setting ``company_first: true``).

The account (company) holds the role and its contacts follow it:

* An account's role is the highest role among its contacts.
* When any contact of an account changes role (by hand, by a rule, by an import), every
  other contact of the account that is behind moves to the same role, one transition
  each, with the same cause (and event) as the change that moved the account.
* A contact added to an account takes the account's role (cause: manual, actor
  ``company first``).
* ``convert_account`` converts an account by hand; a backward move is refused as always.
* Contacts without an account are not affected; with the mode off, nothing follows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from crmkit.plugin_api import (
    ChangeContext,
    ConfigError,
    ContactFacetRow,
    ContactRow,
    NotFoundError,
    PolicyError,
    SetFacet,
    Tenant,
    TenantScope,
    TransitionOut,
)

ORDER = ("lead", "prospect", "client")


def _rank(role: str | None) -> int:
    return ORDER.index(role) if role in ORDER else -1


def _members(conn: Connection, scope: TenantScope, account_id: int) -> dict[int, str | None]:
    c = ContactRow.__table__.c
    f = ContactFacetRow.__table__.c
    ids = list(conn.scalars(scope.select(c.id).where(c.account_id == account_id)))
    roles: dict[int, str | None] = dict.fromkeys(ids)
    for contact_id, value in conn.execute(
        scope.select(f.contact_id, f.value).where(f.facet == "role", f.contact_id.in_(ids))
    ):
        roles[contact_id] = value
    return roles


def follow_the_account(transitions: list[dict[str, Any]], context: ChangeContext) -> None:
    """Move the contacts of every account touched by this write to the account's role."""
    if not context.settings.get("company_first"):
        return
    moved = {t["contact_id"]: t for t in transitions if t["name"] == "role"}
    touched = set(moved) | set(context.created)
    if not touched:
        return
    c = ContactRow.__table__.c
    accounts: dict[int, int] = dict(
        context.connection.execute(
            context.scope.select(c.id, c.account_id).where(
                c.id.in_(touched), c.account_id.is_not(None)
            )
        ).all()
    )
    for account_id in sorted(set(accounts.values())):
        roles = _members(context.connection, context.scope, account_id)
        top = max(roles.values(), key=_rank)
        if top is None:
            continue
        behind = sorted(cid for cid, role in roles.items() if _rank(role) < _rank(top))
        if not behind:
            continue
        cause = next(
            (t for cid, t in moved.items() if accounts.get(cid) == account_id and t["new"] == top),
            {"cause_type": "manual", "actor": "company first"},
        )
        context.apply(behind, [SetFacet("role", top)], like=cause)


def convert_account(tenant: Tenant, account: str, role: str, actor: str) -> list[TransitionOut]:
    """Convert every contact of ``account`` to ``role`` (Company First mode only)."""
    if not tenant.settings().get("company_first"):
        raise ConfigError(
            f"tenant {tenant.name!r} is not in Company First mode; "
            "set company_first to true, or convert contacts one by one"
        )
    if role not in ORDER:
        raise PolicyError(f"{role!r} is not a role (allowed: {', '.join(ORDER)})")
    members = tenant.account_contacts(account)
    if not members:
        raise NotFoundError(f"account {account!r} has no contacts to convert")
    roles = {cid: tenant.get_contact(cid).facets.get("role") for cid in members}
    ahead = [cid for cid, current in roles.items() if _rank(current) > _rank(role)]
    if ahead:
        raise PolicyError(
            f"account {account!r} is already a {roles[ahead[0]]}; roles only move forward "
            f"({' > '.join(ORDER)})"
        )
    first = min(members, key=lambda cid: (_rank(roles[cid]), cid))
    tenant.set_facet(first, "role", role, actor=actor)
    return [t for cid in members for t in tenant.explain(cid, "role")[-1:] if t.new == role]
