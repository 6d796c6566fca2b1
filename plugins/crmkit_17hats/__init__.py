"""The 17hats pack: contact types (Hot Lead, Client, Cold Prospect, Other).

A contact's type is chosen when it is added by hand and can be changed at any time.
Contacts that come in through a lead capture form become hot leads, and a hot lead that
is sent an invoice, accepts a quote or signs a contract becomes a client; both moves are
rules in ``pack/contact_types.yaml``, not code (the pack is described by
``pack/pack.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

import click

from crmkit.plugin_api import Facet, Pack, Setting, hookimpl, load_pack
from crmkit_17hats.commands import hats
from crmkit_17hats.facets import CONTACT_TYPE
from crmkit_17hats.pages import ACTIVE_DAYS, COLD_AFTER_DAYS, NEW_DAYS


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(CONTACT_TYPE)


@hookimpl
def crmkit_register_settings(register: Callable[[Setting], None]) -> None:

    for setting in (COLD_AFTER_DAYS, NEW_DAYS, ACTIVE_DAYS):
        register(setting)


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_17hats").joinpath("pack")))


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:

    cli.add_command(hats)
