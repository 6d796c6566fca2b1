"""One tenant's API: contacts, facets, accounts, projects, notes, events, explain.

:class:`Tenant` is a facade: every method hands its work to a service module, passing
the tenant's :class:`~crmkit.context.TenantContext` (never the Tenant itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection

import crmkit.accounts as accounts
import crmkit.applying as applying
import crmkit.contacts_service as contacts_service
import crmkit.custom_fields as custom_fields
import crmkit.editing as editing
import crmkit.event_history as event_history
import crmkit.messaging as messaging
import crmkit.notes as notes
import crmkit.profiles as profiles
import crmkit.projects as projects
import crmkit.recording as recording
import crmkit.tenant_settings as tenant_settings
import crmkit.ticking as ticking
import crmkit.transfer.exporter as exporter
import crmkit.transfer.importer as importer
import crmkit.upcoming as upcoming
from crmkit.applying import transition_out, validation_error
from crmkit.changes import ChangeContext, Notice
from crmkit.contacts_service import EXPLAINABLE
from crmkit.context import TenantContext
from crmkit.event_history import EventSummary
from crmkit.pipeline import AfterChanges, ChangeApplier, ContactState, Permit
from crmkit.rules.actions import Change
from crmkit.runtime import TenantRuntime
from crmkit.schemas import (
    ActionOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    EventOut,
    FieldOut,
    IngestSummary,
    MessageOut,
    TransitionOut,
)
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.conditions.ast import Node
    from crmkit.core import CRM
    from crmkit.profiles import ContactProfile
    from crmkit.ticking import TickSummary
    from crmkit.transfer.report import ImportSummary

__all__ = ["EXPLAINABLE", "Tenant", "transition_out", "validation_error"]


class Tenant:
    """A handle on one tenant. Cheap to create; every call reads the current config."""

    def __init__(self, crm: CRM, name: str) -> None:
        self.crm = crm
        self.name = name
        self.context: TenantContext = crm.tenant_context(name)

    def __repr__(self) -> str:
        return f"Tenant({self.name!r})"

    # ------------------------------------------------------------ helpers
    def runtime(self, conn: Connection) -> TenantRuntime:
        """The tenant's current configuration (rebuilt when it changed)."""
        return self.context.runtime(conn)

    def write_runtime(self, conn: Connection) -> TenantRuntime:
        """The runtime, for a transaction that writes: takes the tenant's write lock
        first (see :mod:`crmkit.storage.writers`), so nothing read after it is stale."""
        return self.context.write_runtime(conn)

    def applier(self, runtime: TenantRuntime, now: datetime | None = None) -> ChangeApplier:
        """A change applier for one write, asking the guard hooks."""
        return applying.applier(self.context, runtime, now)

    def change_context(
        self,
        conn: Connection,
        runtime: TenantRuntime,
        outbox: list[Notice],
        *,
        created: Sequence[int] = (),
        now: datetime | None = None,
    ) -> ChangeContext:
        """The context plugins get inside a transaction (see ``crmkit_on_changes``)."""
        return applying.change_context(
            self.context, conn, runtime, outbox, created=created, now=now
        )

    def after_changes(
        self, runtime: TenantRuntime, outbox: list[Notice], *, now: datetime | None = None
    ) -> AfterChanges | None:
        """The ``crmkit_on_changes`` call for one write, or None when no plugin listens."""
        return applying.after_changes(self.context, runtime, outbox, now=now)

    def deliver(self, outbox: list[Notice]) -> None:
        """Hand queued notices to ``crmkit_on_notice`` (after the commit); a quiet CRM
        (a replay's scratch copy) drops them."""
        applying.deliver(self.context, outbox)

    def permit_check(self) -> Permit | None:
        """The registered permit checks as one function, or None when there are none."""
        return applying.permit_check(self.context)

    def permit(self, state: ContactState, activity: str) -> None:
        """Raise :class:`PolicyError` if a plugin refuses ``activity`` for the contact."""
        applying.permit(self.context, state, activity)

    @staticmethod
    def allocate_ids(conn: Connection, runtime: TenantRuntime, count: int, counter: str) -> int:
        """Reserve ``count`` ids from one of the tenant's counters; return the first."""
        return applying.allocate_ids(conn, runtime, count, counter)

    def _state(self, conn: Connection, scope: TenantScope, contact_id: int) -> ContactState:
        return applying.load_state(self.context, conn, scope, contact_id)

    def _account_id(self, conn: Connection, runtime: TenantRuntime, name: str) -> int:
        return accounts.account_id(self.context, conn, runtime, name)

    # ------------------------------------------------------------ contacts
    def add_contact(self, data: ContactIn | Mapping[str, Any], *, actor: str = "api") -> ContactOut:
        """Create a contact. Given facet values are manual changes and pass the policies.

        The cell phone is stored in E.164 and checked (``crmkit_phone_line_type``) to
        decide OK to SMS; fields are checked by their types, and a field name the tenant
        does not know yet becomes a custom field.
        """
        return contacts_service.add_contact(self.context, data, actor)

    def get_contact(self, contact_id: int) -> ContactOut:
        """One contact; :class:`NotFoundError` when the tenant has no such contact."""
        return contacts_service.get_contact(self.context, contact_id)

    def contact_filter(
        self, conn: Connection, where: str | Node, runtime: TenantRuntime | None = None
    ) -> ColumnElement[bool]:
        """The SQL condition for a search expression (text, or a tree built in code, such
        as :func:`crmkit.filters.build_filter` makes) on this tenant's contacts."""
        return contacts_service.contact_filter(self.context, conn, where, runtime)

    def list_contacts(
        self,
        where: str | Node | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        order: str = "id",
        archived: bool | None = False,
    ) -> list[ContactOut]:
        """Contacts, optionally filtered by a condition (run as SQL).

        ``order`` is ``"id"`` or ``"first_name"`` (alphabetical, case-insensitive).
        Archived contacts are left out; ``archived=True`` lists only them and
        ``archived=None`` lists both.
        """
        return contacts_service.list_contacts(
            self.context, where, limit=limit, offset=offset, order=order, archived=archived
        )

    def contacts_by_id(self, ids: Sequence[int]) -> list[ContactOut]:
        """The contacts with these ids, in this order (unknown ids are an error)."""
        return contacts_service.contacts_by_id(self.context, ids)

    def apply_manual(
        self, contact_id: int, changes: Sequence[Change], *, actor: str = "api"
    ) -> list[dict[str, Any]]:
        """Apply changes to one contact by hand, in one transaction; return the
        transitions written. Each passes the facet policies and guard hooks; a refusal
        raises :class:`PolicyError` and writes nothing."""
        return contacts_service.apply_manual(self.context, contact_id, changes, actor)

    def set_facet(
        self, contact_id: int, facet: str, value: str, *, actor: str = "api"
    ) -> TransitionOut | None:
        """A manual change of one facet; returns its transition (None if unchanged).

        A refusal raises :class:`PolicyError` and writes nothing.
        """
        return contacts_service.set_facet(self.context, contact_id, facet, value, actor)

    # ------------------------------------------------------------ profile edits
    def update_contact(
        self, contact_id: int, values: ContactPatch | Mapping[str, Any], *, actor: str = "api"
    ) -> list[TransitionOut]:
        """Change profile values by hand (see :class:`ContactPatch`); returns the
        transitions written. A new cell phone is checked again for OK to SMS."""
        return editing.update_contact(self.context, contact_id, values, actor)

    def check_phone(self, contact_id: int, *, actor: str = "phone check") -> dict[str, Any]:
        """Look the contact's cell phone up again and set OK to SMS from the answer."""
        return editing.check_phone(self.context, contact_id, actor)

    def tag_contact(
        self,
        contact_id: int,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        actor: str = "api",
    ) -> list[TransitionOut]:
        """Add and remove tags by hand."""
        return editing.edit_tags(self.context, contact_id, add, remove, actor)

    def tags(self) -> list[dict[str, Any]]:
        """The tenant's tags with how many contacts carry each."""
        return editing.tag_list(self.context)

    def duplicate_contact(self, contact_id: int, *, actor: str = "api") -> ContactOut:
        """A copy with the same fields, tags and facets; not notes, events or history."""
        return editing.duplicate_contact(self.context, contact_id, actor)

    def delete_contact(self, contact_id: int, *, actor: str = "api") -> str:
        """Archive the contact; if it is archived already, erase it for good.

        Returns ``"archived"`` or ``"erased"``. Erasing removes the contact with its
        events, transitions, notes, messages, actions and memberships.
        """
        return editing.delete_contact(self.context, contact_id, actor)

    def restore_contact(self, contact_id: int, *, actor: str = "api") -> bool:
        """Bring an archived contact back into lists and searches."""
        return editing.set_archived(self.context, contact_id, False, actor)

    # ------------------------------------------------------------ fields and profile
    def fields(self) -> list[FieldOut]:
        """The tenant's profile fields: its packs' and its custom fields."""
        return custom_fields.field_list(self.context)

    def add_custom_field(
        self, label: str, type: str = "text", choices: Sequence[str] = ()
    ) -> FieldOut:
        """Add a custom field (name made from the label) of a type in FIELD_TYPES."""
        return custom_fields.add_field(self.context, label, type, choices)

    def apply_custom_field(self, name: str) -> int:
        """Put the field, empty, on every contact lacking it; return how many got it."""
        return custom_fields.apply_to_all(self.context, name)

    def profile(self, contact_id: int) -> ContactProfile:
        """Everything the contact's profile shows (see :mod:`crmkit.profiles`)."""
        return profiles.build_profile(self.context, contact_id)

    def profile_html(self, contact_id: int) -> str:
        """The contact's profile as a self-contained HTML page."""
        return profiles.profile_html(self.context, contact_id)

    # ------------------------------------------------------------ actions and messages
    def schedule_action(
        self,
        contact_id: int,
        kind: str,
        title: str,
        due_at: datetime,
        *,
        template: str | None = None,
        subject: str | None = None,
        body: str | None = None,
        actor: str = "api",
    ) -> ActionOut:
        """Put an upcoming action (step, text, email, appointment, reminder) on a contact."""
        return upcoming.schedule(
            self.context, contact_id, kind, title, due_at,
            template=template, subject=subject, body=body, actor=actor,
        )  # fmt: skip

    def actions(
        self, contact_id: int | None = None, *, include_closed: bool = False
    ) -> list[ActionOut]:
        """Upcoming actions by due time (all contacts' without ``contact_id``)."""
        return upcoming.actions(self.context, contact_id, include_closed=include_closed)

    def cancel_action(self, action_id: int, *, actor: str = "api") -> ActionOut:
        """Cancel an upcoming action that is still open."""
        return upcoming.cancel(self.context, action_id, actor)

    def send_text(
        self,
        contact_id: int,
        *,
        body: str | None = None,
        template: str | None = None,
        actor: str = "api",
    ) -> MessageOut:
        """Text the contact's cell phone; refused unless OK to SMS is on."""
        return messaging.send(
            self.context, contact_id, "sms", body=body, template=template, actor=actor
        )

    def send_email(
        self,
        contact_id: int,
        *,
        subject: str | None = None,
        body: str | None = None,
        template: str | None = None,
        actor: str = "api",
    ) -> MessageOut:
        """Email the contact (SMTP unless a plugin's ``crmkit_send_email`` sends it)."""
        return messaging.send(
            self.context, contact_id, "email",
            body=body, template=template, subject=subject, actor=actor,
        )  # fmt: skip

    def receive_text(self, sender: str, body: str, *, at: datetime | None = None) -> MessageOut:
        """Log an inbound text and record it as an ``engagement`` event on channel sms."""
        return messaging.receive(self.context, "sms", sender, body, at=at)

    def receive_email(
        self, sender: str, body: str, *, subject: str | None = None, at: datetime | None = None
    ) -> MessageOut:
        """Log an inbound email and record it as an ``engagement`` event on channel email."""
        return messaging.receive(self.context, "email", sender, body, subject=subject, at=at)

    def messages(
        self, contact_id: int, channel: str | None = None, *, limit: int | None = None
    ) -> list[MessageOut]:
        """The contact's texts and emails, newest first."""
        return messaging.messages(self.context, contact_id, channel, limit)  # type: ignore[arg-type]

    def explain(self, contact_id: int, facet: str | None = None) -> list[TransitionOut]:
        """Why the contact has its values: its transitions, oldest first."""
        return contacts_service.explain(self.context, contact_id, facet)

    def events_by_id(self, ids: Iterable[str]) -> dict[str, EventSummary]:
        """The events with these ids: kind, data, time (``explain`` shows them)."""
        return event_history.events_by_id(self.context, ids)

    def changes_of_event(self, event_id: str) -> list[TransitionOut]:
        """Every change the event caused, plugins' replies to the rules' changes too."""
        return event_history.changes_of_event(self.context, event_id)

    # ------------------------------------------------------------ facets
    def facet_names(self) -> list[str]:
        """The facets this tenant's packs bring, in pack order."""
        return tenant_settings.facet_names(self.context)

    def facet_table(self) -> list[dict[str, Any]]:
        """The tenant's facets with their values and this tenant's colours."""
        return tenant_settings.facet_table(self.context)

    def set_colour(self, facet: str, value: str, colour: str) -> None:
        """Recolour a facet value for this tenant; refused where the facet fixes colours."""
        tenant_settings.set_colour(self.context, facet, value, colour)

    # ------------------------------------------------------------ accounts, projects, notes
    def add_account(self, name: str) -> int:
        """Create an account (company) or return the existing one of that name."""
        return accounts.add_account(self.context, name)

    def add_note(self, contact_id: int, body: str, *, author: str | None = None) -> int:
        """Add a note to the contact; return its id."""
        return notes.add_note(self.context, contact_id, body, author)

    def notes(self, contact_id: int) -> list[dict[str, Any]]:
        """The contact's notes (id, body, author, created_at), oldest first."""
        return notes.notes(self.context, contact_id)

    def add_project(
        self, name: str, primary_contact: int, related: Mapping[int, str] | None = None
    ) -> int:
        """Create a project for a primary contact, with related contacts and their roles."""
        return projects.add_project(self.context, name, primary_contact, related)

    def add_related(self, project_id: int, contact_id: int, role: str) -> None:
        """Relate a contact to a project with a role label (a contact can be in many)."""
        projects.add_related(self.context, project_id, contact_id, role)

    def list_projects(self, contact_id: int | None = None) -> list[dict[str, Any]]:
        """Projects in id order; with ``contact_id``, those the contact is primary on or
        related to."""
        return projects.list_projects(self.context, contact_id)

    def get_project(self, project_id: int, *, conn: Connection | None = None) -> dict[str, Any]:
        """A project: id, name, primary_contact and related (contact, role)."""
        return projects.get_project(self.context, project_id, conn=conn)

    # ------------------------------------------------------------ settings and accounts
    def settings(self) -> dict[str, Any]:
        """The tenant's settings as stored."""
        return tenant_settings.settings(self.context)

    def update_settings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``values`` into the tenant's settings (takes effect on the next call).

        Each value is checked against its declared type and range (and against the
        tick rules that read it) first: a refusal is a ConfigError and changes nothing."""
        return tenant_settings.update_settings(self.context, values)

    def noun(self, plural: bool = False) -> str:
        """What this tenant calls its contacts (settings ``contact_noun`` and
        ``contact_noun_plural``; default contact / contacts)."""
        return tenant_settings.noun(self.context, plural)

    def list_accounts(self) -> list[dict[str, Any]]:
        """Accounts (companies) by name, with the ids of their contacts."""
        return accounts.list_accounts(self.context)

    def account_contacts(self, name: str) -> list[int]:
        """The ids of the contacts in the account called ``name``."""
        return accounts.account_contacts(self.context, name)

    # ------------------------------------------------------------ time
    def tick(self, now: datetime | None = None, *, carry_out: bool = True) -> TickSummary:
        """Run what depends on time: plugins' time work, the tick rules, then (unless
        ``carry_out`` is false) the upcoming actions that are due.

        ``now`` defaults to the CRM's clock; give it to test a moment.
        """
        return ticking.tick(self.context, now, carry_out=carry_out)

    # ------------------------------------------------------------ import and export
    def import_contacts(
        self,
        path: str | Path,
        *,
        mapping: Mapping[str, str] | None = None,
        mapping_file: str | Path | None = None,
        match: str | None = "auto",
        dry_run: bool = False,
        fire_rules: bool = False,
        errors_path: str | Path | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        sheet: str | None = None,
        batch_size: int = 5000,
        workers: int | None = 0,
        actor: str | None = None,
        progress: Callable[[int, float | None], None] | None = None,
        again: bool = False,
        strict: bool = False,
        skip_rows: int | None = None,
    ) -> ImportSummary:
        """Import contacts from a CSV, XLSX or vCard file; see :mod:`crmkit.transfer.importer`.

        ``mapping`` (column to target) and ``mapping_file`` override the suggested
        mapping; ``match`` (``auto``, ``email``, ``phone``, ``id``, ``fields.NAME`` or
        ``none``) finds the contact a row updates; bad rows go to ``errors_path`` and the
        summary. ``fire_rules`` records a ``contact_imported`` event per imported row.
        ``workers`` processes check rows in parallel (None: two for files over 8 MB);
        they are spawned, so a script that sets it needs ``if __name__ == "__main__":``.
        The same import run again resumes where it stopped, or changes nothing if it
        finished; ``again`` imports the file once more anyway. A bad cell is left out
        of its row (reported) unless ``strict``; ``skip_rows``: the rows before the
        header (None: a preamble is found by itself).
        """
        return importer.import_contacts(
            self.context, path,
            mapping=mapping, mapping_file=mapping_file, encoding=encoding,
            delimiter=delimiter, sheet=sheet, skip_rows=skip_rows, progress=progress,
            options=importer.ImportOptions(
                match=match, dry_run=dry_run, fire_rules=fire_rules,
                errors_path=Path(errors_path) if errors_path is not None else None,
                batch_size=batch_size, workers=workers, actor=actor, again=again,
                strict=strict,
            ),
        )  # fmt: skip

    def export_contacts(
        self,
        output: str | Path | IO[str] | None = None,
        *,
        format: str | None = None,
        where: str | None = None,
        archived: bool | None = False,
    ) -> int:
        """Write contacts to CSV or XLSX as an import reads them back; see
        :func:`crmkit.transfer.exporter.export_contacts`."""
        return exporter.export_contacts(
            self.context, Path(output) if isinstance(output, str) else output,
            format=format, where=where, archived=archived,
        )  # fmt: skip

    # ------------------------------------------------------------ events
    def record_event(
        self,
        contact: int,
        kind: str,
        data: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        at: Any = None,
    ) -> EventOut:
        """Record one event, run the tenant's rules and commit everything together.

        Raises :class:`DuplicateEventError` if the id was recorded before,
        :class:`NotFoundError` for an unknown contact (nothing is written in both cases),
        and :class:`ActionError` / :class:`PolicyError` when a rule's change fails (the
        event is then stored with status ``failed`` and nothing else changes).
        """
        return recording.record_event(self.context, contact, kind, data, id=id, at=at)

    def ingest(
        self,
        events: Iterable[Mapping[str, Any] | BaseException],
        *,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> IngestSummary:
        """Record many events in batches; see :func:`crmkit.recording.ingest`."""
        return recording.ingest(self.context, events, batch_size=batch_size, progress=progress)
