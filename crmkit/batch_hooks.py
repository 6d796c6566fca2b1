"""``crmkit_on_changes`` inside an ingest batch: once per wave, as recording one by one
would have it.

A batch matches its events in waves (each contact's events in order, contacts side by
side) and writes everything once at its end. Recording one event at a time instead
calls the hook after each event, with that event's transitions, on a database that
holds everything up to that event. :class:`BatchHooks` gives a batch the same outcome
with one hook call per wave (not one per event):

- after each wave (``run_rules`` calls :meth:`after_wave`), the hook gets the
  transitions of every event of the wave that changed something;
- ``context.apply`` (or ``apply_each``) on contacts that had a transition with the
  cause of the one it names as ``like`` (the hook reacting to a contact's own change)
  applies the changes to the batch's state in memory, right there; the transitions
  those make go to the hook in one more call, as the write of them would. Each contact
  appears once in a wave, so its state then is exactly what one-by-one recording has
  (its earlier events applied, its later ones not yet);
- anything else (the hook's ``connection``, or a change to another contact, whose
  state in the batch may hold other events) raises :class:`NeedsOrder`: the batch is
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

    def after_wave(self, events: list[PendingEvent]) -> None:
        """Called by ``run_rules`` once a wave's rules have changed its contacts."""
        transitions = [t for event in events for t in event.changes]
        while transitions:
            transitions = self._call(transitions)

    def _call(self, transitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One hook call; returns the transitions the hook's own changes made."""
        made: list[dict[str, Any]] = []
        causes: dict[int, set[Cause]] = {}
        for t in transitions:
            causes.setdefault(t["contact_id"], set()).add(Cause.like(t["cause_type"], t))

        def apply(
            changes: Mapping[int, Sequence[Change]], cause: CauseType, like: dict[str, Any]
        ) -> list[dict[str, Any]]:
            found = self._apply_here(causes, changes, cause, like)
            made.extend(found)
            return found

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
        return made

    def _apply_here(
        self,
        causes: Mapping[int, set[Cause]],
        changes: Mapping[int, Sequence[Change]],
        cause_type: CauseType,
        like: dict[str, Any],
    ) -> list[dict[str, Any]]:
        # In memory only for contacts that had a transition of the cause the hook names:
        # the hook is reacting to that contact's own change.
        named = Cause.like(like["cause_type"], like)
        if any(named not in causes.get(contact_id, ()) for contact_id in changes):
            self.touched = True
            raise NeedsOrder("a crmkit_on_changes hook changed another contact")
        cause = Cause.like(cause_type, like)
        made: list[dict[str, Any]] = []
        for contact_id, contact_changes in changes.items():
            state = self.states[contact_id]
            for change in contact_changes:
                transition = self.applier.apply(state, change, cause)
                if transition is not None:
                    made.append(transition)
        return made


__all__ = ["BatchHooks", "NeedsOrder"]
