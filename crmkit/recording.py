"""Recording events: one at a time (the API and CLI) or in batches (ingest).

A batch is written in one transaction. If any event of a batch fails, the batch is
rolled back and replayed one event at a time, so each failure is stored and reported
on its own event while the others still apply.
"""

from __future__ import annotations

import gc
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pydantic
from sqlalchemy.exc import DBAPIError, IntegrityError

from crmkit.applying import (
    after_changes,
    allocate_ids,
    applier,
    deliver,
    permit,
    permit_check,
    transition_out,
    validation_error,
)
from crmkit.batch_hooks import BatchHooks, NeedsOrder
from crmkit.changes import Notice
from crmkit.context import TenantContext
from crmkit.errors import (
    ActionError,
    BusyError,
    CRMError,
    DuplicateEventError,
    NotFoundError,
    PolicyError,
)
from crmkit.event_input import PlainEvent, plain_event
from crmkit.pipeline import (
    ContactState,
    PendingEvent,
    current_versions,
    existing_event_ids,
    load_states,
    persist,
    require_contact,
    run_rules,
)
from crmkit.schemas import EventIn, EventOut, IngestSummary
from crmkit.storage import counters
from crmkit.storage.scope import TenantScope
from crmkit.storage.statistics import INGEST_TABLES, GrowthStatistics
from crmkit.storage.writers import is_retryable, retrying

MAX_REPORTED_ERRORS = 100
# Contact states an ingest carries from one batch to the next, at most (about 4.7 KB of
# memory each): a hot contact's next event finds its state, and memory stays flat
# however many contacts an ingest touches.
CARRIED_STATES = 20_000


@dataclass
class _Tally:
    """Counts kept while ingesting (a pydantic model is slow to update per item)."""

    total: int = 0
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    changes: int = 0
    errors: list[str] = field(default_factory=list)


def _event_row(
    event: PendingEvent,
    seq: int,
    now: Any,
    status: str,
    error: str | None,
    batch_seq: int | None = None,
) -> tuple[Any, ...]:
    """An events row in ``EVENT_COLUMNS`` order, without the tenant id.

    ``batch_seq`` is the seq of the first event of the same write (default: this one).
    """
    return (
        event.id,
        seq,
        event.contact_id,
        event.kind,
        event.data,
        event.occurred_at,
        now,
        status,
        error,
        seq if batch_seq is None else batch_seq,
    )


def _pending(
    ctx: TenantContext, event: EventIn | PlainEvent, received: datetime | None = None
) -> PendingEvent:
    """``received`` is the time given to events without one (default: now)."""
    return PendingEvent(
        id=event.id or uuid.uuid4().hex,
        contact_id=event.contact,
        kind=event.kind,
        data=event.data,
        occurred_at=event.at or received or ctx.clock(),
    )


def _event_out(event: PendingEvent, status: str, error: str | None = None) -> EventOut:
    return EventOut(
        id=event.id,
        contact_id=event.contact_id,
        kind=event.kind,
        data=event.data,
        occurred_at=event.occurred_at,
        status=status,  # type: ignore[arg-type]
        error=error,
        changes=[transition_out(t) for t in event.changes],
    )


def _store_failed(ctx: TenantContext, event: PendingEvent, error: str) -> None:
    def attempt() -> None:
        with ctx.db.begin() as conn:
            runtime = ctx.write_runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            seq = allocate_ids(conn, runtime, 1, "event")
            row = _event_row(event, seq, ctx.clock(), "failed", error)
            persist(conn, scope, [], [], [row])

    retrying(attempt)


