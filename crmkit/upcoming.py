"""Upcoming actions: plan steps, scheduled texts and emails, appointments, reminders.

An action is scheduled by hand (:func:`schedule`) or by a rule's ``schedule`` action,
listed by due time, and carried out by ``crmkit tick`` once due (:func:`run_due`): a
text or email is sent (through :mod:`crmkit.messaging`), any other action is marked
done, and each is recorded as an ``action_done`` (or ``action_failed``) event, so rules
can chain the next step of a plan.

A tick claims an action (``running``) for a lease of :data:`LEASE`. A process killed
while carrying it out leaves it ``running`` and its message ``sending``; the next
carry-out after the lease has run out fails such messages as interrupted and puts the
action back to ``pending``, up to :data:`MAX_ATTEMPTS` claims in all. After that the
action fails and records ``action_failed``, so rules chained on it still fire. A
message interrupted mid-send may have been delivered, so a retry can deliver twice.

With workers (``crmkit worker``, :mod:`crmkit.jobs`) an action is a job instead: one is
queued with the action when it is scheduled (in the same transaction), or by the tick
that finds it due, and :func:`carry_out_action` carries it out so that running it again
after its worker was killed finishes what is left and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection
from sqlalchemy import func as sa_func

from crmkit.clock import as_utc
from crmkit.contacts_service import get_contact
from crmkit.context import TenantContext
from crmkit.default_actions import ACTION_KINDS
from crmkit.errors import (
    CRMError,
    DeliveryError,
    DuplicateEventError,
    NotFoundError,
    PolicyError,
    ValidationError,
)
from crmkit.messaging import compose, resume, send, sendable
from crmkit.pipeline import Cause
from crmkit.recording import record_event
from crmkit.schemas import ActionOut, MessageOut
from crmkit.storage import counters, job_queue
from crmkit.storage.lists import ROWS_PER_ROUND
from crmkit.storage.models import ContactRow, MessageRow, ScheduledActionRow
from crmkit.storage.scope import TenantScope

_A = ScheduledActionRow.__table__.c
_M = MessageRow.__table__.c
# Longer than an SMTP send may take (its deadline is 30 s by default, at most 10
# minutes), so a live tick's claim is not taken from it. Plugin transports have no
# deadline crmkit can enforce: one that blocks longer than this may send twice.
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 3
INTERRUPTED = "interrupted: the sending process stopped before the transport answered"


class DueSummary(BaseModel):
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = Field(default_factory=list)


def action_out(row: Any) -> ActionOut:
    values = dict(row)
    cause = Cause(
        "rule" if values["rule"] else "manual",
        values["pack"],
        None,
        values["rule"],
        values["actor"],
    )
    values["cause"] = f"{values['pack']}:{values['rule']}" if values["rule"] else cause.describe()
    return ActionOut.model_validate(values)


def schedule(
    ctx: TenantContext,
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
    """Put an upcoming action on a contact. A text or email is rendered once now, so a
    template error or a contact who cannot receive it is refused before anything is
    stored (it is rendered again, with the data of the day, when it is sent)."""
    if kind not in ACTION_KINDS:
        raise ValidationError(f"unknown action kind {kind!r} (one of {', '.join(ACTION_KINDS)})")
    title = (title or "").strip()
    if not title or len(title) > 300:
        raise ValidationError("an action needs a title of 1 to 300 characters")
    if not isinstance(due_at, datetime):
        raise ValidationError(f"due time {due_at!r} is not a date and time")
    due = as_utc(due_at)
    contact = get_contact(ctx, contact_id)
    if kind in ("text", "email"):
        sendable(contact, "sms" if kind == "text" else "email")
        compose(
            ctx,
            contact,
            "sms" if kind == "text" else "email",
            body=body,
            template=template,
            subject=subject,
            extra={"action": {"title": title}},
        )
    elif template is not None or body is not None:
        raise ValidationError(f"a {kind} has no message: leave out template and body")
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        action_id = counters.allocate(conn, runtime.tenant_id, "action")
        conn.execute(
            scope.insert(ScheduledActionRow),
            scope.rows(
                [
                    {
                        "id": action_id,
                        "contact_id": contact_id,
                        "kind": kind,
                        "title": title,
                        "due_at": due,
                        "template": template,
                        "subject": subject,
                        "body": body,
                        "status": "pending",
                        "actor": actor,
                        "created_at": ctx.clock(),
                    }
                ]
            ),
        )
        enqueue_action(conn, runtime.tenant_id, action_id, due, ctx.clock())
    return get_action(ctx, action_id)


def action_key(action_id: int) -> str:
    """The key of an action's job: an action is queued once."""
    return f"action:{action_id}"


