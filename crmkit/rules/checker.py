"""``crmkit rules check``: problems a ruleset has before it runs.

Beyond what compiling already refuses (unknown facets, values and actions, bad
conditions: reported here with their lines), the checker reasons about conditions:

* a rule whose condition can never hold (``event.kind == a and event.kind == b``,
  a facet excluded from every value...) can never fire;
* a rule that sets a forward-only facet to a value behind every value its condition
  allows would always be refused; behind some of them, refused for those (and the
  event then fails);
* two rules that set the same facet to different values under overlapping conditions
  conflict: which one wins depends on their order, not on what the author meant;
* a rule that reads or sets a facet none of the tenant's packs bring.

Conditions are put in disjunctive normal form and each conjunction is checked path by
path: equality and membership against finite sets (a facet's values, event kinds),
numeric bounds, tags had and not had. What it cannot decide (history tests, text
order) it takes as possible, so every reported conflict or dead rule is real.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crmkit.conditions.ast import And, Compare, Has, History, In, Node, Or, Scalar, paths
from crmkit.contact_fields import CONTACT_ATTRIBUTES
from crmkit.errors import RulesetError
from crmkit.facets import Facet
from crmkit.packs import Pack
from crmkit.rules import durable_limits
from crmkit.rules.compiler import CompiledRule, CompiledRuleset, compile_pack
from crmkit.rules.template_check import named_template_problems, shipped_template_problems

if TYPE_CHECKING:
    from crmkit.core import CRM

# Beyond this many conjunctions a condition is taken as satisfiable without checking.
MAX_TERMS = 512

Atom = Compare | In | Has


@dataclass(frozen=True)
class Problem:
    kind: str  # error, template, never-fires, refused, conflict, unknown-facet, engine-limit
    where: str  # FILE, line N, rule 'R'
    message: str
    # The reason given with ``allow:`` when the rule's author acknowledged the finding:
    # shown, but it does not fail the check.
    acknowledged: str | None = None

    def __str__(self) -> str:
        reason = f" (acknowledged: {self.acknowledged})" if self.acknowledged else ""
        return f"{self.where}: {self.message}{reason}"


def failing(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that fail a check: all but the acknowledged ones."""
    return [p for p in problems if p.acknowledged is None]


def _acknowledged(kind: str, *rules: CompiledRule | None) -> str | None:
    """The reason one of ``rules`` gives for allowing a finding of ``kind``, if any."""
    for rule in rules:
        for allowed, reason in rule.allowed if rule is not None else ():
            if allowed == kind:
                return reason
    return None


def where(rule: CompiledRule) -> str:
    line = f", line {rule.line}" if rule.line else ""
    return f"{rule.source}{line}, rule {rule.name!r}"


def dnf(node: Node) -> list[list[Atom]] | None:
    """The condition as a list of conjunctions of atoms; None when it grows too large.
    History tests are left out (taken as possible)."""
    if isinstance(node, History):
        return [[]]
    if isinstance(node, (Compare, In, Has)):
        return [[node]]
    if isinstance(node, Or):
        terms: list[list[Atom]] = []
        for item in node.items:
            part = dnf(item)
            if part is None:
                return None
            terms.extend(part)
            if len(terms) > MAX_TERMS:
                return None
        return terms
    assert isinstance(node, And)
    product: list[list[Atom]] = [[]]
    for item in node.items:
        part = dnf(item)
        if part is None or len(product) * len(part) > MAX_TERMS:
            return None
        product = [left + right for left in product for right in part]
    return product


@dataclass
class _Domain:
    """What a conjunction says about one path."""

    allowed: set[Scalar] | None = None  # None: not limited to a finite set
    excluded: set[Scalar] = field(default_factory=set)
    low: float = -math.inf
    low_strict: bool = False
    high: float = math.inf
    high_strict: bool = False

    def limit(self, values: Iterable[Scalar]) -> None:
        values = set(values)
        self.allowed = values if self.allowed is None else self.allowed & values

    def bound(self, op: str, value: float) -> None:
        if op in (">", ">=") and (value > self.low or (value == self.low and op == ">")):
            self.low, self.low_strict = value, op == ">"
        if op in ("<", "<=") and (value < self.high or (value == self.high and op == "<")):
            self.high, self.high_strict = value, op == "<"

    def fits(self, value: Scalar) -> bool:
        if value in self.excluded:
            return False
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.low == -math.inf and self.high == math.inf
        above = value > self.low or (value == self.low and not self.low_strict)
        below = value < self.high or (value == self.high and not self.high_strict)
        return above and below

    def possible(self) -> bool:
        if self.allowed is not None:
            return any(self.fits(v) for v in self.allowed)
        if self.low > self.high:
            return False
        return not (self.low == self.high and (self.low_strict or self.high_strict))

    def values(self) -> set[Scalar] | None:
        """The values still possible, when the path has a finite domain."""
        if self.allowed is None:
            return None
        return {v for v in self.allowed if self.fits(v)}


