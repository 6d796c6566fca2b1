"""Applying checked rows to contacts in memory, then writing a batch at once.

A new contact is built like :meth:`crmkit.tenant.Tenant.add_contact` builds one; a
matched contact gets the row's non-empty values, each change recorded as a transition
with cause ``import`` (profile values as target ``field``, as hand edits are). Facet
values and tags go through the same :class:`~crmkit.pipeline.ChangeApplier` as every
other change, so facet policies and guard hooks decide. A refused row leaves no trace:
its contact is put back as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam

from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.editing import field_transition
from crmkit.errors import PolicyError, ValidationError
from crmkit.pipeline import (
    CONTACT_INSERT_COLUMNS,
    AfterChanges,
    Cause,
    ChangeApplier,
    ContactState,
    load_states,
    persist,
)
from crmkit.profile_values import PhoneCheck, sms_after_edit
from crmkit.rules.actions import AddTag, SetFacet
from crmkit.runtime import TenantRuntime
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import ContactRow
from crmkit.storage.scope import TenantScope
from crmkit.transfer.rows import CleanRow

_C = ContactRow.__table__.c
_UPDATE_COLUMNS = ("first_name", "last_name", *PROFILE_FIELDS, "account_id", "fields")


class RowRefused(Exception):
    """A row cannot be applied: ``target`` is the mapping target to blame."""

    def __init__(self, target: str, value: str, reason: str) -> None:
        super().__init__(reason)
        self.target = target
        self.value = value
        self.reason = reason


class _Saved:
    """A contact's state before a row, to put back if the row is refused."""

    def __init__(self, state: ContactState, note: str | None, transitions: int) -> None:
        self.values = (
            state.first_name,
            state.last_name,
            dict(state.profile),
            state.account,
            state.account_id,
            state.ok_to_sms,
            dict(state.fields),
            dict(state.facets),
            set(state.tags),
            state.version,
            dict(state.changed_facets),
            set(state.tags_added),
            set(state.tags_removed),
        )
        self.version = state.version
        self.note = note
        self.transitions = transitions

    def restore(self, state: ContactState) -> None:
        (
            state.first_name,
            state.last_name,
            profile,
            state.account,
            state.account_id,
            state.ok_to_sms,
            fields,
            facets,
            state.tags,
            state.version,
            state.changed_facets,
            state.tags_added,
            state.tags_removed,
        ) = self.values
        state.profile.clear()
        state.profile.update(profile)
        state.fields.clear()
        state.fields.update(fields)
        state.facets.clear()
        state.facets.update(facets)