def enqueue_action(
    conn: Connection, tenant_id: int, action_id: int, due: datetime, now: datetime
) -> bool:
    """Queue the job that carries out an action, in the transaction of ``conn``."""
    return job_queue.enqueue(
        conn, tenant_id, "action", {"id": action_id}, key=action_key(action_id),
        run_at=due, now=now,
    )  # fmt: skip


def enqueue_due(ctx: TenantContext, now: datetime) -> int:
    """Queue a job for every pending action due at ``now`` that has none yet (those a
    rule scheduled); how many were queued. One transaction."""
    queued = 0
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        due = conn.execute(
            scope.select(_A.id, _A.due_at)
            .where(_A.status == "pending", _A.due_at <= now)
            .order_by(_A.due_at, _A.id)
        ).all()
        for action_id, due_at in due:
            queued += enqueue_action(conn, scope.tenant_id, action_id, due_at, ctx.clock())
    return queued


def get_action(ctx: TenantContext, action_id: int, conn: Connection | None = None) -> ActionOut:
    if conn is None:
        with ctx.db.connect() as own:
            return get_action(ctx, action_id, own)
    scope = TenantScope(ctx.runtime(conn).tenant_id)
    row = conn.execute(scope.select(ScheduledActionRow.__table__).where(_A.id == action_id))
    found = row.mappings().first()
    if found is None:
        raise NotFoundError(f"action {action_id} does not exist in tenant {ctx.name!r}")
    return action_out(found)


def actions(
    ctx: TenantContext, contact_id: int | None = None, *, include_closed: bool = False
) -> list[ActionOut]:
    """Upcoming (pending) actions by due time; ``include_closed`` adds done, failed and
    cancelled ones. Without ``contact_id``, every contact's."""
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        stmt = scope.select(ScheduledActionRow.__table__)
        if contact_id is not None:
            get_contact(ctx, contact_id)
            stmt = stmt.where(_A.contact_id == contact_id)
        if not include_closed:
            stmt = stmt.where(_A.status.in_(("pending", "running")))
        rows = conn.execute(stmt.order_by(_A.due_at, _A.id)).mappings().all()
    return [action_out(row) for row in rows]


def cancel(ctx: TenantContext, action_id: int, actor: str = "api") -> ActionOut:
    """Cancel a pending action."""
    with ctx.db.begin() as conn:
        current = get_action(ctx, action_id, conn)
        if current.status != "pending":
            raise PolicyError(f"action {action_id} is {current.status}, not pending")
        _close(conn, ctx, action_id, "cancelled", f"cancelled by {actor}", None, None)
    return get_action(ctx, action_id)


def _close(
    conn: Connection,
    ctx: TenantContext,
    action_id: int,
    status: str,
    result: str | None,
    message_id: int | None,
    at: datetime | None,
) -> None:
    scope = TenantScope(ctx.runtime(conn).tenant_id)
    conn.execute(
        scope.update(ScheduledActionRow)
        .where(_A.id == action_id)
        .values(status=status, result=result, message_id=message_id, done_at=at)
    )


def _claim(ctx: TenantContext, action_id: int) -> bool:
    """Mark a pending action running, with a fresh lease; False if another tick took it
    first."""
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        claimed = conn.execute(
            scope.update(ScheduledActionRow)
            .where(_A.id == action_id, _A.status == "pending")
            .values(status="running", claimed_at=ctx.clock(), attempts=_A.attempts + 1)
        )
        return bool(claimed.rowcount)


