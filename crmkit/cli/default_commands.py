"""crmkit's own commands, added to the root group like any plugin's.

A default plugin (listed in :data:`crmkit.plugins.DEFAULT_PLUGINS`): its
``crmkit_register_commands`` runs first, so a plugin that adds a command of the same
name replaces crmkit's, as it did when crmkit's commands were built into the group.
"""

from __future__ import annotations

import click

from crmkit import hookimpl
from crmkit.cli import (
    accounts,
    actions,
    contacts,
    events,
    fields,
    messages,
    pack_new,
    packs,
    rules,
    tenants,
    transfer,
    worker,
)

COMMANDS: tuple[click.Command, ...] = (
    tenants.init,
    packs.packs,
    pack_new.pack_group,
    tenants.facets,
    tenants.colour,
    tenants.tenants,
    tenants.settings_group,
    contacts.contact,
    contacts.tags,
    fields.field_group,
    accounts.account,
    accounts.project,
    events.event,
    events.ingest,
    events.tick,
    events.explain,
    actions.action_group,
    messages.message_group,
    rules.rules,
    transfer.import_command,
    transfer.export_command,
    worker.worker,
)


@hookimpl(tryfirst=True)
def crmkit_register_commands(cli: click.Group) -> None:
    for command in COMMANDS:
        cli.add_command(command)
