"""The 17hats pack: contact types (Hot Lead, Client, Cold Prospect, Other).

A contact's type is chosen when it is added by hand and can be changed at any time.
Contacts that come in through a lead capture form become hot leads, and a hot lead that
is sent an invoice, accepts a quote or signs a contract becomes a client; both moves are
rules in ``rulesets/17hats/contact_types.yaml``, not code.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

import click

from crmkit import hookimpl
from crmkit.facets import Facet, FacetValue
from crmkit.packs import Pack
from crmkit.settings import Setting

CONTACT_TYPE = Facet(
    name="contact_type",
    label="Contact type",
    values=(
        FacetValue("hot_lead", "Hot Lead", "orange"),
        FacetValue("client", "Client", "green"),
        FacetValue("cold_prospect", "Cold Prospect", "blue"),
        FacetValue("other", "Other", "grey"),
    ),
    default="other",
    policy="free",
    colours_fixed=True,
    description="How 17hats sorts contacts; the colours are part of the product.",
)


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(CONTACT_TYPE)


@hookimpl
def crmkit_register_settings(register: Callable[[Setting], None]) -> None:
    from crmkit_17hats.pages import ACTIVE_DAYS, COLD_AFTER_DAYS, NEW_DAYS

    for setting in (COLD_AFTER_DAYS, NEW_DAYS, ACTIVE_DAYS):
        register(setting)


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    rulesets = files("crmkit.rulesets").joinpath("17hats")
    register(
        Pack(
            name="17hats",
            version="1.0.0",
            rulesets=(rulesets.joinpath("contact_types.yaml"),),
            scenarios=(
                files("crmkit.rulesets")
                .joinpath("17hats")
                .joinpath("contact_types.scenarios.yaml"),
            ),
            facets=("contact_type",),
            templates=files("crmkit.templates").joinpath("17hats"),
            description="17hats contact types: Hot Lead, Client, Cold Prospect, Other",
        )
    )


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:
    from crmkit_17hats.commands import hats

    cli.add_command(hats)