def _numeric(value: Scalar) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def domains(term: Sequence[Atom], facets: Mapping[str, Facet]) -> dict[str, _Domain] | None:
    """Each path's domain under the conjunction ``term``; None when it cannot hold."""
    found: dict[str, _Domain] = {}
    had: dict[str, bool] = {}
    for atom in term:
        if isinstance(atom, Has):
            if had.setdefault(atom.value, not atom.negated) != (not atom.negated):
                return None
            continue
        domain = found.get(atom.path)
        if domain is None:
            domain = found[atom.path] = _Domain()
            facet = facets.get(atom.path.removeprefix("contact."))
            if atom.path.startswith("contact.") and facet is not None:
                domain.limit(facet.value_names)
        if isinstance(atom, In):
            if atom.negated:
                domain.excluded.update(atom.values)
            else:
                domain.limit(atom.values)
        elif atom.op == "==":
            domain.limit([atom.value])
        elif atom.op == "!=":
            domain.excluded.add(atom.value)
        else:
            number = _numeric(atom.value)
            if number is not None:
                domain.bound(atom.op, number)
    if all(d.possible() for d in found.values()):
        return found
    return None


def _joint(
    left: Sequence[list[Atom]] | None,
    right: Sequence[list[Atom]] | None,
    facets: Mapping[str, Facet],
) -> list[Atom] | None:
    """A conjunction under which both conditions hold, if there is one."""
    if left is None or right is None:
        return []  # too large to decide: taken as possible
    for a, b in itertools.product(left, right):
        if domains([*a, *b], facets) is not None:
            return [*a, *b]
    return None


def _describe(term: Sequence[Atom]) -> str:
    parts = []
    for atom in term:
        if isinstance(atom, Has):
            parts.append(f"{atom.path} {'not has' if atom.negated else 'has'} {atom.value}")
        elif isinstance(atom, In):
            values = ", ".join(map(str, atom.values))
            parts.append(f"{atom.path} {'not in' if atom.negated else 'in'} [{values}]")
        else:
            parts.append(f"{atom.path} {atom.op} {atom.value}")
    return " and ".join(dict.fromkeys(parts)) or "any event"


def _facet_sets(rule: CompiledRule) -> list[tuple[str, str]]:
    return [pair for action in rule.actions if action.name == "set" for pair in action.args]


