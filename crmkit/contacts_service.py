"""Contacts: creating them, reading and searching them, manual changes, explain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pydantic
from sqlalchemy import ColumnElement, Connection, func

from crmkit.accounts import account_id
from crmkit.applying import (
    after_changes,
    allocate_ids,
    applier,
    deliver,
    load_state,
    transition_out,
    validation_error,
)
from crmkit.changes import Notice, missing_contacts
from crmkit.conditions.parser import check_tree
from crmkit.conditions.sql import to_sql
from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.contact_pages import contacts_from_rows, page_query
from crmkit.context import TenantContext
from crmkit.errors import ConfigError, PolicyError, ValidationError
from crmkit.pipeline import Cause, ChangeApplier, ContactState, persist
from crmkit.profile_values import add_custom_fields, check_number, clean_fields, clean_phone
from crmkit.rules.actions import AddTag, Change, SetFacet
from crmkit.runtime import TenantRuntime
from crmkit.schemas import ContactIn, ContactOut, TransitionOut
from crmkit.storage import counters
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import ContactRow, TransitionRow
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.conditions.ast import Node

# What explain() can narrow to besides facets and fields.NAME.
EXPLAINABLE = frozenset(
    {"score", "tags", "first_name", "last_name", *PROFILE_FIELDS, "account"}
    | {"ok_to_sms", "archived"}
)

_C = ContactRow.__table__.c


# ---------------------------------------------------------------- creating
def _checked_contact(ctx: TenantContext, data: ContactIn | Mapping[str, Any]) -> ContactIn:
    try:
        return data if isinstance(data, ContactIn) else ContactIn.model_validate(data)
    except pydantic.ValidationError as exc:
        raise validation_error(exc, "contact") from None


def _check_facets(ctx: TenantContext, runtime: TenantRuntime, contact: ContactIn) -> None:
    for facet in contact.facets:
        if facet not in runtime.facets:
            raise PolicyError(
                f"tenant {ctx.name!r} does not use facet {facet!r} "
                f"(its facets: {', '.join(runtime.facets) or 'none'})"
            )


def _new_state(
    runtime: TenantRuntime,
    contact: ContactIn,
    contact_id: int,
    account: int | None,
    values: tuple[dict[str, Any], dict[str, Any], bool],
    one: ChangeApplier,
    actor: str,
) -> ContactState:
    """The new contact's state, its given facets and tags applied as manual changes
    and every other facet at its default."""
    profile, fields, ok_to_sms = values
    state = ContactState(
        id=contact_id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        profile=profile,
        account=contact.account,
        account_id=account,
        archived=False,
        ok_to_sms=ok_to_sms,
        score=0.0,
        fields=dict(fields),
        facets={},
        tags=set(),
        version=0,
    )
    cause = Cause("manual", actor=actor)
    for facet, value in contact.facets.items():
        one.apply(state, SetFacet(facet, value), cause)
    for tag in contact.tags:
        one.apply(state, AddTag(tag), cause)
    for name, facet_def in runtime.facets.items():
        if name not in state.facets:
            state.set_facet(name, facet_def.default)
    return state


def _contact_row(
    conn: Connection, state: ContactState, sms_note: str | None, now: datetime, tenant_id: int
) -> dict[str, Any]:
    return {
        "id": state.id,
        "first_name": state.first_name,
        "last_name": state.last_name,
        **state.profile,
        "account_id": state.account_id,
        "score": 0.0,
        "fields": dict(state.fields),
        "archived": False,
        "ok_to_sms": state.ok_to_sms,
        "sms_note": sms_note,
        "version": 0,
        "created_at": now,
        # Where it stands among the tenant's events (for a replay).
        "created_after_seq": counters.current(conn, tenant_id, "event"),
    }


def add_contact(ctx: TenantContext, data: ContactIn | Mapping[str, Any], actor: str) -> ContactOut:
    """Create a contact; see :meth:`crmkit.tenant.Tenant.add_contact`."""
    outbox: list[Notice] = []
    contact = _checked_contact(ctx, data)
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    phone = clean_phone(runtime, contact.phone, "contact")
    fields = clean_fields(runtime, contact.fields, "contact")
    _check_facets(ctx, runtime, contact)
    # Before the transaction: a real lookup provider may go over the network.
    ok_to_sms, sms_note = check_number(ctx.hooks, ctx.name, phone).permission(
        contact.ok_to_sms, "the new contact"
    )
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        now = ctx.clock()
        account = account_id(ctx, conn, runtime, contact.account) if contact.account else None
        contact_id = allocate_ids(conn, runtime, 1, "contact")
        profile = {name: getattr(contact, name) or None for name in PROFILE_FIELDS}
        profile["phone"] = phone
        stored_fields = {k: v for k, v in fields.values.items() if v is not None}
        add_custom_fields(conn, runtime, fields.new, now)
        one = applier(ctx, runtime)
        state = _new_state(
            runtime, contact, contact_id, account, (profile, stored_fields, ok_to_sms), one, actor
        )
        row = _contact_row(conn, state, sms_note, now, runtime.tenant_id)
        row["fields"] = stored_fields
        conn.execute(scope.insert(ContactRow), scope.rows([row]))
        persist(
            conn,
            scope,
            [state],
            one.transitions,
            after=after_changes(ctx, runtime, outbox),
            created=[contact_id],
        )
    created = get_contact(ctx, contact_id)
    ctx.hooks.on_contact_created(tenant=ctx.name, contact=created.model_dump(mode="json"))
    deliver(ctx, outbox)
    return created


# ---------------------------------------------------------------- reading
def get_contact(ctx: TenantContext, contact_id: int) -> ContactOut:
    return contacts_by_id(ctx, [contact_id])[0]


def contacts_by_id(ctx: TenantContext, ids: Sequence[int]) -> list[ContactOut]:
    """The contacts with these ids, in this order (unknown ids are an error)."""
    with ctx.db.connect() as conn:
        base = page_query(conn.dialect.name, ctx.runtime(conn).tenant_id)
        found: dict[int, ContactOut] = {}
        wanted = list(dict.fromkeys(ids))
        for start in range(0, len(wanted), ROWS_PER_ROUND):
            part = wanted[start : start + ROWS_PER_ROUND]
            rows = conn.execute(base.where(one_of(conn, _C.id, part))).all()
            found.update((contact.id, contact) for contact in contacts_from_rows(rows))
        missing_contacts(found, ids, ctx.name)
        return [found[i] for i in ids]


def contact_filter(
    ctx: TenantContext, conn: Connection, where: str | Node, runtime: TenantRuntime | None
) -> ColumnElement[bool]:
    """The SQL condition for a search expression (text, or a tree built in code)."""
    runtime = runtime or ctx.runtime(conn)
    if isinstance(where, str):
        node = runtime.parse_search(where)
    else:
        node = check_tree(where, runtime.search_schema())
    return to_sql(node, TenantScope(runtime.tenant_id), frozenset(runtime.facets), ctx.clock())


def list_contacts(
    ctx: TenantContext,
    where: str | Node | None,
    *,
    limit: int | None,
    offset: int,
    order: str,
    archived: bool | None,
) -> list[ContactOut]:
    """Contacts, optionally filtered; see :meth:`crmkit.tenant.Tenant.list_contacts`."""
    if order not in ("id", "first_name"):
        raise ValidationError(f"unknown order {order!r} (use id or first_name)")
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
        stmt = page_query(conn.dialect.name, runtime.tenant_id)
        if order == "first_name":
            stmt = stmt.order_by(func.lower(_C.first_name), func.lower(_C.last_name), _C.id)
        else:
            stmt = stmt.order_by(_C.id)
        if archived is not None:
            stmt = stmt.where(_C.archived == archived)
        if where:
            stmt = stmt.where(contact_filter(ctx, conn, where, runtime))
        if offset:
            stmt = stmt.offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return contacts_from_rows(conn.execute(stmt).all())


# ---------------------------------------------------------------- manual changes
def apply_manual(
    ctx: TenantContext, contact_id: int, changes: Sequence[Change], actor: str
) -> list[dict[str, Any]]:
    """Apply changes to one contact by hand, in one transaction; return the
    transitions written (a refusal raises :class:`PolicyError`, writing nothing)."""
    outbox: list[Notice] = []
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        state = load_state(ctx, conn, scope, contact_id)
        one = applier(ctx, runtime)
        cause = Cause("manual", actor=actor)
        for change in changes:
            one.apply(state, change, cause)
        persist(conn, scope, [state], one.transitions, after=after_changes(ctx, runtime, outbox))
    deliver(ctx, outbox)
    return one.transitions


def set_facet(
    ctx: TenantContext, contact_id: int, facet: str, value: str, actor: str
) -> TransitionOut | None:
    """A manual change of one facet; its transition (None if unchanged)."""
    made = apply_manual(ctx, contact_id, [SetFacet(facet, value)], actor)
    return transition_out(made[0]) if made else None


def explain(ctx: TenantContext, contact_id: int, facet: str | None) -> list[TransitionOut]:
    """Why the contact has its values: its transitions, oldest first."""
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        load_state(ctx, conn, scope, contact_id)
        t = TransitionRow.__table__.c
        stmt = scope.select(TransitionRow.__table__).where(t.contact_id == contact_id)
        if facet is not None:
            if not (
                facet in runtime.facets
                or facet in EXPLAINABLE
                or facet.removeprefix("fields.") in runtime.fields
            ):
                raise ConfigError(
                    f"tenant {ctx.name!r} has no facet {facet!r} "
                    f"(its facets: {', '.join(runtime.facets) or 'none'}; also score, "
                    "tags, a contact attribute or fields.NAME)"
                )
            stmt = stmt.where(t.name == facet)
        rows = conn.execute(stmt.order_by(t.version)).mappings().all()
        return [transition_out(dict(row)) for row in rows]
