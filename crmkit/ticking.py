"""The tick: everything that depends on time rather than on an event.

``Tenant.tick(now)`` first lets plugins do their time work (``crmkit_on_tick``: score
decay and expiry, Top 10%...), then evaluates every ``trigger: tick`` rule of the tenant's
packs over its contacts (archived ones aside) as SQL, in rule order (priority, pack
position, file order). Each change has its transition with the rule as its cause. One
transaction. Then the upcoming actions that are due are carried out, each on its own
(see :mod:`crmkit.upcoming`): sending a message is not something to roll back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from crmkit.applying import after_changes, applier, change_context, deliver
from crmkit.changes import Notice
from crmkit.clock import as_utc
from crmkit.conditions.parser import parse_condition
from crmkit.conditions.sql import to_sql
from crmkit.context import TenantContext
from crmkit.errors import ActionError, CRMError, PolicyError
from crmkit.pipeline import Cause, load_states, persist
from crmkit.rules.actions import RuleContext
from crmkit.rules.compiler import CompiledRule, CompiledRuleset, fill_settings
from crmkit.runtime import TenantRuntime
from crmkit.storage import counters
from crmkit.storage.lists import ROWS_PER_ROUND
from crmkit.storage.models import ContactRow, TickRunRow
from crmkit.storage.scope import TenantScope
from crmkit.upcoming import DueSummary, run_due


class TickSummary(BaseModel):
    now: datetime
    changes: int = 0
    by_rule: dict[str, int] = Field(default_factory=dict)
    actions: DueSummary = Field(default_factory=DueSummary)

    def add(self, label: str, count: int) -> None:
        self.by_rule[label] = self.by_rule.get(label, 0) + count
        self.changes += count


def tick(ctx: TenantContext, now: datetime | None, *, carry_out: bool = True) -> TickSummary:
    """Run the tenant's time work at ``now`` (default: the clock); see
    :meth:`crmkit.tenant.Tenant.tick`. ``carry_out=False`` leaves due actions alone (a
    replay reads what they did from the events they recorded)."""
    now = as_utc(now) if now else ctx.clock()
    summary = TickSummary(now=now)
    outbox: list[Notice] = []
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        # The run takes its place in the tenant's event sequence, so a replay runs it
        # again between the same events.
        seq = counters.allocate(conn, runtime.tenant_id, "event")
        conn.execute(
            scope.insert(TickRunRow),
            scope.rows([{"seq": seq, "at": now, "recorded_at": ctx.clock()}]),
        )
        context = change_context(ctx, conn, runtime, outbox, now=now)
        ctx.hooks.on_tick(tenant=ctx.name, context=context)
        for label, count in context.tally.items():
            summary.add(label, count)
        ordered = sorted(
            (
                (rule.priority, position, rule.order, ruleset, rule)
                for position, ruleset in enumerate(runtime.rulesets)
                for rule in ruleset.tick_rules
            ),
            key=lambda item: item[:3],
        )
        tick_run = _TickRun(ctx, conn, runtime, scope, now, outbox)
        for _, _, _, ruleset, rule in ordered:
            tick_run.run(ruleset, rule, summary)
    deliver(ctx, outbox)
    if carry_out:
        summary.actions = run_due(ctx, now)
    return summary


class _TickRun:
    """One tick's transaction, in which each tick rule runs in turn."""

    def __init__(
        self,
        ctx: TenantContext,
        conn: Connection,
        runtime: TenantRuntime,
        scope: TenantScope,
        now: datetime,
        outbox: list[Notice],
    ) -> None:
        self.ctx, self.conn, self.runtime, self.scope = ctx, conn, runtime, scope
        self.now, self.outbox = now, outbox

    def _matching(self, label: str, rule: CompiledRule) -> list[int]:
        """The active contacts the rule's condition holds for, by id."""
        runtime = self.runtime
        try:
            text = fill_settings(rule.when, runtime.settings)
            node = parse_condition(text, runtime.search_schema())
        except CRMError as exc:
            raise PolicyError(f"tick rule {label}: {exc}") from None
        where = to_sql(node, self.scope, frozenset(runtime.facets), self.now)
        c = ContactRow.__table__.c
        stmt = self.scope.select(c.id).where(c.archived.is_(False), where).order_by(c.id)
        return list(self.conn.scalars(stmt))

    def run(self, ruleset: CompiledRuleset, rule: CompiledRule, summary: TickSummary) -> None:
        label = f"{ruleset.pack}@{ruleset.version}:{rule.name}"
        ids = self._matching(label, rule)
        cause = Cause("rule", ruleset.pack, ruleset.version, rule.name)
        event: dict[str, Any] = {"id": None, "kind": "tick", "data": {}, "occurred_at": self.now}
        reads = any(a.spec.reads_contact for a in rule.actions)
        for start in range(0, len(ids), ROWS_PER_ROUND):
            states = load_states(self.conn, self.scope, ids[start : start + ROWS_PER_ROUND])
            one = applier(self.ctx, self.runtime, self.now)
            for state in states.values():
                rule_context = RuleContext(
                    tenant=self.ctx.name,
                    contact=state.snapshot() if reads else {},
                    event=event,
                    settings=self.runtime.settings,
                )
                for action in rule.actions:
                    try:
                        changes = action.spec.run(action.args, rule_context)
                    except CRMError:
                        raise
                    except Exception as exc:
                        raise ActionError("tick", label, exc) from exc
                    for change in changes:
                        one.apply(state, change, cause)
            persist(
                self.conn,
                self.scope,
                states.values(),
                one.transitions,
                after=after_changes(self.ctx, self.runtime, self.outbox, now=self.now),
            )
            if one.transitions:
                summary.add(label, len(one.transitions))