def record(ctx: TenantContext, event_in: EventIn) -> EventOut:
    """Record one validated event; see :meth:`crmkit.tenant.Tenant.record_event`."""
    event = _pending(ctx, event_in)
    failure: CRMError | None = None
    outbox: list[Notice] = []

    def attempt() -> None:
        nonlocal failure
        # A retried attempt starts again from what is stored.
        event.changes.clear()
        outbox.clear()
        with ctx.db.begin() as conn:
            runtime = ctx.write_runtime(conn)
            scope = TenantScope(runtime.tenant_id)
            if existing_event_ids(conn, scope, [event.id]):
                raise DuplicateEventError(event.id)
            states = load_states(conn, scope, [event.contact_id])
            require_contact(states, event.contact_id, ctx.name)
            one = applier(ctx, runtime)
            permit(ctx, states[event.contact_id], event.kind)
            try:
                run_rules(runtime, ctx.rules_engine, one, [event], states)
            except (ActionError, PolicyError) as exc:
                failure = exc
                raise
            seq = allocate_ids(conn, runtime, 1, "event")
            persist(
                conn,
                scope,
                states.values(),
                one.transitions,
                [_event_row(event, seq, one.now, "applied", None)],
                after=after_changes(ctx, runtime, outbox),
            )

    try:
        retrying(attempt)
    except IntegrityError:
        # Another writer stored the same id between our check and our insert.
        raise DuplicateEventError(event.id) from None
    except (ActionError, PolicyError) as exc:
        if failure is not exc:
            raise
        event.changes.clear()
        _store_failed(ctx, event, str(exc))
        ctx.hooks.on_event_failed(
            tenant=ctx.name,
            event=_event_out(event, "failed", str(exc)).model_dump(mode="json"),
            error=str(exc),
        )
        raise
    out = _event_out(event, "applied")
    ctx.hooks.on_event_recorded(
        tenant=ctx.name,
        event=out.model_dump(mode="json", exclude={"changes"}),
        changes=[c.model_dump(mode="json") for c in out.changes],
    )
    deliver(ctx, outbox)
    return out


@dataclass
class _Carry:
    """Contact states carried from one batch to the next, with the tenant's ``state``
    counter as it was after this ingest last wrote (None: unknown), and the planner
    statistics of the tables the ingest grows (analysed as they double, on PostgreSQL:
    see :mod:`crmkit.storage.statistics`)."""

    states: dict[int, ContactState] = field(default_factory=dict)
    stamp: int | None = None
    statistics: GrowthStatistics = field(default_factory=lambda: GrowthStatistics(INGEST_TABLES))

    def drop(self) -> None:
        self.states.clear()
        self.stamp = None

    def bound(self, used: Iterable[int]) -> None:
        """Keep at most :data:`CARRIED_STATES` states, the most recently ``used`` last:
        the least recently used go first (a dict keeps insertion order)."""
        cache = self.states
        for cid in used:
            if cid in cache:
                cache[cid] = cache.pop(cid)
        excess = len(cache) - CARRIED_STATES
        if excess > 0:
            for cid in list(itertools.islice(cache, excess)):
                del cache[cid]


def _states_for_batch(
    conn: Any, scope: TenantScope, wanted: set[int], carry: _Carry
) -> dict[int, ContactState]:
    """Contact states for a batch, reusing the states the previous batch wrote.

    If the tenant's ``state`` counter still has the value this ingest left, nobody else
    wrote contact state and every carried state is current. Otherwise carried states are
    reused only where the contact's stored version still equals the carried one, and
    the carried states this batch does not need are dropped: the stamp taken below
    vouches for every state left in the cache, so none may stay unchecked (a contact
    changed by a ``crmkit_on_changes`` hook, skipped by one batch and needed by a later
    one, was written from its stale state).
    """
    cache = carry.states
    stamp = counters.current(conn, scope.tenant_id, "state")
    cached = [cid for cid in wanted if cid in cache]
    stale = set(wanted) - set(cached)
    if cache and stamp != carry.stamp:
        if len(cache) > len(cached):
            carry.states = cache = {cid: cache[cid] for cid in cached}
        versions = current_versions(conn, scope, cached) if cached else {}
        stale.update(cid for cid in cached if versions.get(cid) != cache[cid].version)
    if stale:
        for cid in stale:
            cache.pop(cid, None)
        cache.update(load_states(conn, scope, stale))
    carry.stamp = stamp
    found = {cid: cache[cid] for cid in wanted if cid in cache}
    carry.bound(found)
    return found


def _unrecorded(
    conn: Any, scope: TenantScope, batch: list[PendingEvent], summary: _Tally
) -> list[PendingEvent]:
    """The batch without events recorded before or repeated in it (counted skipped)."""
    duplicates = existing_event_ids(conn, scope, [e.id for e in batch])
    fresh: list[PendingEvent] = []
    seen: set[str] = set()
    for event in batch:
        if event.id in duplicates or event.id in seen:
            summary.skipped += 1
        else:
            seen.add(event.id)
            fresh.append(event)
    return fresh


