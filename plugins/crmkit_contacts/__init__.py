"""The contacts pack: lead status, groups, segments, and the tenant's word for contacts.

* Facet ``lead_status``: new, contacted, qualified, converted, unqualified. ``converted``
  is set only by converting a lead (event ``lead_converted``), so the other packs a
  tenant uses react to the same conversion through their own rules.
* Groups (:mod:`crmkit_contacts.groups`) and segments (:mod:`crmkit_contacts.segments`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

import click

from crmkit import hookimpl
from crmkit.facets import Facet, FacetValue
from crmkit.manifests import load_pack
from crmkit.packs import Pack

LEAD_STATUS = Facet(
    name="lead_status",
    label="Lead status",
    values=(
        FacetValue("new", "New", "blue"),
        FacetValue("contacted", "Contacted", "teal"),
        FacetValue("qualified", "Qualified", "orange"),
        FacetValue("converted", "Converted", "green", auto_only=True),
        FacetValue("unqualified", "Unqualified", "grey"),
    ),
    default="new",
    policy="free",
    description="Where a contact is in the sales funnel of the contacts module.",
)

CONVERTED_EVENT = "lead_converted"


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(LEAD_STATUS)


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_contacts").joinpath("pack")))


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:
    from crmkit_contacts.commands import group, lead, noun, segment

    for command in (group, segment, lead, noun):
        cli.add_command(command)
