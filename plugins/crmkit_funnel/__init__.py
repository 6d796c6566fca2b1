"""The funnel pack: the Lead > Prospect > Client role, portal logins, Company First.

* Facet ``role``: lead, prospect, client, forward only on every path.
* Becoming a prospect (or a client straight from lead) creates portal credentials: a
  username and a one-time, expiring set-password token, delivered as a
  ``portal_invitation`` notice (``crmkit_on_notice``).
* What a role may receive: see :data:`PERMISSIONS` (checks registered through
  ``crmkit_register_permits``).
* Company First mode (tenant setting ``company_first``): see :mod:`crmkit_funnel.company`.
* Portal logins (:mod:`crmkit_funnel.portal`) live in the pack's own tables
  (:mod:`.tables`), migrated by its Alembic branch in ``migrations/``. Archiving a
  contact revokes its password and token; erasing it drops its failed-login counts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

import click
from sqlalchemy import Connection

from crmkit.plugin_api import ChangeContext, Facet, Pack, Setting, TenantScope, hookimpl, load_pack
from crmkit_funnel.commands import funnel, portal
from crmkit_funnel.company import follow_the_account
from crmkit_funnel.portal import (
    DEFAULT_TOKEN_HOURS,
    TOKEN_HOURS,
    create_credentials,
    forget_logins,
    revoke_login,
)
from crmkit_funnel.roles import PERMISSIONS, ROLE, refusal

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(ROLE)


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_funnel").joinpath("pack")))


def _checker(activity: str) -> Callable[[str, Mapping[str, Any]], str | None]:
    def check(tenant: str, contact: Mapping[str, Any]) -> str | None:
        role = contact["facets"].get("role")
        return None if role is None else refusal(role, activity)  # None: no funnel here

    return check


COMPANY_FIRST = Setting("company_first", "boolean", description="accounts lead contacts")


@hookimpl
def crmkit_register_settings(register: Callable[[Setting], None]) -> None:
    register(TOKEN_HOURS)
    register(COMPANY_FIRST)


@hookimpl
def crmkit_register_permits(
    register: Callable[[str, Callable[[str, Mapping[str, Any]], str | None]], None],
) -> None:
    for activity in PERMISSIONS:
        register(activity, _checker(activity))


@hookimpl
def crmkit_on_changes(
    tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
) -> None:
    if "role" not in context.runtime.facets:
        return
    follow_the_account(transitions, context)
    hours = float(TOKEN_HOURS.read(context.settings, DEFAULT_TOKEN_HOURS))
    for t in transitions:
        if t["name"] == "role" and t["old"] in (None, "lead") and t["new"] != "lead":
            made = create_credentials(
                context.connection, context.scope, t["contact_id"], context.now, hours
            )
            if made is not None:
                username, token, expires = made
                context.notify(
                    t["contact_id"],
                    "portal_invitation",
                    {"username": username, "token": token, "expires_at": expires.isoformat()},
                )


@hookimpl
def crmkit_register_migrations(register: Callable[[Traversable | str], None]) -> None:
    register(files("crmkit_funnel").joinpath("migrations"))


@hookimpl
def crmkit_on_contact_archived(contact_id: int, connection: Connection, scope: TenantScope) -> None:
    revoke_login(connection, scope, contact_id)


@hookimpl
def crmkit_erase_contact(
    contact_id: int, contact: Mapping[str, Any], connection: Connection, scope: TenantScope
) -> None:
    forget_logins(connection, scope, contact_id, contact["email"])


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:

    cli.add_command(portal)
    cli.add_command(funnel)