def recover(ctx: TenantContext, now: datetime, summary: DueSummary) -> None:
    """Take back what a killed process left behind (see the module docs). Leases are
    measured on the CRM's clock; ``now`` (the tick's time) dates what is closed."""
    expired = ctx.clock() - LEASE
    _fail_stale_messages(ctx, expired)
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        stale = (
            conn.execute(
                scope.select(_A.id, _A.contact_id, _A.kind, _A.title, _A.attempts, _A.claimed_at)
                .where(_A.status == "running")
                .where(_A.claimed_at.is_(None) | (_A.claimed_at <= expired))
                .order_by(_A.id)
            )
            .mappings()
            .all()
        )
    for row in stale:
        if row["attempts"] < MAX_ATTEMPTS:
            _release(ctx, row)
        else:
            _give_up(ctx, row, now, summary)


def _fail_stale_messages(ctx: TenantContext, expired: datetime) -> None:
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        conn.execute(
            scope.update(MessageRow)
            .where(_M.status == "sending", _M.direction == "out", _M.at <= expired)
            .values(status="failed", error=INTERRUPTED)
        )


def _unchanged(row: Any) -> Any:
    """The claim ``row`` was read under: a second tick recovering too changes nothing."""
    claimed = row["claimed_at"]
    same_claim = _A.claimed_at.is_(None) if claimed is None else _A.claimed_at == claimed
    return (_A.id == row["id"]) & (_A.status == "running") & same_claim


def _release(ctx: TenantContext, row: Any) -> None:
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        conn.execute(
            scope.update(ScheduledActionRow)
            .where(_unchanged(row))
            .values(status="pending", claimed_at=None)
        )


def _give_up(ctx: TenantContext, row: Any, now: datetime, summary: DueSummary) -> None:
    error = f"interrupted {row['attempts']} times (its process stopped mid-run); not retried"
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        message_id = conn.scalar(scope.select(sa_func.max(_M.id)).where(_M.action_id == row["id"]))
        closed = conn.execute(
            scope.update(ScheduledActionRow)
            .where(_unchanged(row))
            .values(status="failed", result=error, message_id=message_id, done_at=now)
        )
    if closed.rowcount:  # else another tick gave up on it first and recorded the event
        _record(ctx, row, message_id, error, now, summary)


def run_due(ctx: TenantContext, now: datetime) -> DueSummary:
    """Carry out every pending action due at ``now``, oldest first, after taking back
    the ones a killed process left running."""
    summary = DueSummary()
    recover(ctx, now, summary)
    c = ContactRow.__table__.c
    while True:
        with ctx.db.connect() as conn:
            scope = TenantScope(ctx.runtime(conn).tenant_id)
            due = (
                conn.execute(
                    scope.select(ScheduledActionRow.__table__, c.archived)
                    .join(
                        ContactRow.__table__,
                        (c.tenant_id == _A.tenant_id) & (c.id == _A.contact_id),
                    )
                    .where(_A.status == "pending", _A.due_at <= now)
                    .order_by(_A.due_at, _A.id)
                    .limit(ROWS_PER_ROUND)
                )
                .mappings()
                .all()
            )
        if not due:
            return summary
        for row in due:
            if _claim(ctx, row["id"]):
                _carry_out(ctx, row, now, summary)


def _send_action_message(ctx: TenantContext, action: ActionOut) -> MessageOut:
    """Send a text or email action's message (recorded with the action, not alone)."""
    return send(
        ctx,
        action.contact_id,
        "sms" if action.kind == "text" else "email",
        body=action.body,
        template=action.template,
        subject=action.subject,
        actor=f"action {action.id}",
        action_id=action.id,
        extra={"action": {"title": action.title, "due_at": action.due_at.isoformat()}},
        record=False,
    )


def _carry_out(ctx: TenantContext, row: Any, now: datetime, summary: DueSummary) -> None:
    action = action_out({k: v for k, v in row.items() if k != "archived"})
    if row["archived"]:
        with ctx.db.begin() as conn:
            _close(conn, ctx, action.id, "cancelled", "the contact is archived", None, now)
        summary.cancelled += 1
        return
    message_id: int | None = None
    error: str | None = None
    if action.kind in ("text", "email"):
        try:
            message = _send_action_message(ctx, action)
            message_id = message.id
        except CRMError as exc:
            error = str(exc)
            message_id = getattr(exc, "message_id", None)
    with ctx.db.begin() as conn:
        _close(conn, ctx, action.id, "failed" if error else "done", error, message_id, now)
    _record(ctx, action.model_dump(), message_id, error, now, summary)


