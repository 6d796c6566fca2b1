"""A tenant's resolved configuration: its packs, compiled rulesets and facets.

Built from the database when the tenant's ``config_version`` changes, so changing a
tenant's packs takes effect on its next event without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crmkit.conditions.ast import Node, paths
from crmkit.conditions.durable import tag_key, typed_keys
from crmkit.conditions.parser import Schema, parse_condition
from crmkit.facets import Facet
from crmkit.field_types import FieldSpec
from crmkit.packs import Pack
from crmkit.rules.compiler import CompiledRule, CompiledRuleset

if TYPE_CHECKING:
    from crmkit.transfer.columns import TransferColumn

SEARCH_CACHE_SIZE = 512
# Distinct combinations of fired rules remembered per runtime (see ``firing``).
FIRING_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Step:
    """One fired rule as the pipeline runs it: its label ("pack@version:rule") is what
    errors and causes name."""

    ruleset: CompiledRuleset
    rule: CompiledRule
    label: str


@dataclass(frozen=True)
class Firing:
    """The rules that fired for one event, in application order; ``reads`` says whether
    any of their actions reads the contact (only then is its snapshot taken)."""

    steps: tuple[Step, ...]
    reads: bool


@dataclass(frozen=True)
class TenantRuntime:
    tenant_id: int
    name: str
    config_version: int
    packs: tuple[Pack, ...]
    rulesets: tuple[CompiledRuleset, ...]
    facets: Mapping[str, Facet]
    settings: Mapping[str, Any]
    # How to read each path a rule uses: (path, source, key parts), prepared once.
    fact_plan: tuple[tuple[tuple[str, str, str], str, tuple[str, ...]], ...] = ()
    # (tag, fact key) for every tag a rule tests.
    fact_tags: tuple[tuple[str, str], ...] = ()
    # Typed profile fields: the packs' and the tenant's custom fields, by name.
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    # The plugins' history functions searches may use (Schema.macros).
    macros: Mapping[str, Node] = field(default_factory=dict)
    # The plugins' list columns of imports and exports, by name.
    columns: Mapping[str, TransferColumn] = field(default_factory=dict)
    # Parsed search expressions: a saved search or a page of results runs the same text
    # again and again; the runtime is rebuilt (and this emptied) when the config changes.
    _searches: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)
    # Firing plans by the rules that fired: a batch repeats a few combinations many times.
    _firings: dict[tuple[tuple[int, ...], ...], Firing] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(
        cls,
        tenant_id: int,
        name: str,
        config_version: int,
        packs: tuple[Pack, ...],
        rulesets: tuple[CompiledRuleset, ...],
        facets: Mapping[str, Facet],
        settings: Mapping[str, Any],
        fields: Mapping[str, FieldSpec] | None = None,
        macros: Mapping[str, Node] | None = None,
        columns: Mapping[str, TransferColumn] | None = None,
    ) -> TenantRuntime:
        used: set[str] = set()
        tags: set[str] = set()
        for ruleset in rulesets:
            tags |= ruleset.tags
            for rule in ruleset.rules:
                used |= paths(rule.condition)
        used.discard("contact.tags")
        used.discard("event.kind")  # always in the fact
        plan = []
        for path in sorted(used):
            parts = path.split(".")
            keys = typed_keys(path)
            if parts[0] == "event":
                plan.append((keys, "data", tuple(parts[2:])))
            elif parts[1] == "fields":
                plan.append((keys, "fields", tuple(parts[2:])))
            elif parts[1] == "score":
                plan.append((keys, "score", ()))
            elif parts[1] in facets:
                plan.append((keys, "facet", (parts[1],)))
            else:
                plan.append((keys, "attribute", (parts[1],)))
        return cls(
            tenant_id,
            name,
            config_version,
            packs,
            rulesets,
            facets,
            settings,
            tuple(plan),
            tuple((tag, tag_key(tag)) for tag in sorted(tags)),
            dict(fields or {}),
            dict(macros or {}),
            dict(columns or {}),
        )

    def search_schema(self) -> Schema:
        """What a contact search may refer to: contact paths and this tenant's facets."""
        return Schema(
            facets={n: f.value_names for n, f in self.facets.items()},
            events=False,
            macros=self.macros,
        )

    def parse_search(self, text: str) -> Node:
        """The parsed search expression (errors as :func:`parse_condition` raises them)."""
        node = self._searches.get(text)
        if node is None:
            node = parse_condition(text, self.search_schema())
            if len(self._searches) >= SEARCH_CACHE_SIZE:
                self._searches.clear()
            self._searches[text] = node
        return node

    def ordered(self, fired: Sequence[Sequence[int]]) -> list[tuple[CompiledRuleset, CompiledRule]]:
        """Fired rules in application order: priority, then pack position, then file order."""
        keyed = []
        for position, (ruleset, orders) in enumerate(zip(self.rulesets, fired, strict=True)):
            for order in orders:
                rule = ruleset.rules[order]
                keyed.append(((rule.priority, position, rule.order), ruleset, rule))
        keyed.sort(key=lambda item: item[0])
        return [(ruleset, rule) for _, ruleset, rule in keyed]

    def firing(self, fired: tuple[tuple[int, ...], ...]) -> Firing:
        """The plan for the rules that fired (rule orders, one tuple per ruleset)."""
        plan = self._firings.get(fired)
        if plan is None:
            steps = tuple(
                Step(ruleset, rule, f"{ruleset.pack}@{ruleset.version}:{rule.name}")
                for ruleset, rule in self.ordered(fired)
            )
            reads = any(a.spec.reads_contact for step in steps for a in step.rule.actions)
            plan = Firing(steps, reads)
            if len(self._firings) >= FIRING_CACHE_SIZE:
                self._firings.clear()
            self._firings[fired] = plan
        return plan

    def colour(self, facet: str, value: str) -> str:
        overrides = self.settings.get("colours", {})
        custom = overrides.get(facet, {}).get(value) if isinstance(overrides, dict) else None
        return str(custom) if custom else self.facets[facet].value(value).colour
