"""Applying changes inside a tenant's write: guards, permits, hooks, notices.

The pieces every writing service shares (:mod:`crmkit.contacts_service`,
:mod:`crmkit.recording`, :mod:`crmkit.editing`, :mod:`crmkit.ticking`, the importer):
a :class:`~crmkit.pipeline.ChangeApplier` that asks ``crmkit_guard_change``, the
``crmkit_on_changes`` call of one write with its :class:`~crmkit.changes.ChangeContext`,
the delivery of queued notices after the commit, and the permit checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pydantic
from sqlalchemy import Connection

from crmkit.changes import ChangeContext, Notice, missing_contacts
from crmkit.context import TenantContext
from crmkit.errors import NotFoundError, PolicyError, ValidationError
from crmkit.pipeline import (
    AfterChanges,
    Cause,
    ChangeApplier,
    ContactState,
    Permit,
    load_states,
    persist,
)
from crmkit.rules.actions import Change
from crmkit.runtime import TenantRuntime
from crmkit.schemas import TransitionOut
from crmkit.score_writes import write_score_moves
from crmkit.storage import counters
from crmkit.storage.lists import ROWS_PER_ROUND
from crmkit.storage.scope import TenantScope


def validation_error(exc: pydantic.ValidationError, what: str) -> ValidationError:
    """Turn pydantic's report into one line naming each bad field."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or what
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{field}: {message}")
    return ValidationError(f"invalid {what}: " + "; ".join(parts))


def transition_out(row: Mapping[str, Any]) -> TransitionOut:
    """A stored (or just written) transition row as the API returns it."""
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


def allocate_ids(conn: Connection, runtime: TenantRuntime, count: int, counter: str) -> int:
    """Reserve ``count`` ids from one of the tenant's counters; return the first."""
    return counters.allocate(conn, runtime.tenant_id, counter, count)


def load_state(
    ctx: TenantContext, conn: Connection, scope: TenantScope, contact_id: int
) -> ContactState:
    """One contact's state; :class:`NotFoundError` when the tenant has no such contact."""
    state = load_states(conn, scope, [contact_id]).get(contact_id)
    if state is None:
        raise NotFoundError(f"contact {contact_id} does not exist in tenant {ctx.name!r}")
    return state


def _guard(ctx: TenantContext, runtime: TenantRuntime) -> Callable[[int, Change, str], str | None]:
    hooks = ctx.hooks
    if not hooks.implemented("crmkit_guard_change"):
        return lambda contact_id, change, cause_type: None

    def guard(contact_id: int, change: Change, cause_type: str) -> str | None:
        return hooks.guard_change(
            tenant=runtime.name, contact_id=contact_id, change=change, cause_type=cause_type
        )

    return guard


def applier(
    ctx: TenantContext, runtime: TenantRuntime, now: datetime | None = None
) -> ChangeApplier:
    """A change applier for one write, asking the guard hooks."""
    return ChangeApplier(runtime, _guard(ctx, runtime), now or ctx.clock())


def change_context(
    ctx: TenantContext,
    conn: Connection,
    runtime: TenantRuntime,
    outbox: list[Notice],
    *,
    created: Sequence[int] = (),
    now: datetime | None = None,
) -> ChangeContext:
    """The context plugins get inside a transaction (see ``crmkit_on_changes``)."""
    scope = TenantScope(runtime.tenant_id)
    moment = now or ctx.clock()

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
            missing_contacts(states, part, ctx.name)
            one = applier(ctx, runtime, moment)
            for contact_id in part:
                for change in changes[contact_id]:
                    one.apply(states[contact_id], change, cause)
            persist(
                conn,
                scope,
                states.values(),
                one.transitions,
                after=after_changes(ctx, runtime, outbox, now=moment),
            )
            made.extend(one.transitions)
        return made

    def move_scores(
        moves: Mapping[int, float], cause_type: Any, like: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        if ctx.hooks.implemented("crmkit_guard_change"):
            return None  # each change must be put to the guards: the change path
        after = after_changes(ctx, runtime, outbox, now=moment)
        return write_score_moves(conn, runtime, moves, Cause.like(cause_type, like), moment, after)

    return ChangeContext(
        tenant=ctx.name,
        runtime=runtime,
        connection=conn,
        scope=scope,
        now=moment,
        settings=dict(runtime.settings),
        created=list(created),
        _apply=apply,
        outbox=outbox,
        _move_scores=move_scores,
    )


def after_changes(
    ctx: TenantContext,
    runtime: TenantRuntime,
    outbox: list[Notice],
    *,
    now: datetime | None = None,
) -> AfterChanges | None:
    """The ``crmkit_on_changes`` call for one write, or None when no plugin listens."""
    if not ctx.hooks.implemented("crmkit_on_changes"):
        return None

    def after(conn: Connection, transitions: list[dict[str, Any]], created: list[int]) -> None:
        context = change_context(ctx, conn, runtime, outbox, created=created, now=now)
        ctx.hooks.on_changes(tenant=ctx.name, transitions=transitions, context=context)

    return after


def deliver(ctx: TenantContext, outbox: list[Notice]) -> None:
    """Hand queued notices to ``crmkit_on_notice`` (after the commit); a quiet CRM
    (a replay's scratch copy) drops them."""
    if ctx.quiet:
        outbox.clear()
        return
    for notice in outbox:
        ctx.hooks.on_notice(
            tenant=ctx.name, contact_id=notice.contact_id, kind=notice.kind, data=notice.data
        )
    outbox.clear()


def permit_check(ctx: TenantContext) -> Permit | None:
    """The registered permit checks as one function, or None when there are none."""
    permits = ctx.permits
    if not permits:
        return None
    everything = permits.get("*", [])

    def check(state: ContactState, activity: str) -> str | None:
        checks = permits.get(activity, [])
        if not checks and not everything:
            return None
        view = state.view()
        for one in (*checks, *everything):
            reason = one(ctx.name, view)
            if reason:
                return f"contact {state.id}: {activity} refused: {reason}"
        return None

    return check


def permit(ctx: TenantContext, state: ContactState, activity: str) -> None:
    """Raise :class:`PolicyError` if a plugin refuses ``activity`` for the contact."""
    check = permit_check(ctx)
    reason = check(state, activity) if check else None
    if reason:
        raise PolicyError(reason)
