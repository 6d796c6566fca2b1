"""The contacts pack: lead status, groups, segments, and the tenant's word for contacts.

* Facet ``lead_status``: new, contacted, qualified, converted, unqualified. ``converted``
  is set only by converting a lead (event ``lead_converted``), so the other packs a
  tenant uses react to the same conversion through their own rules.
* Groups (:mod:`crmkit_contacts.groups`) and segments (:mod:`crmkit_contacts.segments`,
  saved searches). The ``segments`` table is the pack's own (:mod:`.tables`), migrated
  by its Alembic branch in ``migrations/``; erasing a contact scrubs its email and
  phone from segments (:mod:`.erasure`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

import click
from sqlalchemy import Connection

from crmkit.plugin_api import (
    Facet,
    Pack,
    TenantScope,
    TransferColumn,
    erased_literals,
    hookimpl,
    load_pack,
)
from crmkit_contacts.commands import group, lead, noun, segment
from crmkit_contacts.erasure import scrub_saved_searches
from crmkit_contacts.facets import LEAD_STATUS
from crmkit_contacts.search_command import search
from crmkit_contacts.transfer_columns import GROUPS_COLUMN

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(LEAD_STATUS)


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_contacts").joinpath("pack")))


@hookimpl
def crmkit_register_migrations(register: Callable[[Traversable | str], None]) -> None:
    register(files("crmkit_contacts").joinpath("migrations"))


@hookimpl
def crmkit_register_transfer_columns(register: Callable[[TransferColumn], None]) -> None:
    register(GROUPS_COLUMN)


@hookimpl
def crmkit_erase_contact(
    contact: Mapping[str, Any], connection: Connection, scope: TenantScope
) -> dict[str, int] | None:
    literals = erased_literals(contact["email"], contact["phone"])
    scrubbed = scrub_saved_searches(connection, scope, literals)
    return {"segments": scrubbed} if scrubbed else None


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:
    for command in (group, segment, lead, noun, search):
        cli.add_command(command)
