"""The event pipeline: load state, match rules, check and apply changes, write audit.

Rules match the contact as it was when the event arrived. The changes of every rule
that fired are applied one after another in (priority, pack position, file order); each
is checked by the facet policy and the ``crmkit_guard_change`` hook first. Nothing is
written until every change of the event was accepted, so a refusal or an action that
raises leaves no trace but the failed event itself.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.errors import ActionError, CRMError, NotFoundError, PolicyError
from crmkit.facets import CauseType
from crmkit.rules.actions import (
    AddScore,
    AddTag,
    Change,
    RemoveTag,
    RuleContext,
    Schedule,
    SetFacet,
    SetScore,
)
from crmkit.rules.engine import Fact, RuleEngine
from crmkit.runtime import TenantRuntime
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter, present
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import (
    AccountRow,
    ContactFacetRow,
    ContactRow,
    ContactTagRow,
    EventRow,
    ScheduledActionRow,
    TransitionRow,
)
from crmkit.storage.scope import TenantScope
from crmkit.storage.types import json_as_text

Guard = Callable[[int, Change, str], "str | None"]
# Called inside the transaction with the transitions just written (crmkit_on_changes).
# The second list holds the ids of contacts created by the write.
AfterChanges = Callable[[Connection, list[dict[str, Any]], list[int]], None]
# Asks the registered permit checks whether an event kind may happen to a contact.
Permit = Callable[["ContactState", str], "str | None"]


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Cause(NamedTuple):
    """Why a change happened. A named tuple: one is built per fired rule per event."""

    type: CauseType
    pack: str | None = None
    pack_version: str | None = None
    rule: str | None = None
    actor: str | None = None
    event_id: str | None = None

    @classmethod
    def like(cls, cause_type: CauseType, transition: Mapping[str, Any]) -> Cause:
        """The cause of ``transition`` with another type: what a change a plugin makes
        through ``ChangeContext.apply(..., like=transition)`` is recorded with."""
        return cls(
            cause_type,
            transition.get("pack"),
            transition.get("pack_version"),
            transition.get("rule"),
            transition.get("actor"),
            transition.get("event_id"),
        )

    def describe(self) -> str:
        if self.type == "rule":
            return f"{self.pack}@{self.pack_version}:{self.rule}"
        if self.type == "manual":
            return f"manual ({self.actor})" if self.actor else "manual"
        return f"import ({self.actor})" if self.actor else "import"


class ContactState:
    """A contact's mutable state during one transaction.

    Changes are tracked as they happen (the first old value of each facet, added and
    removed tags), so writing back costs nothing for untouched contacts. ``fields`` is
    parsed from its JSON text on first use: most rules never read it. ``profile`` holds
    the optional text attributes (:data:`crmkit.contact_fields.PROFILE_FIELDS`).
    """

    __slots__ = (
        "_fields",
        "_fields_json",
        "account",
        "account_id",
        "archived",
        "changed_facets",
        "facets",
        "first_name",
        "id",
        "last_name",
        "ok_to_sms",
        "profile",
        "scheduled",
        "score",
        "tags",
        "tags_added",
        "tags_removed",
        "version",
        "written_version",
    )

    def __init__(
        self,
        *,
        id: int,
        first_name: str,
        last_name: str,
        profile: dict[str, str | None],
        account: str | None,
        archived: bool,
        score: float,
        fields: dict[str, Any] | None = None,
        fields_json: str | dict[str, Any] | None = None,
        facets: dict[str, str],
        tags: set[str],
        version: int,
        account_id: int | None = None,
        ok_to_sms: bool = False,
    ) -> None:
        self.id = id
        self.first_name = first_name
        self.last_name = last_name
        self.profile = profile
        self.account = account
        self.account_id = account_id
        self.archived = archived
        self.ok_to_sms = ok_to_sms
        self.score = score
        self._fields = fields
        self._fields_json = fields_json
        self.facets = facets
        self.tags = tags
        self.version = version
        self.written_version = version
        self.changed_facets: dict[str, str | None] = {}
        self.tags_added: set[str] = set()
        self.tags_removed: set[str] = set()
        # Upcoming actions rules put on the contact, written with the rest.
        self.scheduled: list[dict[str, Any]] = []

    def attribute(self, name: str) -> Any:
        """A built-in attribute by name (profile fields included)."""
        if name in self.profile:
            return self.profile[name]
        return getattr(self, name, None)

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            raw = self._fields_json
            parsed = json.loads(raw) if isinstance(raw, str) and raw else raw or {}
            self._fields = parsed if isinstance(parsed, dict) else {}
        return self._fields

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            **self.profile,
            "account": self.account,
            "archived": self.archived,
            "ok_to_sms": self.ok_to_sms,
            "score": self.score,
            "fields": dict(self.fields),
            "facets": dict(self.facets),
            "tags": sorted(self.tags),
        }

    def view(self) -> ContactView:
        """A read-only mapping like :meth:`snapshot` that computes each key on first use."""
        return ContactView(self)

    def set_facet(self, facet: str, value: str) -> None:
        if facet not in self.changed_facets:
            self.changed_facets[facet] = self.facets.get(facet)
        self.facets[facet] = value

    def add_tag(self, tag: str) -> None:
        self.tags.add(tag)
        if tag in self.tags_removed:
            self.tags_removed.discard(tag)
        else:
            self.tags_added.add(tag)

    def remove_tag(self, tag: str) -> None:
        self.tags.discard(tag)
        if tag in self.tags_added:
            self.tags_added.discard(tag)
        else:
            self.tags_removed.add(tag)

    @property
    def dirty(self) -> bool:
        return bool(
            self.version != self.written_version
            or self.changed_facets
            or self.tags_added
            or self.tags_removed
            or self.scheduled
        )

    def mark_written(self) -> None:
        self.written_version = self.version
        self.changed_facets = {}
        self.tags_added = set()
        self.tags_removed = set()
        self.scheduled = []


class ContactView(Mapping[str, Any]):
    """The contact as hooks see it, built key by key: a hook that reads only the facets
    does not pay for copying tags or parsing fields, and it runs once per event."""

    _KEYS = (
        "id",
        "first_name",
        "last_name",
        *PROFILE_FIELDS,
        "account",
        "archived",
        "ok_to_sms",
        "score",
        "fields",
        "facets",
        "tags",
    )

    def __init__(self, state: ContactState) -> None:
        self._state = state

    def __getitem__(self, key: str) -> Any:
        state = self._state
        if key == "facets":
            return dict(state.facets)
        if key == "tags":
            return sorted(state.tags)
        if key == "fields":
            return dict(state.fields)
        if key in self._KEYS:
            return state.attribute(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


def load_states(
    conn: Connection, scope: TenantScope, contact_ids: Iterable[int]
) -> dict[int, ContactState]:
    """Load contacts with their facets and tags; missing ids are simply absent."""
    ids = sorted(set(contact_ids))
    states: dict[int, ContactState] = {}
    if not ids:
        return states
    c = ContactRow.__table__.c
    profile_columns = [c[name] for name in PROFILE_FIELDS]
    rows = conn.execute(
        scope.select(
            c.id,
            c.first_name,
            c.last_name,
            c.archived,
            c.score,
            json_as_text(conn.dialect.name, c.fields),
            c.version,
            c.account_id,
            c.ok_to_sms,
            *profile_columns,
        ).where(one_of(conn, c.id, ids))
    ).all()
    a = AccountRow.__table__.c
    account_ids = {row[7] for row in rows if row[7] is not None}
    accounts: dict[int, str] = {}
    if account_ids:
        accounts = {
            account_id: name
            for account_id, name in conn.execute(
                scope.select(a.id, a.name).where(a.id.in_(account_ids))
            )
        }
    for row in rows:
        states[row[0]] = ContactState(
            id=row[0],
            first_name=row[1],
            last_name=row[2],
            archived=row[3],
            score=row[4],
            fields_json=row[5],
            version=row[6],
            account_id=row[7],
            account=accounts.get(row[7]) if row[7] is not None else None,
            ok_to_sms=bool(row[8]),
            profile=dict(zip(PROFILE_FIELDS, row[9:], strict=True)),
            facets={},
            tags=set(),
        )
    f = ContactFacetRow.__table__.c
    for contact_id, facet, value in conn.execute(
        scope.select(f.contact_id, f.facet, f.value).where(one_of(conn, f.contact_id, ids))
    ):
        states[contact_id].facets[facet] = value
    t = ContactTagRow.__table__.c
    for contact_id, tag in conn.execute(
        scope.select(t.contact_id, t.tag).where(one_of(conn, t.contact_id, ids))
    ):
        states[contact_id].tags.add(tag)
    return states


def _lookup(root: Mapping[str, Any], dotted: Sequence[str]) -> Any:
    value: Any = root
    for part in dotted:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def build_fact(
    runtime: TenantRuntime, state: ContactState, kind: str, data: Mapping[str, Any]
) -> Fact:
    """The flat fact the engine matches: only the paths the tenant's rules read.

    Missing and null values are left out, so any comparison on them is false; each
    value is keyed by its type (see :mod:`crmkit.conditions.durable`).
    """
    fact: Fact = {"event.kind#s": kind}
    for keys, source, key in runtime.fact_plan:
        if source == "facet":
            value: Any = state.facets.get(key[0])
        elif source == "data":
            value = _lookup(data, key)
        elif source == "score":
            value = state.score
        elif source == "fields":
            value = _lookup(state.fields, key)
        else:
            value = state.attribute(key[0])
        # Keyed by the value's type: a rule compares only with literals of that type.
        if isinstance(value, str):
            fact[keys[0]] = value
        elif isinstance(value, bool):
            fact[keys[1]] = value
        elif isinstance(value, (int, float)):
            fact[keys[2]] = value
    for tag, tag_path in runtime.fact_tags:
        fact[tag_path] = tag in state.tags
    return fact


class ChangeApplier:
    """Checks and applies changes to contact states, producing transition rows."""

    def __init__(self, runtime: TenantRuntime, guard: Guard, clock_now: datetime) -> None:
        self.runtime = runtime
        self.guard = guard
        self.now = clock_now
        self.transitions: list[dict[str, Any]] = []

    def apply(self, state: ContactState, change: Change, cause: Cause) -> dict[str, Any] | None:
        """Apply one change; return its transition, or None when it changes nothing."""
        if isinstance(change, SetFacet):
            facet = self.runtime.facets.get(change.facet)
            if facet is None:
                if cause.type == "rule":
                    return None  # a rule written for a pack this tenant does not use
                raise PolicyError(
                    f"tenant {self.runtime.name!r} does not use facet {change.facet!r} "
                    f"(its facets: {', '.join(self.runtime.facets) or 'none'})"
                )
            old = state.facets.get(change.facet)
            if old == change.value:
                facet.value(change.value)
                return None
            facet.check_change(old, change.value, cause.type)
            target, name, old_text, new_text = "facet", change.facet, old, change.value
        elif isinstance(change, AddTag):
            if change.tag in state.tags:
                return None
            target, name, old_text, new_text = "tag", "tags", None, change.tag
        elif isinstance(change, RemoveTag):
            if change.tag not in state.tags:
                return None
            target, name, old_text, new_text = "tag", "tags", change.tag, None
        elif isinstance(change, (AddScore, SetScore)):
            new_score = state.score + change.delta if isinstance(change, AddScore) else change.value
            if new_score == state.score:
                return None
            target, name = "score", "score"
            old_text, new_text = fmt_number(state.score), fmt_number(new_score)
        elif isinstance(change, Schedule):
            self.schedule(state, change, cause)
            return None  # no stored value changes: the action row is its record
        else:
            raise PolicyError(f"unknown change {change!r}")
        reason = self.guard(state.id, change, cause.type)
        if reason:
            raise PolicyError(f"change refused for contact {state.id}: {reason}")
        if isinstance(change, SetFacet):
            state.set_facet(change.facet, change.value)
        elif isinstance(change, AddTag):
            state.add_tag(change.tag)
        elif isinstance(change, RemoveTag):
            state.remove_tag(change.tag)
        else:
            state.score = new_score
        state.version += 1
        transition = {
            "tenant_id": self.runtime.tenant_id,
            "contact_id": state.id,
            "version": state.version,
            "target": target,
            "name": name,
            "old": old_text,
            "new": new_text,
            "cause_type": cause.type,
            "pack": cause.pack,
            "pack_version": cause.pack_version,
            "rule": cause.rule,
            "actor": cause.actor,
            "event_id": cause.event_id,
            "at": self.now,
        }
        self.transitions.append(transition)
        return transition

    def schedule(self, state: ContactState, change: Schedule, cause: Cause) -> None:
        template = change.template
        if template is not None and ":" not in template and cause.pack:
            template = f"{cause.pack}:{template}"
        state.scheduled.append(
            {
                "contact_id": state.id,
                "kind": change.kind,
                "title": change.title,
                "due_at": change.due_at,
                "template": template,
                "subject": change.subject,
                "body": change.body,
                "status": "pending",
                "pack": cause.pack,
                "rule": cause.rule,
                "actor": cause.actor,
                "event_id": cause.event_id,
                "created_at": self.now,
            }
        )


@dataclass
class PendingEvent:
    id: str
    contact_id: int
    kind: str
    data: dict[str, Any]
    occurred_at: datetime
    changes: list[dict[str, Any]] = field(default_factory=list)


def run_rules(
    runtime: TenantRuntime,
    engine: RuleEngine,
    applier: ChangeApplier,
    events: Sequence[PendingEvent],
    states: Mapping[int, ContactState],
    permit: Permit | None = None,
    after_wave: Callable[[list[PendingEvent]], None] | None = None,
) -> list[tuple[PendingEvent, str]]:
    """Run the tenant's rules for ``events`` and apply their changes to ``states``.

    Events are matched in waves in which each contact appears at most once, so an
    event always sees the changes of the contact's earlier events. ``permit`` is asked
    about each event on the state it arrives to; refused events are left out and
    returned with their reasons. ``after_wave`` is called once per wave with the events
    whose rules changed something, once their changes are applied (before any
    contact's next event): one call for the wave, not one per event.
    """
    refused: list[tuple[PendingEvent, str]] = []
    if not events or (not runtime.rulesets and permit is None):
        return refused
    single = len(runtime.rulesets) == 1
    for wave_events in _waves(events):
        if permit is not None:
            wave_events = _permitted(wave_events, permit, states, refused)
        per_ruleset = _match_wave(runtime, engine, wave_events, states)
        changed: list[PendingEvent] = []
        for index, event in enumerate(wave_events):
            if single:
                orders = per_ruleset[0][index]
                if not orders:
                    continue
                fired: tuple[tuple[int, ...], ...] = (tuple(orders),)
            else:
                fired = tuple(tuple(answers[index]) for answers in per_ruleset)
                if not any(fired):
                    continue
            _fire(runtime, applier, event, states[event.contact_id], fired)
            if event.changes:
                changed.append(event)
        if after_wave is not None and changed:
            after_wave(changed)
    return refused


def _waves(events: Sequence[PendingEvent]) -> list[list[PendingEvent]]:
    """The events in waves in which each contact appears at most once, in order."""
    waves: list[list[PendingEvent]] = []
    seen: dict[int, int] = {}
    for event in events:
        wave = seen.get(event.contact_id, 0)
        seen[event.contact_id] = wave + 1
        if wave == len(waves):
            waves.append([])
        waves[wave].append(event)
    return waves


def _permitted(
    events: list[PendingEvent],
    permit: Permit,
    states: Mapping[int, ContactState],
    refused: list[tuple[PendingEvent, str]],
) -> list[PendingEvent]:
    """The events ``permit`` lets through; the others go to ``refused`` with why."""
    allowed = []
    for event in events:
        reason = permit(states[event.contact_id], event.kind)
        if reason:
            refused.append((event, reason))
        else:
            allowed.append(event)
    return allowed


_NOTHING: list[int] = []


def _match_wave(
    runtime: TenantRuntime,
    engine: RuleEngine,
    events: list[PendingEvent],
    states: Mapping[int, ContactState],
) -> list[list[list[int]]]:
    """Per ruleset, per event of the wave: the orders of the rules that matched."""
    per_ruleset: list[list[list[int]]] = []
    for ruleset in runtime.rulesets:
        kinds = ruleset.kinds
        if kinds is None:
            candidates = list(range(len(events)))
        else:
            candidates = [i for i, e in enumerate(events) if e.kind in kinds]
        answers = [_NOTHING] * len(events)
        if candidates:
            facts = [
                build_fact(runtime, states[e.contact_id], e.kind, e.data)
                for e in map(events.__getitem__, candidates)
            ]
            for i, matched in zip(candidates, engine.match(ruleset, facts), strict=True):
                answers[i] = matched
        per_ruleset.append(answers)
    return per_ruleset


def _fire(
    runtime: TenantRuntime,
    applier: ChangeApplier,
    event: PendingEvent,
    state: ContactState,
    fired: tuple[tuple[int, ...], ...],
) -> None:
    """Run the actions of the rules that fired for one event and apply their changes."""
    plan = runtime.firing(fired)
    # The snapshot is taken before any change, and only when an action reads it.
    context = RuleContext(
        tenant=runtime.name,
        contact=state.snapshot() if plan.reads else {},
        event={
            "id": event.id,
            "kind": event.kind,
            "data": event.data,
            "occurred_at": event.occurred_at,
        },
        settings=runtime.settings,
    )
    for step in plan.steps:
        ruleset, rule = step.ruleset, step.rule
        cause = Cause("rule", ruleset.pack, ruleset.version, rule.name, None, event.id)
        for action in rule.actions:
            try:
                changes = action.spec.run(action.args, context)
            except CRMError:
                raise
            except Exception as exc:
                raise ActionError(event.id, step.label, exc) from exc
            for change in changes:
                try:
                    transition = applier.apply(state, change, cause)
                except PolicyError as exc:
                    raise PolicyError(f"event {event.id!r}, rule {step.label}: {exc}") from None
                if transition is not None:
                    event.changes.append(transition)


# A new contact row, as importing and replaying write them (executemany).
CONTACT_INSERT_COLUMNS = (
    "tenant_id",
    "id",
    "first_name",
    "last_name",
    *PROFILE_FIELDS,
    "account_id",
    "score",
    "fields",
    "archived",
    "ok_to_sms",
    "sms_note",
    "version",
    "created_at",
    "created_after_seq",
)
EVENT_COLUMNS = (
    "tenant_id",
    "id",
    "seq",
    "contact_id",
    "kind",
    "data",
    "occurred_at",
    "recorded_at",
    "status",
    "error",
    "batch_seq",
)
TRANSITION_COLUMNS = (
    "tenant_id",
    "contact_id",
    "version",
    "target",
    "name",
    "old",
    "new",
    "cause_type",
    "pack",
    "pack_version",
    "rule",
    "actor",
    "event_id",
    "at",
)
# The stored row adds the change's place among events (see transition_rows).
TRANSITION_ROW_COLUMNS = (*TRANSITION_COLUMNS, "after_seq")
_TRANSITION_VALUES = operator.itemgetter(*TRANSITION_COLUMNS[1:])


def made_by_hand(transition: Mapping[str, Any]) -> bool:
    """A change made by hand or by import: no rule made it, no event caused it (a replay
    applies it as recorded instead of working it out again)."""
    return transition["cause_type"] != "rule" and transition["event_id"] is None


def transition_rows(
    conn: Connection, tenant_id: int, transitions: Iterable[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Transition rows in ``TRANSITION_ROW_COLUMNS`` order.

    A change by hand or by import (no rule, no event) gets the tenant's current event
    sequence number as ``after_seq``: it happened after that event or tick and before
    the next, which is how a replay puts it back in its place.
    """
    mark: int | None = None
    rows: list[tuple[Any, ...]] = []
    values = _TRANSITION_VALUES
    for t in transitions:
        after: int | None = None
        if made_by_hand(t):
            if mark is None:
                mark = counters.current(conn, tenant_id, "event")
            after = mark
        rows.append((tenant_id, *values(t), after))
    return rows


def persist(
    conn: Connection,
    scope: TenantScope,
    states: Iterable[ContactState],
    transitions: Sequence[dict[str, Any]],
    events: Sequence[tuple[Any, ...]] = (),
    *,
    after: AfterChanges | None = None,
    created: Sequence[int] = (),
) -> int | None:
    """Write events, changed contact state and transitions with a few executemany calls.

    ``events`` are rows in ``EVENT_COLUMNS`` order without the leading tenant id.
    Returns the tenant's new ``state`` counter value when contact state was written
    (every writer bumps it, so a reader can tell that nobody else wrote), else None.
    """
    tenant = scope.tenant_id
    writer = BulkWriter(conn)
    writer.insert(
        EventRow,
        EVENT_COLUMNS,
        [(tenant, *event) for event in events],
    )
    facet_updates: list[tuple[Any, ...]] = []
    facet_inserts: list[tuple[Any, ...]] = []
    tag_adds: list[tuple[Any, ...]] = []
    tag_removes: list[tuple[Any, ...]] = []
    contact_updates: list[tuple[Any, ...]] = []
    scheduled: list[dict[str, Any]] = []
    for state in states:
        if not state.dirty:
            continue
        scheduled.extend(state.scheduled)
        for facet, old in state.changed_facets.items():
            value = state.facets[facet]
            if old is None:
                facet_inserts.append((tenant, state.id, facet, value))
            elif old != value:
                facet_updates.append((value, tenant, state.id, facet))
        tag_adds.extend((tenant, state.id, tag) for tag in state.tags_added)
        tag_removes.extend((tenant, state.id, tag) for tag in state.tags_removed)
        if state.version != state.written_version:
            # (a contact inserted by this write already holds its version and score)
            contact_updates.append((state.score, state.version, tenant, state.id))
        state.mark_written()
    writer.update(ContactFacetRow, ("value",), ("tenant_id", "contact_id", "facet"), facet_updates)
    writer.insert(ContactFacetRow, ("tenant_id", "contact_id", "facet", "value"), facet_inserts)
    writer.insert(ContactTagRow, ("tenant_id", "contact_id", "tag"), tag_adds)
    writer.delete(ContactTagRow, ("tenant_id", "contact_id", "tag"), tag_removes)
    writer.update(ContactRow, ("score", "version"), ("tenant_id", "id"), contact_updates)
    writer.insert(TransitionRow, TRANSITION_ROW_COLUMNS, transition_rows(conn, tenant, transitions))
    if scheduled:
        if len(events) > 1:
            # Ids in the order of the events that scheduled them, as recording them one
            # by one gives (states come by contact, not by event).
            seq_of = {event[0]: event[1] for event in events}
            scheduled.sort(key=lambda row: seq_of.get(row["event_id"], -1))
        first = counters.allocate(conn, tenant, "action", len(scheduled))
        conn.execute(
            scope.insert(ScheduledActionRow),
            scope.rows({**row, "id": first + i} for i, row in enumerate(scheduled)),
        )
    stamp = counters.allocate(conn, tenant, "state") if contact_updates else None
    if after is not None and (transitions or created):
        after(conn, list(transitions), list(created))
    return stamp


def current_versions(conn: Connection, scope: TenantScope, ids: Sequence[int]) -> dict[int, int]:
    """Each contact's stored version (absent ids are left out)."""
    c = ContactRow.__table__.c
    found: dict[int, int] = {}
    for start in range(0, len(ids), ROWS_PER_ROUND):
        chunk = ids[start : start + ROWS_PER_ROUND]
        rows = conn.execute(scope.select(c.id, c.version).where(one_of(conn, c.id, chunk))).all()
        for cid, version in rows:
            found[cid] = version
    return found


def existing_event_ids(conn: Connection, scope: TenantScope, ids: Sequence[str]) -> set[str]:
    """The ids among ``ids`` already recorded for the tenant."""
    return present(conn, EventRow, "id", scope.tenant_id, ids)


def require_contact(
    states: Mapping[int, ContactState], contact_id: int, tenant: str
) -> ContactState:
    state = states.get(contact_id)
    if state is None:
        raise NotFoundError(f"contact {contact_id} does not exist in tenant {tenant!r}")
    return state
