"""What every command shares: the database and tenant options, errors, the plugin
manager and the root group that plugins add their commands to.

Commands (crmkit's own and plugins', through ``crmkit_register_commands``) reach the
database with :func:`current_tenant` and :func:`current_crm`.
"""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from typing import Any, NoReturn

import click
import pluggy

from crmkit import core, plugins
from crmkit.cli.output import errors, printable
from crmkit.clock import as_utc
from crmkit.errors import CRMError
from crmkit.hooks import Hooks
from crmkit.tenant import Tenant


class Context:
    """The global options, and the CRM built from them on first use.

    ``plugin_manager`` is the one the command line loaded its commands from; the CRM is
    built with it, so plugins load once per run (without one, the CRM builds its own).
    """

    def __init__(
        self,
        db: str,
        tenant: str,
        db_given: bool,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        self.db = db
        self.tenant_name = tenant
        self.db_given = db_given
        self.plugin_manager = plugin_manager
        self._crm: core.CRM | None = None

    @property
    def crm(self) -> core.CRM:
        if self._crm is None:
            self._crm = core.CRM(self.db, plugin_manager=self.plugin_manager)
            for broken in self._crm.packs.broken:
                # Started without it: say so on every command, not only where it is used.
                errors.print(f"warning: {broken}", markup=False, highlight=False, soft_wrap=True)
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


def parse_time(value: str | None, option: str = "--at") -> datetime | None:
    """An ISO time given to ``option`` (None stays None); exits with a one-line error
    naming the option when it is not one."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option} {value!r} is not an ISO time (e.g. 2026-05-01T09:30:00+00:00)")


def default_actor() -> str:
    """Who a command acts as, for the audit trail: the login name, else ``cli``."""
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


def current_crm() -> core.CRM:
    """The CRM of the running command (``--db``)."""
    return current_context().crm


def current_tenant() -> Tenant:
    """The tenant of the running command (``--db`` and ``--tenant``)."""
    return current_context().tenant()


class CrmGroup(click.Group):
    """The root group: once per run it builds the plugin manager and lets every plugin
    (crmkit's own command groups are a default plugin) add its commands; it turns
    crmkit's own errors into a one-line message and exit status 1."""

    _plugin_manager: pluggy.PluginManager | None = None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Each run loads the plugins installed and allowed then, as a new process
        # would (click's test runner calls main once per run, in one process).
        self._plugin_manager = None
        return super().main(*args, **kwargs)

    def plugin_manager(self) -> pluggy.PluginManager:
        """The plugin manager of this run, the one its commands and its CRM come from;
        built on the first call of the run."""
        if self._plugin_manager is None:
            try:
                # Looked up at call time, so tests can wrap the builder.
                self._plugin_manager = plugins.build_plugin_manager(())
                Hooks(self._plugin_manager).register_commands(self)
            except CRMError as exc:
                fail(str(exc))
        return self._plugin_manager

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.plugin_manager()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self.plugin_manager()
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as exc:
            raise _printable(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
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
