"""The typed facade over crmkit's plugin manager: one method per hook.

crmkit never calls ``pm.hook.crmkit_*`` directly: it calls these methods, so mypy checks
every call site against the spec, arguments always go by keyword, and the questions
"does any plugin implement this?" and "which plugin gave this item?" have one answer
each. Modelled on tox's ``tox.plugin.manager.Plugin``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from crmkit.errors import CRMError, PluginError

if TYPE_CHECKING:
    import sys

    import click
    from sqlalchemy import Connection

    from crmkit.changes import ChangeContext
    from crmkit.facets import Facet
    from crmkit.packs import Pack
    from crmkit.rules.actions import ActionSpec, Change
    from crmkit.settings import Setting
    from crmkit.storage.scope import TenantScope
    from crmkit.transfer.columns import TransferColumn
    from crmkit.transports import SmsOutbox

    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

# A permit check: (tenant, read-only contact) to a reason that refuses, or None.
PermitCheck = Callable[[str, Mapping[str, Any]], "str | None"]

HookName = Literal[
    "crmkit_register_facets",
    "crmkit_register_actions",
    "crmkit_register_packs",
    "crmkit_register_settings",
    "crmkit_register_permits",
    "crmkit_register_commands",
    "crmkit_register_migrations",
    "crmkit_register_condition_macros",
    "crmkit_register_transfer_columns",
    "crmkit_on_contact_archived",
    "crmkit_erase_contact",
    "crmkit_guard_change",
    "crmkit_on_changes",
    "crmkit_on_tick",
    "crmkit_on_contact_created",
    "crmkit_on_event_recorded",
    "crmkit_on_event_failed",
    "crmkit_on_notice",
    "crmkit_phone_line_type",
    "crmkit_send_sms",
    "crmkit_send_email",
]


class Hooks:
    """crmkit's hooks on one plugin manager (``CRM.hooks``; the manager is ``CRM.pm``).

    ``fallbacks`` names the default plugins that only answer when nobody else does
    (see :data:`crmkit.plugins.DEFAULT_PLUGINS`): :meth:`answered_by_plugin` leaves them
    out.
    """

    def __init__(self, pm: pluggy.PluginManager, fallbacks: frozenset[str] = frozenset()) -> None:
        self.pm = pm
        self.fallbacks = fallbacks

    # ------------------------------------------------------------ questions
    def implemented(self, name: HookName) -> bool:
        """Whether any plugin implements the hook (so a caller can skip the work of
        preparing its arguments)."""
        return bool(getattr(self.pm.hook, name).get_hookimpls())

    def answered_by_plugin(self, name: HookName) -> bool:
        """Whether a plugin other than crmkit's fallbacks implements the hook."""
        impls = getattr(self.pm.hook, name).get_hookimpls()
        return any(impl.plugin_name not in self.fallbacks for impl in impls)

    # ------------------------------------------------------------ registration
    def _collect(
        self,
        name: HookName,
        register: Callable[..., None],
        on_error: Callable[[str, CRMError], None] | None = None,
    ) -> None:
        """Call a ``register`` hook one plugin at a time, so each item is credited to
        the plugin that gave it: ``register(*item, provider)``. With ``on_error``, a
        plugin that fails is reported to it (``on_error(provider, error)``) and the
        other plugins still register; without, the error is raised."""
        for impl in getattr(self.pm.hook, name).get_hookimpls():
            provider = impl.plugin_name

            def bound(*args: Any, _provider: str = provider) -> None:
                register(*args, _provider)

            # Going through pluggy (not calling impl.function) keeps tracing and
            # argument checks.
            others = [p for p in self.pm.get_plugins() if p is not impl.plugin]
            try:
                try:
                    self.pm.subset_hook_caller(name, remove_plugins=others)(register=bound)
                except CRMError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin {provider!r} failed in {name}: {type(exc).__name__}: {exc}"
                    ) from exc
            except CRMError as exc:
                if on_error is None:
                    raise
                on_error(provider, exc)

    def register_facets(self, register: Callable[[Facet, str], None]) -> None:
        """``crmkit_register_facets``: ``register(facet, provider)`` per facet."""
        self._collect("crmkit_register_facets", register)

    def register_actions(self, register: Callable[[str, ActionSpec, str], None]) -> None:
        """``crmkit_register_actions``: ``register(name, spec, provider)`` per action."""
        self._collect("crmkit_register_actions", register)

    def register_packs(
        self,
        register: Callable[[Pack, str], None],
        on_error: Callable[[str, CRMError], None] | None = None,
    ) -> None:
        """``crmkit_register_packs``: ``register(pack, provider)`` per pack version;
        ``on_error(provider, error)`` for a plugin whose packs fail (see :meth:`_collect`)."""
        self._collect("crmkit_register_packs", register, on_error)

    def register_settings(self, register: Callable[[Setting, str], None]) -> None:
        """``crmkit_register_settings``: ``register(setting, provider)`` per setting."""
        self._collect("crmkit_register_settings", register)

    def register_permits(self, register: Callable[[str, PermitCheck, str], None]) -> None:
        """``crmkit_register_permits``: ``register(activity, check, provider)``."""
        self._collect("crmkit_register_permits", register)

    def register_migrations(self, register: Callable[[Traversable | str, str], None]) -> None:
        """``crmkit_register_migrations``: ``register(folder, provider)`` per plugin branch."""
        self._collect("crmkit_register_migrations", register)

    def register_condition_macros(self, register: Callable[[str, str, str], None]) -> None:
        """``crmkit_register_condition_macros``: ``register(name, condition, provider)``."""
        self._collect("crmkit_register_condition_macros", register)

    def register_transfer_columns(self, register: Callable[[TransferColumn, str], None]) -> None:
        """``crmkit_register_transfer_columns``: ``register(column, provider)`` per column."""
        self._collect("crmkit_register_transfer_columns", register)

    def register_commands(self, cli: click.Group) -> None:
        """``crmkit_register_commands``: every plugin adds its commands to ``cli``."""
        self.pm.hook.crmkit_register_commands(cli=cli)

    # ------------------------------------------------------------ decisions
    def guard_change(
        self, *, tenant: str, contact_id: int, change: Change, cause_type: str
    ) -> str | None:
        """``crmkit_guard_change``: the first plugin's reason to refuse, or None."""
        reason: str | None = self.pm.hook.crmkit_guard_change(
            tenant=tenant, contact_id=contact_id, change=change, cause_type=cause_type
        )
        return reason

    # ------------------------------------------------------------ in the transaction
    def on_changes(
        self, *, tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
    ) -> None:
        self.pm.hook.crmkit_on_changes(tenant=tenant, transitions=transitions, context=context)

    def on_tick(self, *, tenant: str, context: ChangeContext) -> None:
        self.pm.hook.crmkit_on_tick(tenant=tenant, context=context)

    def on_contact_archived(
        self, *, tenant: str, contact_id: int, connection: Connection, scope: TenantScope
    ) -> None:
        self.pm.hook.crmkit_on_contact_archived(
            tenant=tenant, contact_id=contact_id, connection=connection, scope=scope
        )

    def erase_contact(
        self,
        *,
        tenant: str,
        contact_id: int,
        contact: Mapping[str, Any],
        connection: Connection,
        scope: TenantScope,
    ) -> dict[str, int]:
        """``crmkit_erase_contact``: the rows every plugin removed, summed per table."""
        removed: dict[str, int] = {}
        answers: list[Mapping[str, int] | None] = self.pm.hook.crmkit_erase_contact(
            tenant=tenant,
            contact_id=contact_id,
            contact=contact,
            connection=connection,
            scope=scope,
        )
        for answer in answers:
            for table, count in (answer or {}).items():
                removed[table] = removed.get(table, 0) + count
        return removed

    # ------------------------------------------------------------ notifications
    def on_contact_created(self, *, tenant: str, contact: dict[str, Any]) -> None:
        self.pm.hook.crmkit_on_contact_created(tenant=tenant, contact=contact)

    def on_event_recorded(
        self, *, tenant: str, event: dict[str, Any], changes: list[dict[str, Any]]
    ) -> None:
        self.pm.hook.crmkit_on_event_recorded(tenant=tenant, event=event, changes=changes)

    def on_event_failed(self, *, tenant: str, event: dict[str, Any], error: str) -> None:
        self.pm.hook.crmkit_on_event_failed(tenant=tenant, event=event, error=error)

    def on_notice(self, *, tenant: str, contact_id: int, kind: str, data: dict[str, Any]) -> None:
        self.pm.hook.crmkit_on_notice(tenant=tenant, contact_id=contact_id, kind=kind, data=data)

    # ------------------------------------------------------------ phones and messages
    def phone_line_type(self, *, tenant: str, number: str) -> str | None:
        """``crmkit_phone_line_type``: the first answer (crmkit's offline metadata last)."""
        found: str | None = self.pm.hook.crmkit_phone_line_type(tenant=tenant, number=number)
        return found

    def send_sms(self, *, tenant: str, message: dict[str, Any], outbox: SmsOutbox) -> str | None:
        """``crmkit_send_sms``: the first transport's reference (the outbox last)."""
        reference: str | None = self.pm.hook.crmkit_send_sms(
            tenant=tenant, message=message, outbox=outbox
        )
        return reference

    def send_email(
        self, *, tenant: str, message: dict[str, Any], settings: Mapping[str, Any]
    ) -> str | None:
        """``crmkit_send_email``: the first transport's reference (SMTP last)."""
        reference: str | None = self.pm.hook.crmkit_send_email(
            tenant=tenant, message=message, settings=settings
        )
        return reference