def check_rulesets(
    rulesets: Sequence[CompiledRuleset], facets: Mapping[str, Facet]
) -> list[Problem]:
    """Problems of ``rulesets`` run together by a tenant whose facets are ``facets``."""
    problems: list[Problem] = []
    forms: list[list[list[Atom]] | None] = []
    entries: list[tuple[CompiledRuleset, CompiledRule, str]] = [
        (ruleset, rule, trigger)
        for ruleset in rulesets
        for trigger, rules in (("event", ruleset.rules), ("tick", ruleset.tick_rules))
        for rule in rules
    ]
    for _, rule, _ in entries:
        form = dnf(rule.condition)
        forms.append(form)
        at = where(rule)
        used = {p.removeprefix("contact.") for p in _facet_paths(rule.condition)}
        used |= {name for name, _ in _facet_sets(rule)}
        for name in sorted(used - set(facets)):
            problems.append(
                Problem(
                    "unknown-facet",
                    at,
                    f"uses facet {name!r}, which none of the packs here bring "
                    "(its changes are skipped)",
                    _acknowledged("unknown-facet", rule),
                )
            )
        live = None if form is None else [t for t in form if domains(t, facets) is not None]
        if live is not None and not live:
            problems.append(
                Problem(
                    "never-fires",
                    at,
                    "its condition can never hold",
                    _acknowledged("never-fires", rule),
                )
            )
            continue
        for name, value in _facet_sets(rule):
            facet = facets.get(name)
            if facet is None or facet.policy != "forward_only":
                continue
            order = facet.value_names
            before: set[str] = set()
            for term in live if live is not None else [[]]:
                found = domains(term, facets) or {}
                possible = found.get(f"contact.{name}")
                options = (possible.values() if possible else None) or set(order)
                before |= {str(v) for v in options}
            ahead = sorted(
                (v for v in before if order.index(v) > order.index(value)), key=order.index
            )
            if ahead and len(ahead) == len(before - {value}) and value not in before:
                message = (
                    f"sets {name} to {value!r}, behind every value its condition allows "
                    f"({', '.join(ahead)}): the forward-only policy always refuses it"
                )
                problems.append(Problem("refused", at, message, _acknowledged("refused", rule)))
            elif ahead:
                problems.append(
                    Problem(
                        "refused",
                        at,
                        f"sets {name} to {value!r}, which the forward-only policy refuses "
                        f"when {name} is {' or '.join(ahead)} (the event then fails); "
                        f"add `and contact.{name} in [...]` to its condition",
                        _acknowledged("refused", rule),
                    )
                )
    # Only rules that set a facet can conflict: pairing just those keeps a pack of
    # thousands of tagging rules from taking minutes.
    setting = [(i, dict(_facet_sets(e[1]))) for i, e in enumerate(entries) if _facet_sets(e[1])]
    for (i, sets1), (j, sets2) in itertools.combinations(setting, 2):
        (_, r1, t1), (rs2, r2, t2) = entries[i], entries[j]
        if t1 != t2:
            continue
        clashes = [(n, sets1[n], sets2[n]) for n in sets1 if n in sets2 and sets1[n] != sets2[n]]
        if not clashes:
            continue
        both = _joint(forms[i], forms[j], facets)
        if both is None:
            continue
        name, first, second = clashes[0]
        problems.append(
            Problem(
                "conflict",
                where(r1),
                f"sets {name} to {first!r} while rule {r2.name!r} ({rs2.pack}@{rs2.version}) "
                f"sets it to {second!r}, and both match when {_describe(both)}",
                _acknowledged("conflict", r1, r2),
            )
        )
    return problems


def _facet_paths(node: Node) -> set[str]:
    """The ``contact.NAME`` paths a condition reads that are facets, not attributes."""
    return {
        p
        for p in paths(node)
        if p.startswith("contact.")
        and p.count(".") == 1
        and p.removeprefix("contact.") not in {*CONTACT_ATTRIBUTES, "tags"}
    }


def check_packs(crm: CRM, packs: Sequence[Pack]) -> list[Problem]:
    """Problems of ``packs`` used together (a tenant's pack list, say): each file's
    compile errors and templates, then what :func:`check_rulesets` finds in the rest."""
    problems: list[Problem] = []
    compiled: list[CompiledRuleset] = []
    for pack in packs:
        try:
            compiled.append(compile_pack(pack, crm.schema, crm.actions))
        except RulesetError as exc:
            problems.append(Problem("error", exc.where, exc.reason))
        problems.extend(Problem("template", *found) for found in shipped_template_problems(pack))
    problems.extend(
        Problem("template", where(rule), message)
        for rule, message in named_template_problems(packs, compiled)
    )
    facets = {name: crm.facets.get(name) for p in packs for name in p.facets if name in crm.facets}
    return problems + durable_problems(compiled) + check_rulesets(compiled, facets)


def durable_problems(rulesets: Sequence[CompiledRuleset]) -> list[Problem]:
    """What in ``rulesets`` durable_rules cannot hold (crmkit then runs the pack on the
    compiled backend, so the pack works, but not on the backend it was meant for)."""
    problems = []
    for ruleset in rulesets:
        for overflow in durable_limits.durable_overflows(ruleset):
            at = where(overflow.rule) if overflow.rule else _files(ruleset)
            problems.append(
                Problem(
                    "engine-limit",
                    at,
                    overflow.message + _FALLBACK,
                    _acknowledged("engine-limit", overflow.rule),
                )
            )
    too_big = durable_limits.fact_overflow(rulesets)
    if too_big:
        problems.append(
            Problem("engine-limit", ", ".join(_files(r) for r in rulesets), too_big + _FALLBACK)
        )
    return problems


_FALLBACK = "; crmkit runs it on the compiled backend instead"


def _files(ruleset: CompiledRuleset) -> str:
    return ", ".join(dict.fromkeys(rule.source for rule in ruleset.rules)) or ruleset.pack
