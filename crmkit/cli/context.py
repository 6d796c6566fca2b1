"""What every command shares: the database and tenant options, errors, plugin commands.

Plugin commands (``crmkit_register_commands``) reach the database with
:func:`current_tenant` and :func:`current_crm`.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crmkit.cli.output import errors, printable
from crmkit.clock import as_utc

if TYPE_CHECKING:
    from crmkit.core import CRM
    from crmkit.tenant import Tenant


class Context:
    """The global options, and the CRM built from them on first use."""

    def __init__(self, db: str, tenant: str, db_given: bool) -> None:
        self.db = db
        self.tenant_name = tenant
        self.db_given = db_given
        self._crm: CRM | None = None

    @property
    def crm(self) -> CRM:
        if self._crm is None:
            from crmkit.core import CRM

            self._crm = CRM(self.db)
        return self._crm

    def tenant(self) -> Tenant:
        return self.crm.tenant(self.tenant_name)


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """Click callback for an ISO 8601 time option (a date alone is its midnight; UTC
    when no zone is given)."""
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO time (e.g. 2026-05-01 or 2026-05-01T09:30Z)"
        ) from None


def pairs(items: tuple[str, ...], option: str, *, allow_empty: bool = False) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; ``allow_empty`` lets ``NAME=`` through (to clear)."""
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not (value or allow_empty):
            hint = " (an empty VALUE clears)" if allow_empty else ""
            fail(f"{option} {item!r}: use NAME=VALUE{hint}")
        found[name] = value
    return found


def default_actor() -> str:
    """Who a command acts as, for the audit trail: the login name, else ``cli``."""
    import getpass

    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):
        return "cli"


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line of stderr and exit with status 1."""
    errors.print(f"error: {printable(message, one_line=True)}", highlight=False, soft_wrap=True)
    sys.exit(1)


def current_context() -> Context:
    """The global options of the running command and the CRM built from them."""
    found = click.get_current_context().find_object(Context)
    if found is None:
        raise RuntimeError("not inside a crmkit command")
    return found


def current_crm() -> CRM:
    """The CRM of the running command (``--db``)."""
    return current_context().crm


def current_tenant() -> Tenant:
    """The tenant of the running command (``--db`` and ``--tenant``)."""
    return current_context().tenant()


def register_plugin_commands(cli: click.Group) -> None:
    """Let plugins add their commands (once per group)."""
    if getattr(cli, "_crmkit_plugins_loaded", False):
        return
    cli._crmkit_plugins_loaded = True  # type: ignore[attr-defined]
    from crmkit.plugins import build_plugin_manager

    build_plugin_manager().hook.crmkit_register_commands(cli=cli)


class CrmGroup(click.Group):
    """The top-level group: loads plugin commands on first use and turns crmkit's own
    errors into a one-line message and exit status 1."""

    def _load(self) -> None:
        from crmkit.errors import CRMError

        try:
            register_plugin_commands(self)
        except CRMError as exc:
            fail(str(exc))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as exc:
            raise _printable(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        from crmkit.errors import CRMError

        try:
            return super().invoke(ctx)
        except CRMError as exc:
            fail(str(exc))
        except click.ClickException as exc:
            raise _printable(exc) from None


def _printable(exc: click.ClickException) -> click.ClickException:
    """Click quotes some input as it is ("No such option: ...", extra arguments): the
    message is shown with its control characters escaped, on one line."""
    # Final for click's typing only; the exception is shown once, after this.
    exc.message = printable(exc.message, one_line=True)  # type: ignore[misc]
    return exc
