"""Hook specifications: every extension point crmkit offers, in one module.

Implement a hook with ``@crmkit.hookimpl`` on a function of the same name in your plugin
module and register the module under the ``crmkit`` entry-point group. Arguments are
always passed by keyword; an implementation may accept any subset of them.

See docs/hooks.md for a worked example of each hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crmkit.markers import hookspec

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


# ---------------------------------------------------------------- registration hooks
# Called once, when a CRM is built (crmkit.CRM(...)). The host passes a ``register``
# callback so it can validate each item and remember which plugin provided it.


@hookspec
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    """Register facets (enumerated contact attributes).

    Called once when the CRM is built. Call ``register(Facet(...))`` for each facet the
    plugin provides. A second facet with the same name is an error naming both plugins.
    Returns nothing; all implementations run.
    """


@hookspec
def crmkit_register_actions(register: Callable[[str, ActionSpec], None]) -> None:
    """Register rule actions that rulesets can use by name.

    Called once when the CRM is built. Call ``register(name, ActionSpec(...))``; the
    spec validates the action's arguments when a ruleset is loaded and turns them into
    :class:`crmkit.rules.actions.Change` objects when a rule fires. crmkit's own
    ``set``, ``tag``, ``untag`` and ``score`` actions are registered through this hook.
    Returns nothing; all implementations run.
    """


@hookspec
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    """Register rule packs (rulesets, templates and the facets they use).

    Called once when the CRM is built. Call ``register(Pack(...))`` once per pack
    version; several versions of one pack may be registered side by side.
    Returns nothing; all implementations run.
    """


@hookspec
def crmkit_register_settings(register: Callable[[Setting], None]) -> None:
    """Declare tenant settings: their type and allowed range.

    Called once when the CRM is built. Call ``register(Setting(...))`` for each setting
    the plugin's packs or code read. Every value set for it (``update_settings``,
    ``configure_tenant``, ``crmkit settings set``) is checked, and a refusal names the
    setting, the value and what is allowed. Two plugins may declare one setting only
    identically. Returns nothing; all implementations run.
    """


@hookspec
def crmkit_register_migrations(register: Callable[[Traversable | str], None]) -> None:
    """Contribute the plugin's own tables' migrations: a folder of Alembic revisions.

    Called once when the CRM is built. Call ``register(folder)`` with the folder (a
    path or an ``importlib.resources`` folder, e.g. ``files("my_plugin") / "migrations"``)
    holding the plugin's revision scripts: one Alembic branch per plugin (Alembic's
    "multiple bases"), whose first revision has ``down_revision = None``, its own
    ``branch_labels`` and ``depends_on`` the core revision that made the tables its
    foreign keys point at. ``CRM.migrate()`` (``crmkit init``) upgrades the core and
    every registered branch to their heads in one transaction; a CRM refuses to work
    on a database whose branches are not all at head. Returns nothing; all
    implementations run.
    """


@hookspec
def crmkit_register_condition_macros(register: Callable[[str, str], None]) -> None:
    """Add history functions to the condition language (``engaged(...) within 14 days``).

    Called once when the CRM is built. ``register(name, condition)``: a search may then
    use ``name(...)`` and ``name(...) within N days`` as ``had_event(...)`` is used, and
    ``condition`` (an event condition such as ``event.kind == engagement``) is added to
    what the matching event must satisfy. Names are lower-case words; a name
    registered twice, or ``had_event``, is an error naming the plugins. A search using
    an unregistered function fails naming it. Returns nothing; all implementations run.
    """


@hookspec
def crmkit_register_transfer_columns(register: Callable[[TransferColumn], None]) -> None:
    """Add list columns to contact imports and exports (a pack's groups, for example).

    Called once when the CRM is built. ``register(column)`` with a
    :class:`crmkit.plugin_api.TransferColumn`: its ``name`` (a lower-case word that is
    not a built-in target) becomes an import target and its ``synonyms`` headers that
    suggest it; a cell holds names separated by ``,`` or ``;``, each passed through
    ``column.clean``. Each import batch calls ``column.write(connection, scope, wanted,
    now)`` in its own transaction with the (contact id, names) pairs of its rows and
    counts the contacts it returns as updated; an export adds the column after ``tags``
    and fills it from ``column.read(connection, scope, contact_ids)``. A name
    registered twice is an error naming both plugins. Returns nothing; all
    implementations run.
    """


# ---------------------------------------------------------------- decision hooks


@hookspec(firstresult=True)
def crmkit_guard_change(
    tenant: str, contact_id: int, change: Change, cause_type: str
) -> str | None:
    """Veto a change before it is applied.

    Called for every facet, tag and score change on every path (``cause_type`` is
    ``"rule"``, ``"manual"`` or ``"import"``), after the facet's own policy accepted it.
    Return a reason (a string) to refuse the change, or ``None`` to let it pass.
    Stops at the first non-``None`` result. A refusal raises
    :class:`crmkit.errors.PolicyError` with the reason and nothing is written.
    """


@hookspec
def crmkit_register_permits(
    register: Callable[[str, Callable[[str, Mapping[str, Any]], str | None]], None],
) -> None:
    """Register checks that may refuse an activity for a contact.

    Called once when the CRM is built. ``register(activity, check)``: ``activity`` is an
    event kind (``"invoice_sent"``...), ``"project"`` (becoming a project's primary
    contact) or ``"*"`` (every activity). Before anything is written, crmkit calls
    ``check(tenant, contact)`` for the activity's checks; ``contact`` is a read-only
    mapping of the contact (id, names, facets, score, tags, fields...). A check returns a
    reason to refuse: crmkit raises :class:`crmkit.errors.PolicyError` with it and writes
    nothing (a batch ingest counts the event as failed); ``None`` lets it pass. Only the
    checks registered for an event's kind run, so unrelated events cost nothing.
    All implementations run.
    """


# ---------------------------------------------------------------- in the transaction


@hookspec
def crmkit_on_changes(
    tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
) -> None:
    """Changes were applied and are about to be committed.

    Called inside the transaction once per write (one event, one manual change, one new
    contact, one ingest batch) with all its transitions, on every path (rules, manual,
    import). Use ``context`` to write related records in the same transaction, to apply
    changes to other contacts (their transitions come back through this hook), or to
    queue notices for after the commit. Raising aborts the transaction: nothing of the
    write is kept. All implementations run.
    """


@hookspec
def crmkit_on_tick(tenant: str, context: ChangeContext) -> None:
    """Time passed: do work that depends on time (decay, expiry, rankings).

    Called by ``crmkit tick`` (``Tenant.tick``) inside its transaction, before the tick
    rules run; ``context.now`` is the tick's time (which may be given, for replays and
    tests). Change contacts with ``context.apply`` so each change has a transition.
    All implementations run.
    """


@hookspec
def crmkit_on_contact_archived(
    tenant: str, contact_id: int, connection: Connection, scope: TenantScope
) -> None:
    """A contact is being archived.

    Called inside the archive's transaction (``Tenant.archive_contact``, and deleting a
    contact that is not archived yet), only when the contact was not archived before.
    Use ``connection`` and ``scope`` (the tenant's rows) to revoke what an archived
    contact may no longer use, e.g. the funnel pack revokes its portal password and
    token. Restoring the contact gives nothing back. Raising aborts the archive.
    All implementations run.
    """


@hookspec
def crmkit_erase_contact(
    tenant: str,
    contact_id: int,
    contact: Mapping[str, Any],
    connection: Connection,
    scope: TenantScope,
) -> Mapping[str, int] | None:
    """An archived contact is being erased for good: wipe what the plugin keeps of it.

    Called inside the erase's transaction, before the contact's rows are deleted
    (rows of any table with a foreign key to ``contacts`` are deleted by crmkit after
    this hook). ``contact`` holds its stored values (``email``, ``phone``...). Clean
    copies of its values kept elsewhere (see :mod:`crmkit.erasure`), e.g. the contacts
    pack scrubs its saved searches. Return the number of rows removed or cleaned per
    table (merged into what ``Tenant.delete_contact``'s erase reports), or None.
    Raising aborts the erase. All implementations run.
    """


# ---------------------------------------------------------------- notifications
# Called after the transaction committed, so an implementation sees durable data.
# An exception here propagates to the caller; the data stays committed.


@hookspec
def crmkit_on_contact_created(tenant: str, contact: dict[str, Any]) -> None:
    """A contact was created and committed.

    ``contact`` is the contact as ``Tenant.get_contact`` returns it (a plain dict).
    Returns nothing; all implementations run.
    """


@hookspec
def crmkit_on_event_recorded(
    tenant: str, event: dict[str, Any], changes: list[dict[str, Any]]
) -> None:
    """An event was recorded and its rule changes committed.

    ``event`` has id, contact_id, kind, data and occurred_at; ``changes`` lists the
    transitions the event caused (possibly empty). Not called for events a batch
    ingest skipped as duplicates. Returns nothing; all implementations run.
    """


@hookspec
def crmkit_on_event_failed(tenant: str, event: dict[str, Any], error: str) -> None:
    """An event's rules failed; the event was stored with status ``failed``.

    Called after the failure was committed and before the error reaches the caller.
    Returns nothing; all implementations run.
    """


@hookspec
def crmkit_on_notice(tenant: str, contact_id: int, kind: str, data: dict[str, Any]) -> None:
    """Deliver something to a contact, after the transaction that produced it committed.

    Plugins queue notices with ``ChangeContext.notify`` (the funnel plugin sends
    ``"portal_invitation"`` with ``username``, ``token`` and ``expires_at``); delivery
    plugins (email, SMS) implement this hook. All implementations run.
    """


# ---------------------------------------------------------------- phones and messages
# The first plugin that answers wins (firstresult); returning None passes to the next
# plugin and, when nobody answers, to crmkit's default plugin (registered trylast).


@hookspec(firstresult=True)
def crmkit_phone_line_type(tenant: str, number: str) -> str | None:
    """The line type of an E.164 ``number``, from a real lookup provider.

    Return one of ``mobile``, ``landline``, ``fixed_line_or_mobile``, ``voip``,
    ``toll_free``, ``premium_rate``, ``pager`` or ``other`` (see
    :data:`crmkit.phones.LINE_TYPES`), or None to let the next plugin answer; crmkit's
    default plugin (:mod:`crmkit.default_phones`, ``trylast``) answers from
    phonenumbers' offline metadata. Called before the write that sets the
    number, outside any transaction, so a network lookup holds no locks. Mobile, VoIP
    and "fixed line or mobile" numbers turn OK to SMS on; any other type turns it off
    with a note ("Landline number, SMS not allowed.").
    """


@hookspec(firstresult=True)
def crmkit_send_sms(tenant: str, message: dict[str, Any], outbox: SmsOutbox) -> str | None:
    """Deliver a text; return the provider's reference for it.

    Called outside any transaction, after the message was stored as ``sending``.
    ``message`` has ``id``, ``contact_id``, ``to`` (E.164) and ``body``. Raise to report
    a failure (the message is kept as ``failed`` with the error). Return None to pass to
    the next plugin. ``outbox.queue()`` leaves the text in the ``sms_outbox`` table for a
    gateway to pick up (in the transaction that marks the message sent) and returns its
    reference: crmkit's default plugin (:mod:`crmkit.default_transports`, ``trylast``)
    does that when no other plugin sends it. Stops at the first non-``None`` result.
    """


@hookspec(firstresult=True)
def crmkit_send_email(
    tenant: str, message: dict[str, Any], settings: Mapping[str, Any]
) -> str | None:
    """Deliver an email; return the provider's reference for it.

    Called outside any transaction, after the message was stored as ``sending``.
    ``message`` has ``id``, ``contact_id``, ``to``, ``from``, ``subject`` and ``body``;
    ``settings`` are the tenant's settings. Raise to report a failure. Return None to
    pass to the next plugin; crmkit's default plugin (:mod:`crmkit.default_transports`,
    ``trylast``) sends it over SMTP (settings ``smtp_host``, ``smtp_port``,
    ``mail_from``...). Stops at the first non-``None`` result.
    """


# ---------------------------------------------------------------- command line


@hookspec
def crmkit_register_commands(cli: click.Group) -> None:
    """Add commands or command groups to the ``crmkit`` command line.

    Called once when the ``crmkit`` command starts, before arguments are parsed; use
    ``cli.add_command(...)``. A command reaches the database through
    ``crmkit.cli.context.current_tenant()``. All implementations run.
    """