def _of_known_contacts(
    events: list[PendingEvent], states: Mapping[int, ContactState], summary: _Tally
) -> list[PendingEvent]:
    """The events whose contact exists (the others are counted failed)."""
    for event in events:
        if event.contact_id not in states:
            summary.failed += 1
            _note(summary, f"event {event.id!r}: contact {event.contact_id} does not exist")
    return [e for e in events if e.contact_id in states]


def _apply_batch(
    ctx: TenantContext,
    batch: list[PendingEvent],
    summary: _Tally,
    carry: _Carry,
    outbox: list[Notice],
) -> list[PendingEvent]:
    """Apply a batch in one transaction; return the events that were applied.

    Raises (and rolls back) when any event's rules fail, or when a ``crmkit_on_changes``
    hook needs the database mid-batch (:class:`~crmkit.batch_hooks.NeedsOrder`); the
    caller then drops ``carry`` and records the batch one event at a time.
    """
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        fresh = _unrecorded(conn, scope, batch, summary)
        states = _states_for_batch(conn, scope, {e.contact_id for e in fresh}, carry)
        fresh = _of_known_contacts(fresh, states, summary)
        one = applier(ctx, runtime)
        # crmkit_on_changes gets each event's transitions as it would one by one.
        hooks = (
            BatchHooks(ctx, runtime, scope, one, states, outbox)
            if ctx.hooks.implemented("crmkit_on_changes")
            else None
        )
        refused = run_rules(
            runtime,
            ctx.rules_engine,
            one,
            fresh,
            states,
            permit_check(ctx),
            hooks.after_wave if hooks is not None else None,
        )
        if refused:
            summary.failed += len(refused)
            for event, reason in refused:
                _note(summary, f"event {event.id!r}: {reason}")
            dropped = {id(event) for event, _ in refused}
            fresh = [e for e in fresh if id(e) not in dropped]
        first = allocate_ids(conn, runtime, len(fresh), "event") if fresh else 0
        rows = [
            _event_row(e, first + i, one.now, "applied", None, first) for i, e in enumerate(fresh)
        ]
        before = carry.stamp
        stamp = persist(
            conn,
            scope,
            states.values(),
            one.transitions,
            rows,
        )
        carry.statistics.wrote(conn, len(rows))
        if stamp is not None:
            # Another writer got in between if the counter moved by more than our write.
            carry.stamp = stamp if before is not None and stamp == before + 1 else None
    return fresh


def _note(summary: _Tally, message: str) -> None:
    if len(summary.errors) < MAX_REPORTED_ERRORS:
        summary.errors.append(message)


def _notify(ctx: TenantContext, events: list[PendingEvent]) -> None:
    if ctx.quiet or not ctx.hooks.implemented("crmkit_on_event_recorded"):
        return
    for event in events:
        out = _event_out(event, "applied")
        ctx.hooks.on_event_recorded(
            tenant=ctx.name,
            event=out.model_dump(mode="json", exclude={"changes"}),
            changes=[c.model_dump(mode="json") for c in out.changes],
        )


