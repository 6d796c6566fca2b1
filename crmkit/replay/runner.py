"""Playing a tenant's history again in a scratch copy, and comparing the outcome.

The scratch copy is a SQLite database in memory (never a file), driven by a sibling CRM
(the same plugins, registries and compiled packs) that is quiet: no notice, message or
event hook reaches the outside world. Events are recorded again in their original
batches with the clock at the time they were recorded; ticks run at their moment
without carrying out due actions (what those did is in the events they recorded);
changes by hand and imports are applied as they were recorded, with their causes.
The tenant's own data is only read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import StaticPool

from crmkit.clock import MovableClock, as_utc
from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.pipeline import (
    CONTACT_INSERT_COLUMNS,
    EVENT_COLUMNS,
    ContactState,
    load_states,
    persist,
)
from crmkit.replay.compare import ContactDifference, compare, facet_counts
from crmkit.replay.history import ContactHistory, History, read_history
from crmkit.replay.plan import Plan, Step, plan_replay
from crmkit.replay.values import column_value, decode, get_value, put_value
from crmkit.storage import counters
from crmkit.storage.bulk import BulkWriter
from crmkit.storage.models import (
    AccountRow,
    ContactFacetRow,
    ContactRow,
    ContactTagRow,
    CustomFieldRow,
    EventRow,
)
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.core import CRM
    from crmkit.tenant import Tenant


@dataclass
class ReplayResult:
    tenant: str
    packs: list[str]
    since: datetime | None
    contacts: int = 0
    events: int = 0
    ticks: int = 0
    by_hand: int = 0
    failed: int = 0
    differences: list[ContactDifference] = field(default_factory=list)
    # Facets only the simulated packs bring: how many contacts end with each value.
    new_facets: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        """Whether every contact ended as it is now."""
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        since = self.since.isoformat() if self.since else None
        return {**asdict(self), "since": since, "exact": self.exact}


def replay(
    tenant: Tenant, *, packs: Sequence[str] | None = None, since: datetime | None = None
) -> ReplayResult:
    """Rebuild ``tenant`` from its history in a scratch copy and compare each contact.

    With ``packs`` (``name`` or ``name@version``) the history is played against those
    packs instead of the tenant's: a simulation. With ``since`` only what happened from
    then on is played, from each contact's values at that time.
    """
    started = time.perf_counter()
    moment = as_utc(since) if since is not None else None
    history = read_history(tenant.context)
    plan = plan_replay(history, moment)
    result = ReplayResult(
        tenant=history.tenant, packs=list(history.packs), since=moment, warnings=plan.warnings
    )
    clock = MovableClock()
    scratch = _scratch_crm(tenant, clock)
    try:
        scratch.migrate()
        twin = scratch.configure_tenant(
            history.tenant,
            list(packs) if packs is not None else history.packs,
            history.settings,
            actor="replay",
        )
        player = _Player(twin, clock, history)
        player.prepare(plan)
        player.play(plan.steps, result)
        with scratch.db.connect() as conn:
            runtime = twin.runtime(conn)
            result.packs = [pack.ref for pack in runtime.packs]
            facets: set[str] | None = None
            if packs is not None:
                # Facets only one side has are not differences of a contact: the
                # simulated packs' new ones are counted by value instead.
                facets = set(runtime.facets) & set(history.facets)
                new = [f for f in runtime.facets if f not in history.facets]
                result.new_facets = facet_counts(conn, runtime.tenant_id, new)
            result.differences = compare(conn, runtime.tenant_id, history, facets)
    finally:
        scratch.db.dispose()
    result.contacts = len(history.contacts)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _scratch_crm(tenant: Tenant, clock: MovableClock) -> CRM:
    """The scratch copy lives in memory: a killed replay leaves no file holding the
    tenant's contacts behind (a SIGKILL runs no cleanup). One connection serves every
    use, since each new connection to ``sqlite://`` would be an empty database."""
    scratch = tenant.crm.sibling(
        "sqlite://", clock=clock, poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    _one_connection_at_a_time(scratch.db)
    return scratch


def _one_connection_at_a_time(engine: Engine) -> None:
    """Refuse a second connection while one is in use: on the one shared connection it
    would commit or roll back the first one's transaction."""
    in_use = [0]

    def checkout(*_: Any) -> None:
        if in_use[0]:
            raise RuntimeError("the replay's scratch database has one connection, in use")
        in_use[0] += 1

    def checkin(*_: Any) -> None:
        in_use[0] -= 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


class _Player:
    def __init__(self, twin: Tenant, clock: MovableClock, history: History) -> None:
        self.twin = twin
        self.clock = clock
        self.history = history
        self.accounts = {a["name"]: a["id"] for a in history.accounts}
        self.created: dict[int, ContactHistory] = {}

    def prepare(self, plan: Plan) -> None:
        """Custom fields, accounts, the contacts there at the start, earlier events."""
        self.created = plan.created
        with self.twin.crm.db.begin() as conn:
            runtime = self.twin.runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            custom = [f for f in self.history.custom_fields if f["name"] not in runtime.fields]
            if custom:
                conn.execute(scope.insert(CustomFieldRow), scope.rows(custom))
            if self.history.accounts:
                conn.execute(scope.insert(AccountRow), scope.rows(self.history.accounts))
                top = max(a["id"] for a in self.history.accounts)
                counters.allocate(conn, runtime.tenant_id, "account", top)
            _insert_contacts(conn, self.twin, plan.present, 0)
            if plan.earlier_events:
                BulkWriter(conn).insert(
                    EventRow,
                    EVENT_COLUMNS,
                    [
                        (runtime.tenant_id, *(e[c] for c in EVENT_COLUMNS[1:]))
                        for e in plan.earlier_events
                    ],
                )
                top = max(e["seq"] for e in plan.earlier_events)
                counters.allocate(conn, runtime.tenant_id, "event", top)

    def play(self, steps: list[Step], result: ReplayResult) -> None:
        index = 0
        while index < len(steps):
            step = steps[index]
            end = index + 1
            if step.kind == "event":
                batch = _batch(step.item)
                while end < len(steps) and steps[end].kind == "event":
                    if _batch(steps[end].item) != batch:
                        break
                    end += 1
                events = [s.item for s in steps[index:end]]
                result.events += len(events)
                result.failed += self._events(events)
            elif step.kind == "change":
                while end < len(steps) and steps[end].kind == "change":
                    if steps[end].key[:3] != step.key[:3]:
                        break
                    end += 1
                changes = [s.item for s in steps[index:end]]
                result.by_hand += len(changes)
                self._changes(step.key[2], changes)
            elif step.kind == "tick":
                result.ticks += 1
                self.clock.set(step.item["recorded_at"])
                self.twin.tick(step.item["at"], carry_out=False)
            else:
                with self.twin.crm.db.begin() as conn:
                    mark = counters.current(conn, self.twin_id(conn), "event")
                    _insert_contacts(conn, self.twin, [self.created[step.key[2]]], mark)
            index = end

    def twin_id(self, conn: Connection) -> int:
        return self.twin.runtime(conn).tenant_id

    def _events(self, events: list[dict[str, Any]]) -> int:
        """Record one original batch again; return how many failed."""
        self.clock.set(events[0]["recorded_at"])
        summary = self.twin.ingest(
            (
                {
                    "id": e["id"],
                    "contact": e["contact_id"],
                    "kind": e["kind"],
                    "data": e["data"],
                    "at": e["occurred_at"],
                }
                for e in events
            ),
            batch_size=len(events),
        )
        return summary.failed

    def _changes(self, contact_id: int, changes: list[dict[str, Any]]) -> None:
        """Apply changes by hand as they were recorded: no policy, guard or hook runs
        (what hooks made of them then is among the recorded changes)."""
        field_types = self.history.field_types
        with self.twin.crm.db.begin() as conn:
            runtime = self.twin.runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            state = load_states(conn, scope, [contact_id])[contact_id]
            columns: set[str] = set()
            made: list[dict[str, Any]] = []
            for t in changes:
                if not _redo(state, t, field_types, self.accounts, columns):
                    continue
                state.version += 1
                made.append({**t, "tenant_id": runtime.tenant_id, "version": state.version})
            if columns:
                conn.execute(
                    scope.update(ContactRow)
                    .where(ContactRow.__table__.c.id == contact_id)
                    .values({c: column_value(state, c) for c in columns})
                )
            persist(conn, scope, [state], made)


def _batch(event: dict[str, Any]) -> tuple[Any, Any]:
    return (event["batch_seq"] or event["seq"], event["recorded_at"])


def _redo(
    state: ContactState,
    t: dict[str, Any],
    field_types: dict[str, str],
    accounts: dict[str, int],
    columns: set[str],
) -> bool:
    """Apply one recorded change to ``state``; False when it would change nothing."""
    target, name, old, new = t["target"], t["name"], t["old"], t["new"]
    if target == "facet":
        if new is None or state.facets.get(name) == new:
            return False
        state.set_facet(name, new)
    elif target == "tag":
        if new is not None:
            if new in state.tags:
                return False
            state.add_tag(new)
        else:
            if old not in state.tags:
                return False
            state.remove_tag(old)
    elif target == "score":
        score = float(new)
        if score == state.score:
            return False
        state.score = score
    else:
        value = decode(name, new, field_types)
        if get_value(state, name) == value:
            return False
        columns.add(put_value(state, name, value, accounts))
    return True


def _insert_contacts(
    conn: Connection, twin: Tenant, contacts: list[ContactHistory], mark: int
) -> None:
    """Insert contacts as they start: missing facets take their default."""
    if not contacts:
        return
    runtime = twin.runtime(conn)
    tenant_id = runtime.tenant_id
    rows: list[tuple[Any, ...]] = []
    facets: list[tuple[Any, ...]] = []
    tags: list[tuple[Any, ...]] = []
    for contact in contacts:
        state = contact.state
        for name, facet in runtime.facets.items():
            state.facets.setdefault(name, facet.default)
        rows.append(
            (
                tenant_id,
                state.id,
                state.first_name,
                state.last_name,
                *(state.profile.get(name) for name in PROFILE_FIELDS),
                state.account_id,
                state.score,
                dict(state.fields),
                state.archived,
                state.ok_to_sms,
                contact.sms_note,
                state.version,
                contact.created_at,
                mark,
            )
        )
        facets.extend((tenant_id, state.id, f, v) for f, v in state.facets.items())
        tags.extend((tenant_id, state.id, tag) for tag in state.tags)
    writer = BulkWriter(conn)
    writer.insert(ContactRow, CONTACT_INSERT_COLUMNS, rows)
    writer.insert(ContactFacetRow, ("tenant_id", "contact_id", "facet", "value"), facets)
    writer.insert(ContactTagRow, ("tenant_id", "contact_id", "tag"), tags)
    # Keep the id counter ahead of the copied ids.
    behind = max(c.state.id for c in contacts) - counters.current(conn, tenant_id, "contact")
    if behind > 0:
        counters.allocate(conn, tenant_id, "contact", behind)
