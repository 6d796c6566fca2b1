"""Run scenarios against a scratch CRM and report each failing step readably.

Every scenario gets its own tenant in one scratch SQLite database (migrated once per
runner) and a clock that only moves when a step moves it, so a run is repeatable.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pluggy

from crmkit.changes import Notice
from crmkit.clock import MovableClock
from crmkit.core import CRM
from crmkit.errors import CRMError, SourceError
from crmkit.packs import Pack
from crmkit.rules.actions import AddTag, Change, SetFacet, SetScore
from crmkit.scenarios.model import (
    AdvanceStep,
    ContactExpectation,
    EventStep,
    ExpectStep,
    Scenario,
    TickStep,
    TransitionExpectation,
    read_scenarios,
)
from crmkit.scenarios.outbox import PLUGIN_NAME, CapturedMessages
from crmkit.tenant import Tenant
from crmkit.ticking import TickSummary

# The cause of the changes a scenario's ``given`` makes: set up as a rule would, so
# rule-only values can be given too; they are not part of what ``then`` checks.
GIVEN = {"cause_type": "rule", "pack": "scenario", "pack_version": None, "rule": "given"}


@dataclass
class StepLog:
    """What one step did: its label and the changes each rule made."""

    line: int
    label: str
    changes: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    scenario: Scenario
    passed: bool
    message: str = ""
    steps: list[StepLog] = field(default_factory=list)
    # ``pack@version:rule`` of every rule that changed something.
    fired: set[str] = field(default_factory=set)

    @property
    def title(self) -> str:
        return f"{self.scenario.source}, line {self.scenario.line}: {self.scenario.name}"


class ScenarioFailed(AssertionError):
    def __init__(self, line: int, where: str, expected: Any, got: Any) -> None:
        self.line = line
        super().__init__(f"{where}\n  expected: {expected}\n  got:      {got}")


class ScenarioRunner:
    """Runs scenarios with the installed plugins (and ``plugins``) on a scratch database.

    ``packs`` (loaded from folders) run in place of the installed copies of the same
    versions; ``plugin_manager`` is one already built (the command line's).

    >>> with ScenarioRunner() as runner:
    ...     results = runner.run_file(Path("rules/followup.scenarios.yaml"))
    """

    def __init__(
        self,
        *,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        packs: Iterable[Pack] = (),
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="crmkit-scenarios-")
        self.clock = MovableClock()
        # Every message a step sends is kept here, never sent (see crmkit.scenarios.outbox).
        self.messages = CapturedMessages()
        self._plugin_manager = plugin_manager
        if plugin_manager is not None and plugin_manager.get_plugin(PLUGIN_NAME) is None:
            plugin_manager.register(self.messages, name=PLUGIN_NAME)
        self.crm: CRM = CRM(
            f"sqlite:///{Path(self._folder.name) / 'scenarios.db'}",
            plugins=[*plugins, self.messages],
            load_entry_points=load_entry_points,
            clock=self.clock,
            packs=packs,
            plugin_manager=plugin_manager,
        )
        self.crm.migrate()
        self._count = 0

    def close(self) -> None:
        if self._plugin_manager is not None and self._plugin_manager.is_registered(self.messages):
            self._plugin_manager.unregister(self.messages)
        self.crm.close()
        self._folder.cleanup()

    def __enter__(self) -> ScenarioRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_file(
        self, path: Any, name: str | None = None, pack: Pack | None = None
    ) -> list[ScenarioResult]:
        """Run every scenario of a file; ``name`` is how reports call it (its path);
        ``pack`` is the pack version that ships the file (its scenarios run against
        that version)."""
        return [self.run(scenario) for scenario in read_scenarios(path, name, pack)]

    def run(self, scenario: Scenario) -> ScenarioResult:
        """Run one scenario; a failing expectation or step is reported, not raised.

        A scenario that cannot start (an unknown pack, a bad given contact) raises
        :class:`SourceError` naming its line.
        """
        self._count += 1
        self.clock.set(scenario.start or datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc))
        try:
            tenant = self.crm.configure_tenant(
                f"scenario-{self._count}", list(scenario.packs), scenario.settings
            )
        except CRMError as exc:
            raise SourceError(
                scenario.source, f"scenario {scenario.name!r}: {exc}", scenario.line
            ) from None
        contacts = {name: self._given(tenant, scenario, name) for name in scenario.given}
        since = {name: self._version(tenant, cid) for name, cid in contacts.items()}
        result = ScenarioResult(scenario, passed=True)
        # Each contact's newest version so far: a step's changes are those above it.
        latest = dict(since)
        try:
            for line, step in scenario.steps:
                self._step(tenant, contacts, since, latest, result, line, step)
            for name, expected in scenario.then.items():
                self._check(
                    tenant,
                    scenario.then_line,
                    f"then {name}",
                    contacts[name],
                    since[name],
                    expected,
                )
        except ScenarioFailed as failure:
            result.passed = False
            result.message = self._report(scenario, failure, result.steps)
        finally:
            result.fired |= self._scheduled_by(tenant)
        return result

    # ------------------------------------------------------------ set up
    def _given(self, tenant: Tenant, scenario: Scenario, name: str) -> int:
        data = dict(scenario.given[name])
        facets = data.pop("facets", {}) or {}
        tags = data.pop("tags", []) or []
        score = data.pop("score", None)
        data.setdefault("first_name", name)
        line = scenario.given_lines[name]
        try:
            contact_id = tenant.add_contact(data, actor="scenario").id
            changes: list[Change] = [SetFacet(str(k), str(v)) for k, v in facets.items()]
            changes += [AddTag(str(tag)) for tag in tags]
            # The score last and on its own: hooks may score the facets set first.
            self._apply(tenant, contact_id, changes)
            if score is not None:
                self._apply(tenant, contact_id, [SetScore(float(score))])
        except (CRMError, ValueError, TypeError) as exc:
            raise SourceError(
                scenario.source, f"scenario {scenario.name!r}, given {name}: {exc}", line
            ) from None
        return contact_id

    def _apply(self, tenant: Tenant, contact_id: int, changes: list[Change]) -> None:
        if not changes:
            return
        outbox: list[Notice] = []
        with self.crm.db.begin() as conn:
            context = tenant.change_context(conn, tenant.write_runtime(conn), outbox)
            context.apply([contact_id], changes, like=GIVEN)

    def _version(self, tenant: Tenant, contact_id: int) -> int:
        made = tenant.explain(contact_id)
        return made[-1].version if made else 0

    # ------------------------------------------------------------ steps
    def _step(
        self,
        tenant: Tenant,
        contacts: dict[str, int],
        since: dict[str, int],
        latest: dict[str, int],
        result: ScenarioResult,
        line: int,
        step: Any,
    ) -> None:
        number = len(result.steps) + 1
        if isinstance(step, ExpectStep):
            result.steps.append(StepLog(line, f"step {number} (line {line}): expect"))
            for name, expected in step.contacts.items():
                self._check(
                    tenant,
                    line,
                    f"step {number} expect {name}",
                    contacts[name],
                    since[name],
                    expected,
                )
            return
        if isinstance(step, AdvanceStep):
            self.clock.advance(step.by)
            result.steps.append(StepLog(line, f"step {number} (line {line}): advance {step.text}"))
            return
        if isinstance(step, TickStep):
            label = f"step {number} (line {line}): tick at {self.clock().isoformat()}"

            def run() -> Any:
                return tenant.tick(self.clock())

        else:
            assert isinstance(step, EventStep)
            if step.after is not None:
                self.clock.advance(step.after)
            label = f"step {number} (line {line}): event {step.kind} for {step.contact}"
            event = step

            def run() -> Any:
                return tenant.record_event(
                    contacts[event.contact], event.kind, event.data, id=event.id
                )

        log = StepLog(line, label)
        result.steps.append(log)
        try:
            outcome = run()
            failed = outcome.actions.errors if isinstance(outcome, TickSummary) else []
            if failed:
                # A due action that fails in a tick is a broken pack, not a quiet outcome.
                raise ScenarioFailed(line, f"{label}: actions failed", "none", failed)
        except CRMError as exc:
            got = f"{type(exc).__name__}: {exc}"
            raise ScenarioFailed(line, f"{label} failed", "no error", got) from None
        finally:
            for name, cid in contacts.items():
                for t in tenant.explain(cid):
                    if t.version > latest[name]:
                        log.changes.append(f"{name} {_show(t.name, t.old, t.new)} by {t.cause}")
                        latest[name] = t.version
                        if t.cause_type == "rule":
                            result.fired.add(t.cause)

    # ------------------------------------------------------------ checks
    def _check(
        self,
        tenant: Tenant,
        line: int,
        where: str,
        contact_id: int,
        since: int,
        expected: ContactExpectation,
    ) -> None:
        contact = tenant.get_contact(contact_id)
        for facet, value in (expected.facets or {}).items():
            got = contact.facets.get(facet, "(no such facet for this tenant)")
            if got != value:
                raise ScenarioFailed(line, f"{where}: facet {facet}", value, got)
        if expected.score is not None and not math.isclose(
            contact.score, expected.score, rel_tol=1e-9, abs_tol=1e-9
        ):
            raise ScenarioFailed(
                line, f"{where}: score", _number(expected.score), _number(contact.score)
            )
        want_tags = sorted(set(expected.tags or ()))
        if expected.tags is not None and want_tags != sorted(contact.tags):
            raise ScenarioFailed(line, f"{where}: tags", want_tags, sorted(contact.tags))
        for name, value in (expected.fields or {}).items():
            stored = contact.fields.get(name)
            if stored != value:
                raise ScenarioFailed(line, f"{where}: field {name}", value, stored)
        if expected.transitions is not None:
            made = [t for t in tenant.explain(contact_id) if t.version > since]
            got_text = [_show(t.name, t.old, t.new) + f" ({t.rule or t.cause})" for t in made]
            want_text = [e.describe() for e in expected.transitions]
            if len(made) != len(expected.transitions) or not all(
                _matches(e, t.name, t.old, t.new, t.rule)
                for e, t in zip(expected.transitions, made, strict=False)
            ):
                raise ScenarioFailed(line, f"{where}: transitions", want_text, got_text)
        if expected.actions is not None:
            pending = [f"{a.kind}: {a.title}" for a in tenant.actions(contact_id)]
            want = [" ".join(a.split()).replace(" :", ":") for a in expected.actions]
            if sorted(want) != sorted(pending):
                raise ScenarioFailed(
                    line, f"{where}: pending actions", sorted(want), sorted(pending)
                )
        if expected.messages is not None:
            sent = self.messages.to_contact(contact_id, tenant.name)
            if len(sent) != len(expected.messages) or not all(
                m.matches(e.kind, e.subject, e.body)
                for e, m in zip(expected.messages, sent, strict=False)
            ):
                raise ScenarioFailed(
                    line,
                    f"{where}: messages",
                    [e.describe() for e in expected.messages],
                    [m.describe() for m in sent],
                )

    def _scheduled_by(self, tenant: Tenant) -> set[str]:
        """``pack@version:rule`` of every rule that scheduled an upcoming action (an
        action changes no value, so no transition names its rule)."""
        with self.crm.db.connect() as conn:
            refs = {p.name: p.ref for p in tenant.runtime(conn).packs}
        found = set()
        for action in tenant.actions(include_closed=True):
            # A scheduled action's cause is PACK:RULE when a rule put it there.
            pack, sep, rule = action.cause.partition(":")
            if sep and pack in refs:
                found.add(f"{refs[pack]}:{rule}")
        return found

    def _report(self, scenario: Scenario, failure: ScenarioFailed, steps: Sequence[StepLog]) -> str:
        lines = [
            f"{scenario.source}, line {failure.line}: scenario {scenario.name!r}",
            f"  {failure}".replace("\n", "\n  "),
            "  what the steps did:",
        ]
        for log in steps:
            lines.append(f"    {log.label}")
            lines.extend(f"      {change}" for change in log.changes or ["(no changes)"])
        if not steps:
            lines.append("    (no steps)")
        return "\n".join(lines)


def _show(name: str, old: str | None, new: str | None) -> str:
    return f"{name}: {old or ''} -> {new or ''}".replace(":  ->", ": ->").rstrip()


def _number(value: float) -> str:
    return f"{value:g}"


def _matches(
    expected: TransitionExpectation, name: str, old: str | None, new: str | None, rule: str | None
) -> bool:
    def same(want: str | None, got: str | None) -> bool:
        if want == got:
            return True
        try:
            return want is not None and got is not None and float(want) == float(got)
        except ValueError:
            return False

    return (
        expected.name == name
        and (expected.from_ is None or same(expected.from_, old))
        and (expected.to is None or same(expected.to, new))
        and (expected.rule is None or expected.rule == rule)
    )
