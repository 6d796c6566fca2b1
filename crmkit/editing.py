"""Changing a contact by hand: its profile, tags, phone check, copies, archive and erase.

Every change of a stored value writes a transition (target ``field``, ``tag``...) with
its actor, so ``explain`` shows who changed what; plugins see them in
``crmkit_on_changes``. A bad value is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import pydantic
from sqlalchemy import Connection, delete, func, inspect

from crmkit.accounts import account_id
from crmkit.applying import after_changes, deliver, transition_out, validation_error
from crmkit.changes import Notice
from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.contacts_service import add_contact, apply_manual, get_contact
from crmkit.context import TenantContext
from crmkit.erasure import secure_delete, truncate_wal
from crmkit.errors import NotFoundError, PolicyError, ValidationError
from crmkit.pipeline import TRANSITION_ROW_COLUMNS, Cause, transition_rows
from crmkit.profile_values import (
    PhoneCheck,
    add_custom_fields,
    check_number,
    clean_fields,
    clean_phone,
    sms_after_edit,
)
from crmkit.rules.actions import AddTag, Change, RemoveTag
from crmkit.schemas import ContactIn, ContactOut, ContactPatch, TransitionOut, clean_tag
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.models import (
    AccountRow,
    Base,
    ContactRow,
    ContactTagRow,
    ProjectRow,
    TransitionRow,
)
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.runtime import TenantRuntime

_C = ContactRow.__table__.c
# Transition texts are bounded like the column that holds them.
TRANSITION_TEXT_LIMIT = 300


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= TRANSITION_TEXT_LIMIT else text[: TRANSITION_TEXT_LIMIT - 1] + "…"


def field_transition(
    tenant_id: int,
    contact_id: int,
    version: int,
    name: str,
    old: Any,
    new: Any,
    cause: Cause,
    now: datetime,
) -> dict[str, Any]:
    """The transition row of a changed profile value (target ``field``)."""
    return {
        "tenant_id": tenant_id,
        "contact_id": contact_id,
        "version": version,
        "target": "field",
        "name": name,
        "old": _text(old),
        "new": _text(new),
        "cause_type": cause.type,
        "pack": None,
        "pack_version": None,
        "rule": None,
        "actor": cause.actor,
        "event_id": None,
        "at": now,
    }


class ContactRecord:
    """One contact's stored row, for edits (facets and tags are not needed here)."""

    def __init__(self, conn: Connection, scope: TenantScope, contact_id: int, tenant: str) -> None:
        row = (
            conn.execute(
                scope.select(
                    _C.id,
                    _C.first_name,
                    _C.last_name,
                    *(_C[name] for name in PROFILE_FIELDS),
                    _C.account_id,
                    _C.fields,
                    _C.ok_to_sms,
                    _C.sms_note,
                    _C.archived,
                    _C.version,
                ).where(_C.id == contact_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"contact {contact_id} does not exist in tenant {tenant!r}")
        self.id = contact_id
        self.values: dict[str, Any] = dict(row)
        self.values["fields"] = dict(row["fields"] or {})
        self.version: int = row["version"]


class Edit:
    """Collects changed values of one contact and their transitions, then writes them."""

    def __init__(self, runtime: TenantRuntime, record: ContactRecord, actor: str, now: datetime):
        self.runtime = runtime
        self.record = record
        self.cause = Cause("manual", actor=actor)
        self.now = now
        self.columns: dict[str, Any] = {}
        self.transitions: list[dict[str, Any]] = []

    def change(self, name: str, old: Any, new: Any, column: str | None = None) -> None:
        """Record one change (nothing when the value stays)."""
        if old == new:
            return
        if column is not None:
            self.columns[column] = new
        self.record.version += 1
        self.transitions.append(
            field_transition(
                self.runtime.tenant_id,
                self.record.id,
                self.record.version,
                name,
                old,
                new,
                self.cause,
                self.now,
            )
        )

    def write(self, ctx: TenantContext, conn: Connection, outbox: list[Notice]) -> None:
        if not self.transitions and not self.columns:
            return
        scope = TenantScope(self.runtime.tenant_id)
        conn.execute(
            scope.update(ContactRow)
            .where(_C.id == self.record.id)
            .values(**self.columns, version=self.record.version)
        )
        if not self.transitions:
            return  # a note beside a value that stayed: nothing to explain
        BulkWriter(conn).insert(
            TransitionRow,
            TRANSITION_ROW_COLUMNS,
            transition_rows(conn, self.runtime.tenant_id, self.transitions),
        )
        counters.allocate(conn, self.runtime.tenant_id, "state")
        after = after_changes(ctx, self.runtime, outbox, now=self.now)
        if after is not None:
            after(conn, list(self.transitions), [])


def _patch(values: ContactPatch | Mapping[str, Any]) -> ContactPatch:
    if isinstance(values, ContactPatch):
        return values
    try:
        return ContactPatch.model_validate(values)
    except pydantic.ValidationError as exc:
        raise validation_error(exc, "contact change") from None


def update_contact(
    ctx: TenantContext, contact_id: int, values: ContactPatch | Mapping[str, Any], actor: str
) -> list[TransitionOut]:
    """Apply a :class:`ContactPatch`; return the transitions it wrote."""
    patch = _patch(values)
    given = patch.model_fields_set
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    what = f"contact {contact_id}"
    phone = clean_phone(runtime, patch.phone, what) if "phone" in given else None
    fields = clean_fields(runtime, patch.fields, what)
    # Looked up before the transaction: a provider may be slow.
    check = check_number(ctx.hooks, ctx.name, phone) if "phone" in given else None
    outbox: list[Notice] = []
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        record = ContactRecord(conn, scope, contact_id, ctx.name)
        edit = Edit(runtime, record, actor, ctx.clock())
        old = record.values
        for name in ("first_name", "last_name", *PROFILE_FIELDS):
            if name in given and name != "phone":
                new = getattr(patch, name)
                if name == "last_name":
                    new = new or ""  # stored as text, never null
                elif name != "first_name":
                    new = new or None
                edit.change(name, old[name], new, name)
        if "account" in given:
            old_name = _account_name(conn, scope, old["account_id"])
            new_id = account_id(ctx, conn, runtime, patch.account) if patch.account else None
            new_name = patch.account or None
            if old_name != new_name:
                edit.change("account", old_name, new_name, "account_id")
                edit.columns["account_id"] = new_id
        _sms_permission(edit, check, patch.ok_to_sms if "ok_to_sms" in given else None, what)
        if fields.values:
            add_custom_fields(conn, runtime, fields.new, edit.now)
            merged = dict(old["fields"])
            for name, value in fields.values.items():
                # A cleared field stays on the profile, empty (as after "apply to all").
                edit.change(f"fields.{name}", merged.get(name), value)
                merged[name] = value
            if merged != old["fields"]:
                edit.columns["fields"] = merged
        edit.write(ctx, conn, outbox)
    deliver(ctx, outbox)
    return [transition_out(t) for t in edit.transitions]


def _account_name(conn: Connection, scope: TenantScope, account_id: int | None) -> str | None:
    if account_id is None:
        return None
    a = AccountRow.__table__.c
    return conn.execute(scope.select(a.name).where(a.id == account_id)).scalar()


def _sms_permission(
    edit: Edit, check: PhoneCheck | None, wanted: bool | None, what: str
) -> tuple[bool, str | None]:
    """Set phone, OK to SMS and its note from a number's check or the user's wish;
    return the resulting (ok_to_sms, sms_note)."""
    old = edit.record.values
    decided = sms_after_edit(check, old["phone"], old["sms_note"], wanted, what)
    if decided is None:
        return old["ok_to_sms"], old["sms_note"]
    ok, note = decided
    if check is not None:
        edit.change("phone", old["phone"], check.number, "phone")
    edit.change("ok_to_sms", old["ok_to_sms"], ok, "ok_to_sms")
    if note != old["sms_note"]:
        edit.columns["sms_note"] = note
    return ok, note


def check_phone(ctx: TenantContext, contact_id: int, actor: str) -> dict[str, Any]:
    """Look the cell phone up again and set OK to SMS from the answer."""
    contact = get_contact(ctx, contact_id)
    check = check_number(ctx.hooks, ctx.name, contact.phone)
    outbox: list[Notice] = []
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        record = ContactRecord(conn, TenantScope(runtime.tenant_id), contact_id, ctx.name)
        edit = Edit(runtime, record, actor, ctx.clock())
        if record.values["phone"] != contact.phone:
            raise PolicyError(f"contact {contact_id}: the phone changed during the check; retry")
        ok, note = _sms_permission(edit, check, None, f"contact {contact_id}")
        edit.write(ctx, conn, outbox)
    deliver(ctx, outbox)
    return {
        "contact_id": contact_id,
        "phone": check.number,
        "line_type": check.line_type,
        "ok_to_sms": ok,
        "sms_note": note,
    }


def edit_tags(
    ctx: TenantContext, contact_id: int, add: Iterable[str], remove: Iterable[str], actor: str
) -> list[TransitionOut]:
    """Add and remove tags by hand (a tag is new or one the tenant already uses)."""
    try:
        adding = list(dict.fromkeys(clean_tag(tag) for tag in add))
        removing = list(dict.fromkeys(clean_tag(tag) for tag in remove))
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    both = sorted(set(adding) & set(removing))
    if both:
        raise ValidationError(f"tags both added and removed: {', '.join(both)}")
    changes: list[Change] = [AddTag(tag) for tag in adding]
    changes += [RemoveTag(tag) for tag in removing]
    return [transition_out(t) for t in apply_manual(ctx, contact_id, changes, actor)]


def tag_list(ctx: TenantContext) -> list[dict[str, Any]]:
    """The tenant's tags with how many contacts carry each, by name."""
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        t = ContactTagRow.__table__.c
        rows = conn.execute(scope.select(t.tag, func.count()).group_by(t.tag).order_by(t.tag)).all()
    return [{"tag": tag, "contacts": count} for tag, count in rows]


# ---------------------------------------------------------------- copies, archive, erase
def duplicate_contact(ctx: TenantContext, contact_id: int, actor: str) -> ContactOut:
    """A new contact with this one's fields, tags and facets (not its notes, events,
    messages or history). A facet value nobody may set by hand (one only rules set)
    is left at the facet's default on the copy."""
    source = get_contact(ctx, contact_id)
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    facets = {}
    for name, value in source.facets.items():
        facet = runtime.facets.get(name)
        if facet is None or value == facet.default:
            continue
        try:
            facet.check_change(facet.default, value, "manual")
        except PolicyError:
            continue
        facets[name] = value
    copy = ContactIn(
        first_name=source.first_name,
        last_name=source.last_name,
        **{name: getattr(source, name) for name in PROFILE_FIELDS},
        account=source.account,
        facets=facets,
        tags=list(source.tags),
        fields=dict(source.fields),
        ok_to_sms=source.ok_to_sms if source.phone and source.sms_note is None else None,
    )
    return add_contact(ctx, copy, actor)


def set_archived(ctx: TenantContext, contact_id: int, archived: bool, actor: str) -> bool:
    """Archive or restore; return whether anything changed.

    Archiving runs ``crmkit_on_contact_archived`` in its transaction (the funnel pack
    revokes the portal login there); restoring gives nothing back."""
    outbox: list[Notice] = []
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        record = ContactRecord(conn, scope, contact_id, ctx.name)
        edit = Edit(runtime, record, actor, ctx.clock())
        edit.change("archived", record.values["archived"], archived, "archived")
        if archived and edit.transitions:
            ctx.hooks.on_contact_archived(
                tenant=ctx.name, contact_id=contact_id, connection=conn, scope=scope
            )
        edit.write(ctx, conn, outbox)
    deliver(ctx, outbox)
    return bool(edit.transitions)


def delete_contact(ctx: TenantContext, contact_id: int, actor: str) -> str:
    """Archive the contact, or erase it if it is archived already; say which."""
    if set_archived(ctx, contact_id, True, actor):
        return "archived"
    erase_contact(ctx, contact_id)
    return "erased"


def erase_contact(ctx: TenantContext, contact_id: int) -> dict[str, int]:
    """Delete an archived contact for good, with every row that belongs to it.

    Returns the number of rows removed per table, with what plugins report of their
    own (``crmkit_erase_contact``; the contacts pack's ``segments``: saved searches
    cleaned of its email and phone). Refused while the contact is the primary contact of a
    project (delete or hand over the project first). What else is wiped, and where
    (the SQLite files): see :mod:`crmkit.erasure`.
    """
    with ctx.db.connect() as conn:
        with secure_delete(conn), conn.begin():
            removed = _erase_rows(ctx, conn, contact_id)
        truncate_wal(conn)
    return removed


def _erase_rows(ctx: TenantContext, conn: Connection, contact_id: int) -> dict[str, int]:
    runtime = ctx.write_runtime(conn)
    scope = TenantScope(runtime.tenant_id)
    record = ContactRecord(conn, scope, contact_id, ctx.name)
    _check_erasable(conn, scope, record)
    removed: dict[str, int] = {}
    values = record.values
    removed.update(
        ctx.hooks.erase_contact(
            tenant=ctx.name, contact_id=contact_id, contact=values, connection=conn, scope=scope
        )
    )
    removed.update(_delete_belongings(conn, runtime.tenant_id, contact_id))
    conn.execute(scope.delete(ContactRow).where(_C.id == contact_id))
    removed["contacts"] = 1
    counters.allocate(conn, runtime.tenant_id, "state")
    return removed


def _check_erasable(conn: Connection, scope: TenantScope, record: ContactRecord) -> None:
    if not record.values["archived"]:
        raise PolicyError(f"contact {record.id} is not archived; deleting it archives it first")
    p = ProjectRow.__table__.c
    projects = conn.scalars(
        scope.select(p.id).where(p.primary_contact_id == record.id).order_by(p.id)
    ).all()
    if projects:
        raise PolicyError(
            f"contact {record.id} is the primary contact of project(s) "
            f"{', '.join(map(str, projects))}; it cannot be erased"
        )


def _delete_belongings(conn: Connection, tenant_id: int, contact_id: int) -> dict[str, int]:
    """Delete the rows of every table that refers to contacts, found from the schema so
    a table added later is erased too; children before parents."""
    removed: dict[str, int] = {}
    contacts = ContactRow.__table__
    # A pack's own tables are in the metadata once any CRM of the process loaded the
    # pack; a CRM without it has no such tables.
    present = set(inspect(conn).get_table_names())
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in present:
            continue
        for fk in table.foreign_key_constraints:
            if fk.referred_table is not contacts:
                continue
            column = next(c for c in fk.columns if c.name != "tenant_id")
            result = conn.execute(
                delete(table).where(table.c.tenant_id == tenant_id, column == contact_id)
            )
            if result.rowcount:
                removed[table.name] = removed.get(table.name, 0) + result.rowcount
    return removed
