"""The ``crmkit`` command line: the root group and the console script.

The root group holds only the global options. Every command, crmkit's own included, is
added by a plugin through ``crmkit_register_commands`` (crmkit's command groups are the
default plugin :mod:`crmkit.cli.default_commands`), the first time the group lists or
looks up its commands.
"""

from __future__ import annotations

import click

from crmkit.cli.context import Context, CrmGroup
from crmkit.rules.engine import shutdown
from crmkit.storage.db import DEFAULT_URL


@click.group(cls=CrmGroup)
@click.option(
    "--db",
    envvar="CRMKIT_DATABASE_URL",
    default=None,
    show_envvar=True,
    help=f"Database URL or SQLite file. [default: {DEFAULT_URL}]",
)
@click.option(
    "--tenant",
    envvar="CRMKIT_TENANT",
    default="default",
    show_default=True,
    show_envvar=True,
    help="Tenant to work on.",
)
@click.version_option(package_name="crmkit")
@click.pass_context
def cli(ctx: click.Context, db: str | None, tenant: str) -> None:
    """crmkit: a CRM composed from plugins and declarative rule packs."""
    ctx.obj = Context(db or DEFAULT_URL, tenant, db is not None, cli.plugin_manager())


def build_cli() -> CrmGroup:
    """The root group with every plugin's commands added (for documentation and tests)."""
    cli.plugin_manager()
    return cli


def main() -> None:
    """The ``crmkit`` console script."""
    try:
        cli(prog_name="crmkit")
    finally:
        shutdown()
