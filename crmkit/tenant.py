"""One tenant's API: contacts, facets, accounts, projects, notes, events, explain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pydantic
from sqlalchemy import ColumnElement, Connection, func, update

from crmkit.changes import ChangeContext, Notice, missing_contacts
from crmkit.clock import as_utc
from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.contact_pages import contacts_from_rows, page_query
from crmkit.errors import ConfigError, NotFoundError, PolicyError, ValidationError
from crmkit.facets import COLOURS
from crmkit.pipeline import (
    AfterChanges,
    Cause,
    ChangeApplier,
    ContactState,
    Permit,
    load_states,
    persist,
)
from crmkit.rules.actions import AddTag, Change, SetFacet
from crmkit.runtime import TenantRuntime
from crmkit.schemas import (
    ActionOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    EventIn,
    EventOut,
    FieldOut,
    IngestSummary,
    MessageOut,
    TransitionOut,
)
from crmkit.storage import counters
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import (
    AccountRow,
    ContactRow,
    NoteRow,
    ProjectContactRow,
    ProjectRow,
    TenantRow,
    TransitionRow,
)
from crmkit.storage.scope import TenantScope
from crmkit.storage.writers import lock_tenant

if TYPE_CHECKING:
    from crmkit.conditions.ast import Node
    from crmkit.core import CRM
    from crmkit.profiles import ContactProfile
    from crmkit.ticking import TickSummary
    from crmkit.transfer.report import ImportSummary


def validation_error(exc: pydantic.ValidationError, what: str) -> ValidationError:
    """Turn pydantic's report into one line naming each bad field."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or what
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{field}: {message}")
    return ValidationError(f"invalid {what}: " + "; ".join(parts))


# What explain() can narrow to besides facets and fields.NAME.
EXPLAINABLE = frozenset(
    {"score", "tags", "first_name", "last_name", *PROFILE_FIELDS, "account"}
    | {"ok_to_sms", "archived"}
)


def transition_out(row: Mapping[str, Any]) -> TransitionOut:
    cause = Cause(row["cause_type"], row["pack"], row["pack_version"], row["rule"], row["actor"])
    return TransitionOut(
        contact_id=row["contact_id"],
        version=row["version"],
        target=row["target"],
        name=row["name"],
        old=row["old"],
        new=row["new"],
        cause_type=row["cause_type"],
        cause=cause.describe(),
        pack=row["pack"],
        pack_version=row["pack_version"],
        rule=row["rule"],
        actor=row["actor"],
        event_id=row["event_id"],
        at=row["at"],
    )


