"""The demo: ``crmkit demo`` composes the first-party packs on sample data.

A first-party plugin of its own because it names the packs it shows (17hats, funnel,
contacts) and uses the contacts pack's groups and segments, which the core never does.
"""

from __future__ import annotations

import click

from crmkit.plugin_api import hookimpl
from crmkit_demo.demo import demo


@hookimpl
def crmkit_register_commands(cli: click.Group) -> None:
    cli.add_command(demo)