def _record(
    ctx: TenantContext,
    action: Mapping[str, Any],
    message_id: int | None,
    error: str | None,
    now: datetime,
    summary: DueSummary,
) -> None:
    """Count a closed action and record its ``action_done`` / ``action_failed`` event."""
    data: dict[str, Any] = {
        "action": action["id"],
        "type": action["kind"],
        "title": action["title"],
    }
    if message_id is not None:
        data["message"] = message_id
    if error:
        data["error"] = error
        summary.failed += 1
        summary.errors.append(f"action {action['id']} (contact {action['contact_id']}): {error}")
    else:
        summary.done += 1
    kind = "action_failed" if error else "action_done"
    try:
        record_event(ctx, action["contact_id"], kind, data, id=f"action-{action['id']}", at=now)
    except DuplicateEventError:
        pass  # an earlier run of its job recorded it, then was stopped
    except CRMError as exc:
        summary.errors.append(f"action {action['id']}: its {kind} event failed: {exc}")


def carry_out_action(ctx: TenantContext, action_id: int, now: datetime) -> DueSummary:
    """Carry out one action, as its job does: idempotent, so a run after a killed one
    finishes what is left and repeats nothing.

    A finished (or not yet due) action is left alone. A text or email already sent is
    not sent again; one left ``sending`` by a killed run is handed to the transport again
    under the same message id (the transport's idempotency key; crmkit's SMS outbox
    queues a text in the same transaction that marks it sent, so it never holds one
    twice). The ``action_done`` / ``action_failed`` event is recorded before the action
    is closed: its id is the action's, so recording it again changes nothing.
    """
    summary = DueSummary()
    c = ContactRow.__table__.c
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        row = (
            conn.execute(
                scope.select(ScheduledActionRow.__table__, c.archived)
                .join(
                    ContactRow.__table__,
                    (c.tenant_id == _A.tenant_id) & (c.id == _A.contact_id),
                )
                .where(_A.id == action_id)
            )
            .mappings()
            .first()
        )
        if row is None or row["status"] not in ("pending", "running") or row["due_at"] > now:
            return summary
        conn.execute(
            scope.update(ScheduledActionRow)
            .where(_A.id == action_id)
            .values(status="running", claimed_at=ctx.clock(), attempts=_A.attempts + 1)
        )
    action = action_out({k: v for k, v in row.items() if k != "archived"})
    if row["archived"]:
        with ctx.db.begin() as conn:
            _close(conn, ctx, action.id, "cancelled", "the contact is archived", None, now)
        summary.cancelled += 1
        return summary
    message_id: int | None = None
    error: str | None = None
    if action.kind in ("text", "email"):
        message_id, error = _send_once(ctx, action)
    _record(ctx, action.model_dump(), message_id, error, now, summary)
    with ctx.db.begin() as conn:
        _close(conn, ctx, action.id, "failed" if error else "done", error, message_id, now)
    return summary


def _send_once(ctx: TenantContext, action: ActionOut) -> tuple[int | None, str | None]:
    """The action's message (id, error): sent now, or what an earlier run sent."""
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        earlier = (
            conn.execute(
                scope.select(_M.id, _M.status, _M.error)
                .where(_M.action_id == action.id, _M.direction == "out")
                .order_by(_M.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    try:
        if earlier is not None and earlier["status"] == "sent":
            return int(earlier["id"]), None
        if earlier is not None and earlier["status"] == "sending":
            return resume(ctx, int(earlier["id"])).id, None
        if earlier is not None:  # failed: the transport answered with an error
            return int(earlier["id"]), str(earlier["error"])
        message = _send_action_message(ctx, action)
        return message.id, None
    except DeliveryError as exc:
        return exc.message_id, str(exc)
    except CRMError as exc:
        return getattr(exc, "message_id", None), str(exc)
