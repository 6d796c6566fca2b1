"""``crmkit_on_changes`` inside an ingest batch, called as recording one by one would.

A batch matches its events in waves (each contact's events in order, contacts side by
side) and writes everything once at its end. Recording one event at a time instead
calls the hook after each event, with that event's transitions, on a database that
holds everything up to that event. :class:`BatchHooks` gives a batch the same calls:

- after each event that changed something (``run_rules`` calls :meth:`after_event`),
  the hook gets that event's transitions;
- ``context.apply`` on the event's own contact applies the changes to the batch's state
  in memory, right there, and passes their transitions to the hook in turn, as the
  write of them would: that contact's state then is exactly what one-by-one recording
  has (its earlier events applied, its later ones not yet);
- anything else (the hook's ``connection``, or changes to other contacts, whose state
  in the batch may already hold later events) raises :class:`NeedsOrder`: the batch is
  rolled back and recorded one event at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from crmkit.changes import ChangeContext, Notice
from crmkit.pipeline import Cause, ChangeApplier, ContactState, PendingEvent

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from crmkit.context import TenantContext
    from crmkit.facets import CauseType
    from crmkit.rules.actions import Change
    from crmkit.runtime import TenantRuntime
    from crmkit.storage.scope import TenantScope


class NeedsOrder(BaseException):
    """A hook wanted the database, or another contact, in the middle of a batch.

    A BaseException, so that a hook's ``except Exception`` cannot swallow it.
    """


class _Untouchable:
    """The connection a batch's hooks get: any use of it asks for the ordered path."""

    def __init__(self, hooks: BatchHooks) -> None:
        self._hooks = hooks

    def __getattr__(self, name: str) -> Any:
        self._hooks.touched = True
        raise NeedsOrder(f"a crmkit_on_changes hook used its connection ({name})")


class BatchHooks:
    """The ``crmkit_on_changes`` calls of one batch (see the module docstring)."""

    def __init__(
        self,
        ctx: TenantContext,
        runtime: TenantRuntime,
        scope: TenantScope,
        applier: ChangeApplier,
        states: Mapping[int, ContactState],
        outbox: list[Notice],
    ) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.scope = scope
        self.applier = applier
        self.states = states
        self.outbox = outbox
        self.touched = False

    def after_event(self, event: PendingEvent) -> None:
        """Called by ``run_rules`` once an event's rules have changed its contact."""
        if event.changes:
            self._call(event.contact_id, list(event.changes))

    def _call(self, contact_id: int, transitions: list[dict[str, Any]]) -> None:
        def apply(
            changes: Mapping[int, Sequence[Change]], cause: CauseType, like: dict[str, Any]
        ) -> list[dict[str, Any]]:
            return self._apply_here(contact_id, changes, cause, like)

        context = ChangeContext(
            tenant=self.ctx.name,
            runtime=self.runtime,
            connection=cast("Connection", _Untouchable(self)),
            scope=self.scope,
            now=self.applier.now,
            settings=dict(self.runtime.settings),
            created=[],
            _apply=apply,
            outbox=self.outbox,
        )
        self.ctx.hooks.on_changes(tenant=self.ctx.name, transitions=transitions, context=context)
        if self.touched:  # the hook caught what it was told
            raise NeedsOrder("a crmkit_on_changes hook used the database")

    def _apply_here(
        self,
        contact_id: int,
        changes: Mapping[int, Sequence[Change]],
        cause_type: CauseType,
        like: dict[str, Any],
    ) -> list[dict[str, Any]]:
        if set(changes) != {contact_id}:
            self.touched = True
            raise NeedsOrder("a crmkit_on_changes hook changed another contact")
        state = self.states[contact_id]
        cause = Cause.like(cause_type, like)
        made: list[dict[str, Any]] = []
        for change in changes[contact_id]:
            transition = self.applier.apply(state, change, cause)
            if transition is not None:
                made.append(transition)
        if made:
            # As a write of these changes would: the hooks see them in turn.
            self._call(contact_id, list(made))
        return made


__all__ = ["BatchHooks", "NeedsOrder"]