class Tenant:
    """A handle on one tenant. Cheap to create; every call reads the current config."""

    def __init__(self, crm: CRM, name: str) -> None:
        self.crm = crm
        self.name = name

    def __repr__(self) -> str:
        return f"Tenant({self.name!r})"

    # ------------------------------------------------------------ helpers
    def runtime(self, conn: Connection) -> TenantRuntime:
        return self.crm.runtime(conn, self.name)

    def write_runtime(self, conn: Connection) -> TenantRuntime:
        """The runtime, for a transaction that writes: takes the tenant's write lock
        first (see :mod:`crmkit.storage.writers`), so nothing read after it is stale."""
        runtime = self.crm.runtime(conn, self.name)
        lock_tenant(conn, runtime.tenant_id)
        return runtime

    def _guard(self, runtime: TenantRuntime) -> Callable[[int, Change, str], str | None]:
        hook = self.crm.pm.hook.crmkit_guard_change
        if not hook.get_hookimpls():
            return lambda contact_id, change, cause_type: None

        def guard(contact_id: int, change: Change, cause_type: str) -> str | None:
            reason: str | None = hook(
                tenant=runtime.name, contact_id=contact_id, change=change, cause_type=cause_type
            )
            return reason

        return guard

    def applier(self, runtime: TenantRuntime, now: datetime | None = None) -> ChangeApplier:
        return ChangeApplier(runtime, self._guard(runtime), now or self.crm.clock())

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
        scope = TenantScope(runtime.tenant_id)
        moment = now or self.crm.clock()

        def apply(
            changes: Mapping[int, Sequence[Change]], cause_type: Any, like: dict[str, Any]
        ) -> list[dict[str, Any]]:
            ids = list(changes)
            cause = Cause.like(cause_type, like)
            made: list[dict[str, Any]] = []
            # In rounds: a tick may move a large share of a big tenant.
            for start in range(0, len(ids), ROWS_PER_ROUND):
                part = ids[start : start + ROWS_PER_ROUND]
                states = load_states(conn, scope, part)
                missing_contacts(states, part, self.name)
                applier = self.applier(runtime, moment)
                for contact_id in part:
                    for change in changes[contact_id]:
                        applier.apply(states[contact_id], change, cause)
                persist(
                    conn,
                    scope,
                    states.values(),
                    applier.transitions,
                    after=self.after_changes(runtime, outbox, now=moment),
                )
                made.extend(applier.transitions)
            return made

        return ChangeContext(
            tenant=self.name,
            runtime=runtime,
            connection=conn,
            scope=scope,
            now=moment,
            settings=dict(runtime.settings),
            created=list(created),
            _apply=apply,
            outbox=outbox,
        )

    def after_changes(
        self, runtime: TenantRuntime, outbox: list[Notice], *, now: datetime | None = None
    ) -> AfterChanges | None:
        """The ``crmkit_on_changes`` call for one write, or None when no plugin listens."""
        hook = self.crm.pm.hook.crmkit_on_changes
        if not hook.get_hookimpls():
            return None

        def after(conn: Connection, transitions: list[dict[str, Any]], created: list[int]) -> None:
            context = self.change_context(conn, runtime, outbox, created=created, now=now)
            hook(tenant=self.name, transitions=transitions, context=context)

        return after

    def deliver(self, outbox: list[Notice]) -> None:
        """Hand queued notices to ``crmkit_on_notice`` (after the commit); a quiet CRM
        (a replay's scratch copy) drops them."""
        if self.crm.quiet:
            outbox.clear()
            return
        for notice in outbox:
            self.crm.pm.hook.crmkit_on_notice(
                tenant=self.name,
                contact_id=notice.contact_id,
                kind=notice.kind,
                data=notice.data,
            )
        outbox.clear()

    def permit_check(self) -> Permit | None:
        """The registered permit checks as one function, or None when there are none."""
        permits = self.crm.permits
        if not permits:
            return None
        everything = permits.get("*", [])

        def check(state: ContactState, activity: str) -> str | None:
            checks = permits.get(activity, [])
            if not checks and not everything:
                return None
            view = state.view()
            for one in (*checks, *everything):
                reason = one(self.name, view)
                if reason:
                    return f"contact {state.id}: {activity} refused: {reason}"
            return None

        return check

    def permit(self, state: ContactState, activity: str) -> None:
        """Raise :class:`PolicyError` if a plugin refuses ``activity`` for the contact."""
        check = self.permit_check()
        reason = check(state, activity) if check else None
        if reason:
            raise PolicyError(reason)

    @staticmethod
    def allocate_ids(conn: Connection, runtime: TenantRuntime, count: int, counter: str) -> int:
        """Reserve ``count`` ids from one of the tenant's counters; return the first."""
        return counters.allocate(conn, runtime.tenant_id, counter, count)

    def _state(self, conn: Connection, scope: TenantScope, contact_id: int) -> ContactState:
        state = load_states(conn, scope, [contact_id]).get(contact_id)
        if state is None:
            raise NotFoundError(f"contact {contact_id} does not exist in tenant {self.name!r}")
        return state

    def _account_id(self, conn: Connection, runtime: TenantRuntime, name: str) -> int:
        scope = TenantScope(runtime.tenant_id)
        a = AccountRow.__table__.c
        found = conn.execute(scope.select(a.id).where(a.name == name)).scalar()
        if found is not None:
            return int(found)
        account_id = self.allocate_ids(conn, runtime, 1, "account")
        conn.execute(
            scope.insert(AccountRow),
            scope.rows(
                [{"id": account_id, "name": name, "fields": {}, "created_at": self.crm.clock()}]
            ),
        )
        return account_id

    # ------------------------------------------------------------ contacts
    def add_contact(self, data: ContactIn | Mapping[str, Any], *, actor: str = "api") -> ContactOut:
        """Create a contact. Given facet values are manual changes and pass the policies.

        The cell phone is stored in E.164 and checked (``crmkit_phone_line_type``) to
        decide OK to SMS; fields are checked by their types, and a field name the tenant
        does not know yet becomes a custom field.
        """
        from crmkit.profile_values import add_custom_fields, check_number, clean_fields, clean_phone

        outbox: list[Notice] = []
        try:
            contact = data if isinstance(data, ContactIn) else ContactIn.model_validate(data)
        except pydantic.ValidationError as exc:
            raise validation_error(exc, "contact") from None
        with self.crm.db.connect() as conn:
            runtime = self.runtime(conn)
        phone = clean_phone(runtime, contact.phone, "contact")
        fields = clean_fields(runtime, contact.fields, "contact")
        for facet in contact.facets:
            if facet not in runtime.facets:
                raise PolicyError(
                    f"tenant {self.name!r} does not use facet {facet!r} "
                    f"(its facets: {', '.join(runtime.facets) or 'none'})"
                )
        # Before the transaction: a real lookup provider may go over the network.
        ok_to_sms, sms_note = check_number(self.crm, self.name, phone).permission(
            contact.ok_to_sms, "the new contact"
        )
        with self.crm.db.begin() as conn:
            runtime = self.write_runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            now = self.crm.clock()
            account_id = (
                self._account_id(conn, runtime, contact.account) if contact.account else None
            )
            contact_id = self.allocate_ids(conn, runtime, 1, "contact")
            profile = {name: getattr(contact, name) or None for name in PROFILE_FIELDS}
            profile["phone"] = phone
            stored_fields = {k: v for k, v in fields.values.items() if v is not None}
            add_custom_fields(conn, runtime, fields.new, now)
            state = ContactState(
                id=contact_id,
                first_name=contact.first_name,
                last_name=contact.last_name,
                profile=profile,
                account=contact.account,
                account_id=account_id,
                archived=False,
                ok_to_sms=ok_to_sms,
                score=0.0,
                fields=dict(stored_fields),
                facets={},
                tags=set(),
                version=0,
            )
            applier = self.applier(runtime)
            cause = Cause("manual", actor=actor)
            for facet, value in contact.facets.items():
                applier.apply(state, SetFacet(facet, value), cause)
            for tag in contact.tags:
                applier.apply(state, AddTag(tag), cause)
            for name, facet_def in runtime.facets.items():
                if name not in state.facets:
                    state.set_facet(name, facet_def.default)
            conn.execute(
                scope.insert(ContactRow),
                scope.rows(
                    [
                        {
                            "id": contact_id,
                            "first_name": contact.first_name,
                            "last_name": contact.last_name,
                            **profile,
                            "account_id": account_id,
                            "score": 0.0,
                            "fields": stored_fields,
                            "archived": False,
                            "ok_to_sms": ok_to_sms,
                            "sms_note": sms_note,
                            "version": 0,
                            "created_at": now,
                            # Where it stands among the tenant's events (for a replay).
                            "created_after_seq": counters.current(conn, runtime.tenant_id, "event"),
                        }
                    ]
                ),
            )
            persist(
                conn,
                scope,
                [state],
                applier.transitions,
                after=self.after_changes(runtime, outbox),
                created=[contact_id],
            )
        created = self.get_contact(contact_id)
        self.crm.pm.hook.crmkit_on_contact_created(
            tenant=self.name, contact=created.model_dump(mode="json")
        )
        self.deliver(outbox)
        return created

    def get_contact(self, contact_id: int) -> ContactOut:
        return self.contacts_by_id([contact_id])[0]

    def contact_filter(
        self, conn: Connection, where: str | Node, runtime: TenantRuntime | None = None
    ) -> ColumnElement[bool]:
        """The SQL condition for a search expression (text, or a tree built in code, such
        as :func:`crmkit.filters.build_filter` makes) on this tenant's contacts."""
        from crmkit.conditions.parser import check_tree
        from crmkit.conditions.sql import to_sql

        runtime = runtime or self.runtime(conn)
        if isinstance(where, str):
            node = runtime.parse_search(where)
        else:
            node = check_tree(where, runtime.search_schema())
        return to_sql(
            node, TenantScope(runtime.tenant_id), frozenset(runtime.facets), self.crm.clock()
        )

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
        if order not in ("id", "first_name"):
            raise ValidationError(f"unknown order {order!r} (use id or first_name)")
        with self.crm.db.connect() as conn:
            runtime = self.runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            c = ContactRow.__table__.c
            stmt = page_query(conn.dialect.name, scope.tenant_id)
            if order == "first_name":
                stmt = stmt.order_by(func.lower(c.first_name), func.lower(c.last_name), c.id)
            else:
                stmt = stmt.order_by(c.id)
            if archived is not None:
                stmt = stmt.where(c.archived == archived)
            if where:
                stmt = stmt.where(self.contact_filter(conn, where, runtime))
            if offset:
                stmt = stmt.offset(offset)
            if limit is not None:
                stmt = stmt.limit(limit)
            return contacts_from_rows(conn.execute(stmt).all())

    def contacts_by_id(self, ids: Sequence[int]) -> list[ContactOut]:
        """The contacts with these ids, in this order (unknown ids are an error)."""
        with self.crm.db.connect() as conn:
            base = page_query(conn.dialect.name, self.runtime(conn).tenant_id)
            c = ContactRow.__table__.c
            found: dict[int, ContactOut] = {}
            wanted = list(dict.fromkeys(ids))
            for start in range(0, len(wanted), ROWS_PER_ROUND):
                part = wanted[start : start + ROWS_PER_ROUND]
                rows = conn.execute(base.where(one_of(conn, c.id, part))).all()
                found.update((contact.id, contact) for contact in contacts_from_rows(rows))
            missing_contacts(found, ids, self.name)
            return [found[i] for i in ids]

    def apply_manual(
        self, contact_id: int, changes: Sequence[Change], *, actor: str = "api"
    ) -> list[dict[str, Any]]:
        """Apply changes to one contact by hand, in one transaction; return the
        transitions written. Each passes the facet policies and guard hooks; a refusal
        raises :class:`PolicyError` and writes nothing."""
        outbox: list[Notice] = []
        with self.crm.db.begin() as conn:
            runtime = self.write_runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            state = self._state(conn, scope, contact_id)
            applier = self.applier(runtime)
            cause = Cause("manual", actor=actor)
            for change in changes:
                applier.apply(state, change, cause)
            persist(
                conn,
                scope,
                [state],
                applier.transitions,
                after=self.after_changes(runtime, outbox),
            )
        self.deliver(outbox)
        return applier.transitions

    def set_facet(
        self, contact_id: int, facet: str, value: str, *, actor: str = "api"
    ) -> TransitionOut | None:
        """A manual change of one facet; returns its transition (None if unchanged).

        A refusal raises :class:`PolicyError` and writes nothing.
        """
        made = self.apply_manual(contact_id, [SetFacet(facet, value)], actor=actor)
        return transition_out(made[0]) if made else None

    # ------------------------------------------------------------ profile edits
    def update_contact(
        self, contact_id: int, values: ContactPatch | Mapping[str, Any], *, actor: str = "api"
    ) -> list[TransitionOut]:
        """Change profile values by hand (see :class:`ContactPatch`); returns the
        transitions written. A new cell phone is checked again for OK to SMS."""
        from crmkit.editing import update_contact

        return update_contact(self, contact_id, values, actor)

    def check_phone(self, contact_id: int, *, actor: str = "phone check") -> dict[str, Any]:
        """Look the contact's cell phone up again and set OK to SMS from the answer."""
        from crmkit.editing import check_phone

        return check_phone(self, contact_id, actor)

    def tag_contact(
        self,
        contact_id: int,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        actor: str = "api",
    ) -> list[TransitionOut]:
        """Add and remove tags by hand."""
        from crmkit.editing import edit_tags

        return edit_tags(self, contact_id, add, remove, actor)

    def tags(self) -> list[dict[str, Any]]:
        """The tenant's tags with how many contacts carry each."""
        from crmkit.editing import tag_list

        return tag_list(self)

    def duplicate_contact(self, contact_id: int, *, actor: str = "api") -> ContactOut:
        """A copy with the same fields, tags and facets; not notes, events or history."""
        from crmkit.editing import duplicate_contact

        return duplicate_contact(self, contact_id, actor)

    def delete_contact(self, contact_id: int, *, actor: str = "api") -> str:
        """Archive the contact; if it is archived already, erase it for good.

        Returns ``"archived"`` or ``"erased"``. Erasing removes the contact with its
        events, transitions, notes, messages, actions and memberships.
        """
        from crmkit.editing import erase_contact, set_archived

        if set_archived(self, contact_id, True, actor):
            return "archived"
        erase_contact(self, contact_id)
        return "erased"

    def restore_contact(self, contact_id: int, *, actor: str = "api") -> bool:
        """Bring an archived contact back into lists and searches."""
        from crmkit.editing import set_archived

        return set_archived(self, contact_id, False, actor)

    # ------------------------------------------------------------ fields and profile
    def fields(self) -> list[FieldOut]:
        """The tenant's profile fields: its packs' and its custom fields."""
        from crmkit.custom_fields import field_list

        return field_list(self)

    def add_custom_field(
        self, label: str, type: str = "text", choices: Sequence[str] = ()
    ) -> FieldOut:
        """Add a custom field (name made from the label) of a type in FIELD_TYPES."""
        from crmkit.custom_fields import add_field

        return add_field(self, label, type, choices)

    def apply_custom_field(self, name: str) -> int:
        """Put the field, empty, on every contact lacking it; return how many got it."""
        from crmkit.custom_fields import apply_to_all

        return apply_to_all(self, name)

    def profile(self, contact_id: int) -> ContactProfile:
        """Everything the contact's profile shows (see :mod:`crmkit.profiles`)."""
        from crmkit.profiles import build_profile

        return build_profile(self, contact_id)

    def profile_html(self, contact_id: int) -> str:
        """The contact's profile as a self-contained HTML page."""
        from crmkit.profiles import build_profile, render_html

        colours = {
            f["name"]: {v["name"]: v["colour"] for v in f["values"]} for f in self.facet_table()
        }
        return render_html(build_profile(self, contact_id), colours)

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
        from crmkit.upcoming import schedule

        return schedule(
            self,
            contact_id,
            kind,
            title,
            due_at,
            template=template,
            subject=subject,
            body=body,
            actor=actor,
        )

    def actions(
        self, contact_id: int | None = None, *, include_closed: bool = False
    ) -> list[ActionOut]:
        """Upcoming actions by due time (all contacts' without ``contact_id``)."""
        from crmkit.upcoming import actions

        return actions(self, contact_id, include_closed=include_closed)

    def cancel_action(self, action_id: int, *, actor: str = "api") -> ActionOut:
        from crmkit.upcoming import cancel

        return cancel(self, action_id, actor)

    def send_text(
        self,
        contact_id: int,
        *,
        body: str | None = None,
        template: str | None = None,
        actor: str = "api",
    ) -> MessageOut:
        """Text the contact's cell phone; refused unless OK to SMS is on."""
        from crmkit.messaging import send

        return send(self, contact_id, "sms", body=body, template=template, actor=actor)

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
        from crmkit.messaging import send

        return send(
            self, contact_id, "email", body=body, template=template, subject=subject, actor=actor
        )

    def receive_text(self, sender: str, body: str, *, at: datetime | None = None) -> MessageOut:
        """Log an inbound text and record it as an ``engagement`` event on channel sms."""
        from crmkit.messaging import receive

        return receive(self, "sms", sender, body, at=at)

    def receive_email(
        self, sender: str, body: str, *, subject: str | None = None, at: datetime | None = None
    ) -> MessageOut:
        """Log an inbound email and record it as an ``engagement`` event on channel email."""
        from crmkit.messaging import receive

        return receive(self, "email", sender, body, subject=subject, at=at)

    def messages(
        self, contact_id: int, channel: str | None = None, *, limit: int | None = None
    ) -> list[MessageOut]:
        """The contact's texts and emails, newest first."""
        from crmkit.messaging import messages

        return messages(self, contact_id, channel, limit)  # type: ignore[arg-type]

    def explain(self, contact_id: int, facet: str | None = None) -> list[TransitionOut]:
        """Why the contact has its values: its transitions, oldest first."""
        with self.crm.db.connect() as conn:
            runtime = self.runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            self._state(conn, scope, contact_id)
            t = TransitionRow.__table__.c
            stmt = scope.select(TransitionRow.__table__).where(t.contact_id == contact_id)
            if facet is not None:
                if not (
                    facet in runtime.facets
                    or facet in EXPLAINABLE
                    or facet.removeprefix("fields.") in runtime.fields
                ):
                    raise ConfigError(
                        f"tenant {self.name!r} has no facet {facet!r} "
                        f"(its facets: {', '.join(runtime.facets) or 'none'}; also score, "
                        "tags, a contact attribute or fields.NAME)"
                    )
                stmt = stmt.where(t.name == facet)
            rows = conn.execute(stmt.order_by(t.version)).mappings().all()
            return [transition_out(dict(row)) for row in rows]

    # ------------------------------------------------------------ facets
    def facet_names(self) -> list[str]:
        """The facets this tenant's packs bring, in pack order."""
        with self.crm.db.connect() as conn:
            return list(self.runtime(conn).facets)

    def facet_table(self) -> list[dict[str, Any]]:
        """The tenant's facets with their values and this tenant's colours."""
        with self.crm.db.connect() as conn:
            runtime = self.runtime(conn)
        return [
            {
                "name": facet.name,
                "label": facet.label,
                "default": facet.default,
                "policy": facet.policy,
                "manual_allowed": facet.manual_allowed,
                "colours_fixed": facet.colours_fixed,
                "provider": self.crm.facets.providers[facet.name],
                "values": [
                    {
                        "name": v.name,
                        "label": v.label,
                        "colour": runtime.colour(facet.name, v.name),
                        "auto_only": v.auto_only,
                    }
                    for v in facet.values
                ],
            }
            for facet in runtime.facets.values()
        ]

    def set_colour(self, facet: str, value: str, colour: str) -> None:
        """Recolour a facet value for this tenant; refused where the facet fixes colours."""
        with self.crm.db.begin() as conn:
            runtime = self.write_runtime(conn)
            definition = runtime.facets.get(facet)
            if definition is None:
                raise ConfigError(f"tenant {self.name!r} has no facet {facet!r}")
            definition.value(value)
            if definition.colours_fixed:
                raise PolicyError(f"the colours of facet {facet!r} are fixed and cannot be changed")
            if colour not in COLOURS:
                raise ValidationError(f"unknown colour {colour!r} (one of {', '.join(COLOURS)})")
            settings = dict(runtime.settings)
            colours = {k: dict(v) for k, v in dict(settings.get("colours", {})).items()}
            colours.setdefault(facet, {})[value] = colour
            settings["colours"] = colours
            conn.execute(
                update(TenantRow)
                .where(TenantRow.id == runtime.tenant_id)
                .values(settings=settings, config_version=TenantRow.config_version + 1)
            )

    # ------------------------------------------------------------ accounts, projects, notes
    def add_account(self, name: str) -> int:
        """Create an account (company) or return the existing one of that name."""
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("an account needs a name")
        with self.crm.db.begin() as conn:
            return self._account_id(conn, self.write_runtime(conn), name.strip())

    def add_note(self, contact_id: int, body: str, *, author: str | None = None) -> int:
        if not body or not body.strip():
            raise ValidationError("a note needs a body")
        with self.crm.db.begin() as conn:
            runtime = self.write_runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            self._state(conn, scope, contact_id)
            note_id = self.allocate_ids(conn, runtime, 1, "note")
            conn.execute(
                scope.insert(NoteRow),
                scope.rows(
                    [
                        {
                            "id": note_id,
                            "contact_id": contact_id,
                            "body": body,
                            "author": author,
                            "created_at": self.crm.clock(),
                        }
                    ]
                ),
            )
            return note_id

    def notes(self, contact_id: int) -> list[dict[str, Any]]:
        with self.crm.db.connect() as conn:
            scope = TenantScope(self.runtime(conn).tenant_id)
            n = NoteRow.__table__.c
            rows = conn.execute(
                scope.select(n.id, n.body, n.author, n.created_at)
                .where(n.contact_id == contact_id)
                .order_by(n.id)
            ).mappings()
            return [dict(row) for row in rows]

    def add_project(
        self, name: str, primary_contact: int, related: Mapping[int, str] | None = None
    ) -> int:
        """Create a project for a primary contact, with related contacts and their roles."""
        if not name or not name.strip():
            raise ValidationError("a project needs a name")
        related = dict(related or {})
        if primary_contact in related:
            raise ValidationError(f"contact {primary_contact} is already the primary contact")
        with self.crm.db.begin() as conn:
            runtime = self.write_runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            states = {cid: self._state(conn, scope, cid) for cid in [primary_contact, *related]}
            # The primary contact is the one the project is for (a plugin may require a
            # client); related contacts (planners, vendors) may be anyone.
            self.permit(states[primary_contact], "project")
            for contact_id, role in related.items():
                if not role or not role.strip():
                    raise ValidationError(f"related contact {contact_id} needs a role label")
            project_id = self.allocate_ids(conn, runtime, 1, "project")
            conn.execute(
                scope.insert(ProjectRow),
                scope.rows(
                    [
                        {
                            "id": project_id,
                            "name": name.strip(),
                            "primary_contact_id": primary_contact,
                            "created_at": self.crm.clock(),
                        }
                    ]
                ),
            )
            if related:
                conn.execute(
                    scope.insert(ProjectContactRow),
                    scope.rows(
                        {"project_id": project_id, "contact_id": cid, "role": role.strip()}
                        for cid, role in related.items()
                    ),
                )
            return project_id

    def add_related(self, project_id: int, contact_id: int, role: str) -> None:
        """Relate a contact to a project with a role label (a contact can be in many)."""
        if not role or not role.strip():
            raise ValidationError(f"related contact {contact_id} needs a role label")
        with self.crm.db.begin() as conn:
            scope = TenantScope(self.write_runtime(conn).tenant_id)
            project = self.get_project(project_id, conn=conn)
            self._state(conn, scope, contact_id)
            if contact_id == project["primary_contact"] or any(
                r["contact"] == contact_id for r in project["related"]
            ):
                raise ValidationError(f"contact {contact_id} is already on project {project_id}")
            conn.execute(
                scope.insert(ProjectContactRow),
                scope.rows([{"project_id": project_id, "contact_id": contact_id, "role": role}]),
            )

    def list_projects(self, contact_id: int | None = None) -> list[dict[str, Any]]:
        """Projects in id order; with ``contact_id``, those the contact is primary on or
        related to."""
        with self.crm.db.connect() as conn:
            scope = TenantScope(self.runtime(conn).tenant_id)
            p = ProjectRow.__table__.c
            stmt = scope.select(p.id).order_by(p.id)
            if contact_id is not None:
                self._state(conn, scope, contact_id)
                pc = ProjectContactRow.__table__.c
                related = scope.select(pc.project_id).where(pc.contact_id == contact_id)
                stmt = stmt.where((p.primary_contact_id == contact_id) | p.id.in_(related))
            return [self.get_project(pid, conn=conn) for pid in conn.scalars(stmt)]

    def get_project(self, project_id: int, *, conn: Connection | None = None) -> dict[str, Any]:
        """A project: id, name, primary_contact and related (contact, role)."""
        if conn is None:
            with self.crm.db.connect() as own:
                return self.get_project(project_id, conn=own)
        scope = TenantScope(self.runtime(conn).tenant_id)
        p = ProjectRow.__table__.c
        row = conn.execute(
            scope.select(p.id, p.name, p.primary_contact_id).where(p.id == project_id)
        ).first()
        if row is None:
            raise NotFoundError(f"project {project_id} does not exist in tenant {self.name!r}")
        pc = ProjectContactRow.__table__.c
        related = conn.execute(
            scope.select(pc.contact_id, pc.role)
            .where(pc.project_id == project_id)
            .order_by(pc.contact_id)
        ).all()
        return {
            "id": row[0],
            "name": row[1],
            "primary_contact": row[2],
            "related": [{"contact": c, "role": r} for c, r in related],
        }

    # ------------------------------------------------------------ settings and accounts
    def settings(self) -> dict[str, Any]:
        with self.crm.db.connect() as conn:
            return dict(self.runtime(conn).settings)

    def update_settings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``values`` into the tenant's settings (takes effect on the next call).

        Each value is checked against its declared type and range (and against the
        tick rules that read it) first: a refusal is a ConfigError and changes nothing."""
        from crmkit.settings import check_tick_rules

        given = self.crm.declared_settings.checked(values)
        with self.crm.db.begin() as conn:
            runtime = self.write_runtime(conn)
            merged = {**runtime.settings, **given}
            check_tick_rules(runtime.rulesets, merged, runtime.search_schema())
            conn.execute(
                update(TenantRow)
                .where(TenantRow.id == runtime.tenant_id)
                .values(settings=merged, config_version=TenantRow.config_version + 1)
            )
            return merged

    def noun(self, plural: bool = False) -> str:
        """What this tenant calls its contacts (settings ``contact_noun`` and
        ``contact_noun_plural``; default contact / contacts)."""
        settings = self.settings()
        singular = str(settings.get("contact_noun") or "contact")
        if not plural:
            return singular
        return str(settings.get("contact_noun_plural") or f"{singular}s")

    def list_accounts(self) -> list[dict[str, Any]]:
        """Accounts (companies) by name, with the ids of their contacts."""
        with self.crm.db.connect() as conn:
            scope = TenantScope(self.runtime(conn).tenant_id)
            a = AccountRow.__table__.c
            c = ContactRow.__table__.c
            members: dict[int, list[int]] = {}
            for account_id, contact_id in conn.execute(
                scope.select(c.account_id, c.id).where(c.account_id.is_not(None)).order_by(c.id)
            ):
                members.setdefault(account_id, []).append(contact_id)
            return [
                {"id": aid, "name": name, "contacts": members.get(aid, [])}
                for aid, name in conn.execute(scope.select(a.id, a.name).order_by(a.name))
            ]

    def account_contacts(self, name: str) -> list[int]:
        """The ids of the contacts in the account called ``name``."""
        found = next((a for a in self.list_accounts() if a["name"] == name), None)
        if found is None:
            raise NotFoundError(f"account {name!r} does not exist in tenant {self.name!r}")
        return list(found["contacts"])

    # ------------------------------------------------------------ time
    def tick(self, now: datetime | None = None, *, carry_out: bool = True) -> TickSummary:
        """Run what depends on time: plugins' time work, the tick rules, then (unless
        ``carry_out`` is false) the upcoming actions that are due.

        ``now`` defaults to the CRM's clock; give it to test a moment.
        """
        from crmkit.ticking import tick

        return tick(self, as_utc(now) if now else self.crm.clock(), carry_out=carry_out)

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
    ) -> ImportSummary:
        """Import contacts from a CSV or XLSX file; see :mod:`crmkit.transfer.importer`.

        ``mapping`` (column to target) and ``mapping_file`` override the suggested
        mapping; ``match`` (``auto``, ``email``, ``phone``, ``id``, ``fields.NAME`` or
        ``none``) finds the contact a row updates; bad rows go to ``errors_path`` and the
        summary. ``fire_rules`` records a ``contact_imported`` event per imported row.
        ``workers`` processes check rows in parallel (None: two for files over 8 MB);
        they are spawned, so a script that sets it needs ``if __name__ == "__main__":``.
        The same import run again resumes where it stopped, or changes nothing if it
        finished; ``again`` imports the file once more anyway.
        """
        from crmkit.transfer.importer import ImportOptions, import_file, prepare

        table, columns, _ = prepare(
            self,
            path,
            mapping=mapping,
            mapping_file=mapping_file,
            encoding=encoding,
            delimiter=delimiter,
            sheet=sheet,
        )
        options = ImportOptions(
            match=match,
            dry_run=dry_run,
            fire_rules=fire_rules,
            errors_path=Path(errors_path) if errors_path is not None else None,
            batch_size=batch_size,
            workers=workers,
            actor=actor,
            again=again,
        )
        with table:
            return import_file(self, table, columns, options, progress)

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
        from crmkit.transfer.exporter import export_contacts

        target = Path(output) if isinstance(output, str) else output
        return export_contacts(self, target, format=format, where=where, archived=archived)

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
        from crmkit.recording import record

        payload: dict[str, Any] = {"contact": contact, "kind": kind, "data": dict(data or {})}
        if id is not None:
            payload["id"] = id
        if at is not None:
            payload["at"] = at
        try:
            event = EventIn.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise validation_error(exc, "event") from None
        return record(self, event)

    def ingest(
        self,
        events: Iterable[Mapping[str, Any] | BaseException],
        *,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> IngestSummary:
        """Record many events in batches; see :func:`crmkit.recording.ingest`."""
        from crmkit.recording import ingest

        return ingest(self, events, batch_size=batch_size, progress=progress)