@contextmanager
def young_gc_only() -> Iterator[None]:
    """Run CPython's cyclic GC on young objects only, once per batch, while ingesting.

    A batch allocates tens of thousands of short-lived containers, which makes the
    automatic collector run its full collections over and over, each one walking every
    long-lived object in the process (measured: a quarter of the ingest time). Memory is
    still freed by reference counting as usual; cycles among new objects are collected
    after each batch; the collector's state is restored at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest(
    ctx: TenantContext,
    events: Iterable[Mapping[str, Any] | BaseException],
    *,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Record many events, ``batch_size`` per transaction.

    Each item has ``contact``, ``kind`` and optionally ``id``, ``data`` and ``at``; an
    exception instance in the stream counts as a failed item with its message.
    Invalid items, unknown contacts and failing rules are counted as failed and
    reported in ``summary.errors``; duplicates are counted as skipped. Give every
    event an id to make re-running an ingest safe.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with young_gc_only():
        return _ingest(ctx, events, batch_size, progress)


def _ingest(
    ctx: TenantContext,
    events: Iterable[Mapping[str, Any] | BaseException],
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> IngestSummary:
    run = _Ingest(ctx, progress)
    received = ctx.clock()
    for number, item in enumerate(events, start=1):
        run.summary.total += 1
        if isinstance(item, BaseException):
            # Readers put the error of an unreadable item (a bad JSON line) in the stream.
            run.refuse(str(item))
            continue
        if not run.batch:
            # Events without a time get the time their batch was received.
            received = ctx.clock()
        checked = _checked_item(number, item)
        if isinstance(checked, str):
            run.refuse(checked)
            continue
        run.batch.append(_pending(ctx, checked, received))
        if len(run.batch) >= batch_size:
            run.flush()
    run.flush()
    return IngestSummary(**asdict(run.summary))


def _checked_item(number: int, item: Any) -> EventIn | PlainEvent | str:
    """The item as an event, or why it is none."""
    checked: EventIn | PlainEvent | None = plain_event(item) if type(item) is dict else None
    if checked is not None:
        return checked
    try:
        if not isinstance(item, Mapping):
            raise TypeError("not an object")
        return EventIn.model_validate(dict(item))
    except (pydantic.ValidationError, TypeError) as exc:
        reason = (
            validation_error(exc, "event") if isinstance(exc, pydantic.ValidationError) else exc
        )
        return f"item {number}: {reason}"


class _Ingest:
    """One ingest's batches: each applied in one transaction, or one event at a time
    when that fails."""

    def __init__(self, ctx: TenantContext, progress: Callable[[int], None] | None) -> None:
        self.ctx = ctx
        self.progress = progress
        self.summary = _Tally()
        self.batch: list[PendingEvent] = []
        # Contact states carried from one batch to the next (checked by version).
        self.carry = _Carry()
        self.outbox: list[Notice] = []

    def refuse(self, reason: str) -> None:
        """Count an item that is no event as failed."""
        self.summary.failed += 1
        _note(self.summary, reason)
        if self.progress is not None:
            self.progress(1)

    def flush(self) -> None:
        batch, summary = self.batch, self.summary
        if not batch:
            return
        size = len(batch)
        before = (summary.skipped, summary.failed, len(summary.errors))

        def forget() -> None:
            """Undo what a rolled-back attempt at the batch left in memory."""
            self.carry.drop()  # the batch changed states in memory only
            self.outbox.clear()  # and its notices were never committed
            summary.skipped, summary.failed = before[0], before[1]
            del summary.errors[before[2] :]
            for event in batch:
                event.changes.clear()

        def attempt() -> list[PendingEvent]:
            try:
                return _apply_batch(self.ctx, batch, summary, self.carry, self.outbox)
            except (DBAPIError, BusyError) as exc:
                if is_retryable(exc):
                    forget()
                raise

        try:
            applied = retrying(attempt)
        except (ActionError, PolicyError, NeedsOrder):
            # A failing rule is stored on its own event; a hook that needs the database
            # sees it as one-by-one recording leaves it: both take the ordered path.
            forget()
            self._one_by_one()
        else:
            summary.applied += len(applied)
            summary.changes += sum(len(e.changes) for e in applied)
            _notify(self.ctx, applied)
            deliver(self.ctx, self.outbox)
        batch.clear()
        gc.collect(1)
        if self.progress is not None:
            self.progress(size)

    def _one_by_one(self) -> None:
        summary = self.summary
        for event in self.batch:
            try:
                out = record(
                    self.ctx,
                    EventIn(
                        contact=event.contact_id,
                        kind=event.kind,
                        data=event.data,
                        id=event.id,
                        at=event.occurred_at,
                    ),
                )
            except DuplicateEventError:
                summary.skipped += 1
            except (ActionError, PolicyError, NotFoundError) as exc:
                summary.failed += 1
                _note(summary, str(exc))
            else:
                summary.applied += 1
                summary.changes += len(out.changes)


def record_event(
    ctx: TenantContext,
    contact: int,
    kind: str,
    data: Mapping[str, Any] | None,
    *,
    id: str | None = None,
    at: Any = None,
) -> EventOut:
    """Check one event and record it; see :meth:`crmkit.tenant.Tenant.record_event`."""
    payload: dict[str, Any] = {"contact": contact, "kind": kind, "data": dict(data or {})}
    if id is not None:
        payload["id"] = id
    if at is not None:
        payload["at"] = at
    try:
        event = EventIn.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise validation_error(exc, "event") from None
    return record(ctx, event)