class ContactUpdate:
    """The contacts one batch creates and changes, held until :meth:`write`."""

    def __init__(
        self,
        runtime: TenantRuntime,
        applier: ChangeApplier,
        cause: Cause,
        now: datetime,
        accounts: dict[str, int],
    ) -> None:
        self.runtime = runtime
        self.applier = applier
        self.cause = cause
        self.now = now
        self.accounts = accounts
        self.states: dict[int, ContactState] = {}
        self.notes: dict[int, str | None] = {}
        self.new: list[int] = []
        self.new_ids: set[int] = set()
        self.profile_changed: set[int] = set()
        self.sms_changed: set[int] = set()

    def load(self, conn: Connection, scope: TenantScope, ids: Sequence[int]) -> None:
        """Load the matched contacts (with their SMS notes)."""
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), ROWS_PER_ROUND):
            chunk = wanted[start : start + ROWS_PER_ROUND]
            self.states.update(load_states(conn, scope, chunk))
            self.notes.update(
                (contact_id, note)
                for contact_id, note in conn.execute(
                    scope.select(_C.id, _C.sms_note).where(one_of(conn, _C.id, chunk))
                )
            )

    # ------------------------------------------------------------ rows
    def create(self, contact_id: int, row: CleanRow, check: PhoneCheck) -> None:
        ok, note = _permission(check, row.ok_to_sms, row.row)
        values = row.attributes
        account = values.get("account")
        profile: dict[str, str | None] = {name: values.get(name) for name in PROFILE_FIELDS}
        profile["phone"] = row.phone
        state = ContactState(
            id=contact_id,
            first_name=values.get("first_name") or "",
            last_name=values.get("last_name") or "",
            profile=profile,
            account=account,
            account_id=self.accounts[account] if account else None,
            archived=False,
            ok_to_sms=ok,
            score=0.0,
            fields=dict(row.fields),
            facets={},
            tags=set(),
            version=0,
        )
        mark = len(self.applier.transitions)
        try:
            self._facets_and_tags(state, row)
        except RowRefused:
            del self.applier.transitions[mark:]
            raise
        for name, facet in self.runtime.facets.items():
            if name not in state.facets:
                state.set_facet(name, facet.default)
        self.states[contact_id] = state
        self.notes[contact_id] = note
        self.new.append(contact_id)
        self.new_ids.add(contact_id)

    def change(self, contact_id: int, row: CleanRow, check: PhoneCheck) -> bool:
        """Apply the row to a known contact; True when anything changed."""
        state = self.states[contact_id]
        saved = _Saved(state, self.notes.get(contact_id), len(self.applier.transitions))
        try:
            self._profile(state, row, check)
            self._facets_and_tags(state, row)
        except RowRefused:
            saved.restore(state)
            self.notes[contact_id] = saved.note
            del self.applier.transitions[saved.transitions :]
            raise
        return state.version != saved.version

    def _field(self, state: ContactState, name: str, old: Any, new: Any) -> None:
        state.version += 1
        self.applier.transitions.append(
            field_transition(
                self.runtime.tenant_id,
                state.id,
                state.version,
                name,
                old,
                new,
                self.cause,
                self.now,
            )
        )
        if state.id not in self.new_ids:
            self.profile_changed.add(state.id)

    def _profile(self, state: ContactState, row: CleanRow, check: PhoneCheck) -> None:
        values = row.attributes
        for name in ("first_name", "last_name"):
            new = values.get(name)
            if new and new != getattr(state, name):
                self._field(state, name, getattr(state, name), new)
                setattr(state, name, new)
        phone_changed = False
        for name in PROFILE_FIELDS:
            new = row.phone if name == "phone" else values.get(name)
            if new and new != state.profile.get(name):
                self._field(state, name, state.profile.get(name), new)
                state.profile[name] = new
                phone_changed = phone_changed or name == "phone"
        account = values.get("account")
        if account and account != state.account:
            self._field(state, "account", state.account, account)
            state.account, state.account_id = account, self.accounts[account]
        for name, value in row.fields.items():
            old = state.fields.get(name)
            if value != old:
                self._field(state, f"fields.{name}", old, value)
                state.fields[name] = value
        # OK to SMS as a hand edit decides it.
        try:
            decided = sms_after_edit(
                check if phone_changed else None,
                state.profile.get("phone"),
                self.notes.get(state.id),
                row.ok_to_sms,
                f"row {row.row}",
            )
        except ValidationError as exc:
            raise RowRefused("ok_to_sms", _wish(row.ok_to_sms), str(exc)) from None
        if decided is None:
            return
        ok, note = decided
        if ok != state.ok_to_sms:
            self._field(state, "ok_to_sms", state.ok_to_sms, ok)
            state.ok_to_sms = ok
        if note != self.notes.get(state.id):
            self.notes[state.id] = note
            if state.id not in self.new_ids:
                self.sms_changed.add(state.id)

    def _facets_and_tags(self, state: ContactState, row: CleanRow) -> None:
        for facet, value in row.facets.items():
            try:
                self.applier.apply(state, SetFacet(facet, value), self.cause)
            except PolicyError as exc:
                raise RowRefused(f"facets.{facet}", value, str(exc)) from None
        for tag in row.tags:
            try:
                self.applier.apply(state, AddTag(tag), self.cause)
            except PolicyError as exc:
                raise RowRefused("tags", tag, str(exc)) from None

    # ------------------------------------------------------------ writing
    def write(
        self,
        conn: Connection,
        scope: TenantScope,
        after: AfterChanges | None,
        contacts_written: Callable[[], None] | None = None,
    ) -> None:
        """Write the batch; ``contacts_written`` runs once the contact rows are in,
        before the rows that point at them
        (see :class:`crmkit.storage.statistics.GrowthStatistics`)."""
        tenant_id = self.runtime.tenant_id
        # Where the new contacts stand among the tenant's events (for a replay).
        mark = counters.current(conn, tenant_id, "event") if self.new else None
        rows = []
        for contact_id in self.new:
            state = self.states[contact_id]
            rows.append(
                (
                    tenant_id,
                    contact_id,
                    state.first_name,
                    state.last_name,
                    *(state.profile[name] for name in PROFILE_FIELDS),
                    state.account_id,
                    state.score,
                    state.fields,
                    False,
                    state.ok_to_sms,
                    self.notes[contact_id],
                    state.version,
                    self.now,
                    mark,
                )
            )
            state.written_version = state.version  # the insert holds it
        BulkWriter(conn).insert(ContactRow, CONTACT_INSERT_COLUMNS, rows)
        if contacts_written is not None:
            contacts_written()
        changed = sorted(self.profile_changed | self.sms_changed)
        if changed:
            statement = (
                scope.update(ContactRow)
                .where(_C.id == bindparam("_id"))
                .values(
                    {name: bindparam(f"_{name}") for name in _UPDATE_COLUMNS}
                    | {"ok_to_sms": bindparam("_ok"), "sms_note": bindparam("_note")}
                )
            )
            conn.execute(statement, [self._update_row(contact_id) for contact_id in changed])
        persist(
            conn,
            scope,
            self.states.values(),
            self.applier.transitions,
            after=after,
            created=self.new,
        )

    def _update_row(self, contact_id: int) -> dict[str, Any]:
        state = self.states[contact_id]
        row: dict[str, Any] = {"_id": contact_id, "_ok": state.ok_to_sms}
        row["_note"] = self.notes.get(contact_id)
        row["_first_name"] = state.first_name
        row["_last_name"] = state.last_name
        for name in PROFILE_FIELDS:
            row[f"_{name}"] = state.profile.get(name)
        row["_account_id"] = state.account_id
        row["_fields"] = state.fields
        return row


def _wish(wanted: bool | None) -> str:
    return "" if wanted is None else str(wanted)


def _permission(check: PhoneCheck, wanted: bool | None, row: int) -> tuple[bool, str | None]:
    try:
        return check.permission(wanted, f"row {row}")
    except ValidationError as exc:
        raise RowRefused("ok_to_sms", _wish(wanted), str(exc)) from None
