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
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from crmkit.changes import Notice
from crmkit.conditions.parser import parse_condition
from crmkit.conditions.sql import to_sql
from crmkit.errors import ActionError, CRMError, PolicyError
from crmkit.pipeline import Cause, load_states, persist
from crmkit.rules.actions import RuleContext
from crmkit.rules.compiler import fill_settings
from crmkit.storage import counters
from crmkit.storage.lists import ROWS_PER_ROUND
from crmkit.storage.models import ContactRow, TickRunRow
from crmkit.storage.scope import TenantScope
from crmkit.upcoming import DueSummary, run_due

if TYPE_CHECKING:
    from crmkit.tenant import Tenant


class TickSummary(BaseModel):
    now: datetime
    changes: int = 0
    by_rule: dict[str, int] = Field(default_factory=dict)
    actions: DueSummary = Field(default_factory=DueSummary)


def tick(tenant: Tenant, now: datetime, *, carry_out: bool = True) -> TickSummary:
    """``carry_out=False`` leaves due actions alone (a replay reads what they did from
    the events they recorded)."""
    crm = tenant.crm
    summary = TickSummary(now=now)
    outbox: list[Notice] = []
    with crm.db.begin() as conn:
        runtime = tenant.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        # The run takes its place in the tenant's event sequence, so a replay runs it
        # again between the same events.
        seq = counters.allocate(conn, runtime.tenant_id, "event")
        conn.execute(
            scope.insert(TickRunRow),
            scope.rows([{"seq": seq, "at": now, "recorded_at": crm.clock()}]),
        )
        context = tenant.change_context(conn, runtime, outbox, now=now)
        crm.pm.hook.crmkit_on_tick(tenant=tenant.name, context=context)
        for label, count in context.tally.items():
            summary.by_rule[label] = summary.by_rule.get(label, 0) + count
            summary.changes += count
        ordered = sorted(
            (
                (rule.priority, position, rule.order, ruleset, rule)
                for position, ruleset in enumerate(runtime.rulesets)
                for rule in ruleset.tick_rules
            ),
            key=lambda item: item[:3],
        )
        c = ContactRow.__table__.c
        for _, _, _, ruleset, rule in ordered:
            label = f"{ruleset.pack}@{ruleset.version}:{rule.name}"
            try:
                text = fill_settings(rule.when, runtime.settings)
                node = parse_condition(text, runtime.search_schema())
            except CRMError as exc:
                raise PolicyError(f"tick rule {label}: {exc}") from None
            where = to_sql(node, scope, frozenset(runtime.facets), now)
            ids = list(
                conn.scalars(scope.select(c.id).where(c.archived.is_(False), where).order_by(c.id))
            )
            cause = Cause("rule", ruleset.pack, ruleset.version, rule.name)
            event: dict[str, Any] = {"id": None, "kind": "tick", "data": {}, "occurred_at": now}
            for start in range(0, len(ids), ROWS_PER_ROUND):
                states = load_states(conn, scope, ids[start : start + ROWS_PER_ROUND])
                applier = tenant.applier(runtime, now)
                for state in states.values():
                    reads = any(a.spec.reads_contact for a in rule.actions)
                    rule_context = RuleContext(
                        tenant=tenant.name,
                        contact=state.snapshot() if reads else {},
                        event=event,
                        settings=runtime.settings,
                    )
                    for action in rule.actions:
                        try:
                            changes = action.spec.run(action.args, rule_context)
                        except CRMError:
                            raise
                        except Exception as exc:
                            raise ActionError("tick", label, exc) from exc
                        for change in changes:
                            applier.apply(state, change, cause)
                persist(
                    conn,
                    scope,
                    states.values(),
                    applier.transitions,
                    after=tenant.after_changes(runtime, outbox, now=now),
                )
                if applier.transitions:
                    summary.by_rule[label] = summary.by_rule.get(label, 0) + len(
                        applier.transitions
                    )
                    summary.changes += len(applier.transitions)
    tenant.deliver(outbox)
    if carry_out:
        summary.actions = run_due(tenant, now)
    return summary
