"""What a compiled ruleset asks of durable_rules beyond the fixed tables of its C core.

durable_rules 2.0 builds each ruleset into a network of tests with fixed-size tables
(``rules.h``, ``rete.c``, ``events.c``, ``state.h``). Past them it does not say which rule
is too much: it fails with a bare code (106 above 4,095 rules, 107, 108, 113, 303 when a
fact arrives), gives wrong answers (a 257th rule after the same test overwrites another
table), or loops forever (a 512th different test after the same one fills a hash table
that is searched until a free slot turns up). So the network is modelled here, as the C
code builds it from :meth:`CompiledRuleset.durable_definition`, and measured before
durable_rules ever sees it. The limits were confirmed against durable_rules 2.0.28 by
generated rulesets on each side of every one of them
(``tests/reliability/test_durable_limits.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmkit.conditions.ast import paths
from crmkit.rules.compiler import CompiledRule, CompiledRuleset

# Rules in one ruleset (MAX_ACTIONS 4096), less crmkit's hidden warm-up rule.
MAX_RULES = 4095
# Different tests after the same test (a 512-slot table; full, it is searched forever).
MAX_NEXT_TESTS = 511
# ``or`` / ``in`` groups whose alternative ends at the same test (NEXT_LIST_LENGTH).
MAX_GROUP_ENDS = 128
# Rules whose condition ends at the same test (BETA_LIST_LENGTH).
MAX_RULE_ENDS = 256
# ``and`` / ``or`` / ``in`` groups in one condition: each takes two of the 32 places of
# a rule's expression list, which must stay below full (MAX_SEQUENCE_EXPRESSIONS).
MAX_GROUPS = 15
# Tests one fact has passed and whose followers are still to be tried (MAX_STACK_SIZE).
MAX_PENDING = 64
# Values in one fact: 255 properties (MAX_OBJECT_PROPERTIES) less sid, id and the index
# crmkit adds, and one that durable_rules keeps for itself.
MAX_FACT_VALUES = 251

_OPERATORS = {"$neq": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


@dataclass(frozen=True)
class Overflow:
    """One table a ruleset overfills: the rule that overfills it (None for the rule
    count) and what is too much, in words."""

    rule: CompiledRule | None
    message: str


@dataclass
class _Test:
    """A node of the network: a test, or the join of an ``or``'s alternatives."""

    label: str
    # Tests that follow, by (fact key, operator, JSON literal); shared between rules.
    after: dict[tuple[str, str, str], _Test] = field(default_factory=dict)
    # The joins of ``or`` groups with an alternative ending here (never shared).
    joins: list[_Test] = field(default_factory=list)
    rule_ends: int = 0
    # Literals of the ``==`` tests that follow, by fact key (for MAX_PENDING).
    equal: dict[str, Counter[Any]] = field(default_factory=dict)


class _Network:
    def __init__(self) -> None:
        self.root = _Test("the start of a condition")
        self.overflows: dict[str, Overflow] = {}

    def over(self, limit: str, rule: CompiledRule, message: str) -> None:
        self.overflows.setdefault(limit, Overflow(rule, message))

    def add(self, rule: CompiledRule, condition: dict[str, Any]) -> None:
        groups = _groups(condition)
        if groups > MAX_GROUPS:
            self.over(
                "groups",
                rule,
                f"its condition has {groups} and/or/in groups; durable_rules takes at most "
                f"{MAX_GROUPS} in one rule (error code 113)",
            )
        end = self.test(rule, condition, self.root)
        end.rule_ends += 1
        if end.rule_ends > MAX_RULE_ENDS:
            self.over(
                "rule ends",
                rule,
                f"{end.rule_ends} rules have conditions that end with {end.label}; "
                f"durable_rules keeps at most {MAX_RULE_ENDS} (beyond, wrong answers or "
                "error code 108)",
            )

    def test(self, rule: CompiledRule, node: dict[str, Any], parent: _Test) -> _Test:
        """The network node where ``node`` ends when it starts after ``parent``."""
        ((name, value),) = node.items()
        if name == "$and":
            for item in value:
                parent = self.test(rule, item, parent)
            return parent
        if name == "$or":
            join = _Test(f"`{_shorten(_describe(node))}`")
            for item in value:
                end = self.test(rule, item, parent)
                end.joins.append(join)
                if len(end.joins) > MAX_GROUP_ENDS:
                    self.over(
                        "group ends",
                        rule,
                        f"{len(end.joins)} or/in groups have an alternative that ends with "
                        f"{end.label}; durable_rules keeps at most {MAX_GROUP_ENDS} "
                        "(error code 107)",
                    )
            return join
        operator, key, literal = _comparison(name, value)
        identity = (key, operator, json.dumps(literal))
        found = parent.after.get(identity)
        if found is None:
            found = parent.after[identity] = _Test(f"`{_shorten(_describe(node))}`")
            if not operator:
                parent.equal.setdefault(key, Counter())[literal] += 1
            # The root also holds the warm-up rule's test.
            tests = len(parent.after) + (parent is self.root)
            if tests > MAX_NEXT_TESTS:
                self.over(
                    "next tests",
                    rule,
                    f"{tests} different tests follow {parent.label}; durable_rules holds "
                    f"at most {MAX_NEXT_TESTS} (beyond, it hangs or fails with error code 106)",
                )
        return found


def _groups(node: dict[str, Any]) -> int:
    ((name, value),) = node.items()
    if name in ("$and", "$or"):
        return 1 + sum(_groups(item) for item in value)
    return 0


def _describe(node: dict[str, Any]) -> str:
    """A durable condition as crmkit's condition text, for messages."""
    ((name, value),) = node.items()
    if name in ("$and", "$or"):
        joiner = " and " if name == "$and" else " or "
        return joiner.join(_describe(item) for item in value)
    operator, key, literal = _comparison(name, value)
    path = key.rsplit("#", 1)[0]
    return f"{path} {_OPERATORS.get(operator, '==')} {json.dumps(literal)}"


def _comparison(name: str, value: Any) -> tuple[str, str, Any]:
    """(operator, fact key, literal) of a durable test: ``{key: literal}`` is an
    equality (operator ""), ``{"$gt": {key: literal}}`` and the like the others."""
    if name in _OPERATORS:
        ((key, literal),) = value.items()
        return name, key, literal
    return "", name, value


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _nodes(test: _Test) -> Iterator[_Test]:
    stack = [test]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.after.values())
        stack.extend(node.joins)


def _passable(test: _Test) -> int:
    """How many of the tests after ``test`` one fact can pass at once: every join (a
    join has no test), every comparison but ``==``, and of the ``==`` tests of one key,
    those of the most common literal (a fact holds one value per key)."""
    equal = sum(1 for key, op, _ in test.after if not op)
    best_equal = sum(max(literals.values()) for literals in test.equal.values())
    return len(test.joins) + len(test.after) - equal + best_equal


def _pending(root: _Test) -> tuple[int, _Test]:
    """The most tests durable_rules may hold at once while it runs one fact, and the
    node after which that happens. It goes depth first: the tests a node's fact passes
    wait on a stack while the last of them is followed."""
    peak: dict[int, int] = {}
    order = list(_nodes(root))
    for node in reversed(order):  # children before parents
        passable = _passable(node)
        followers = [*node.after.values(), *node.joins]
        deepest = max((peak[id(c)] for c in followers), default=0)
        peak[id(node)] = max(passable, passable - 1 + deepest) if passable else 0
    worst = max(order, key=lambda n: _passable(n))
    return peak[id(root)], worst


def durable_overflows(ruleset: CompiledRuleset) -> list[Overflow]:
    """The tables of durable_rules that ``ruleset`` overfills (empty when it fits)."""
    overflows: list[Overflow] = []
    if len(ruleset.rules) > MAX_RULES:
        overflows.append(
            Overflow(
                None,
                f"{len(ruleset.rules)} event rules; durable_rules takes at most {MAX_RULES} "
                "in one pack (error code 106)",
            )
        )
    network = _Network()
    definition = ruleset.durable_definition()[ruleset.key]
    for rule in ruleset.rules:
        network.add(rule, definition[f"r{rule.order}"]["all"][0]["m"])
    overflows.extend(network.overflows.values())
    pending, worst = _pending(network.root)
    if pending > MAX_PENDING:
        overflows.append(
            Overflow(
                None,
                f"one event can pass {pending} tests at once (after {worst.label}: "
                f"{_passable(worst)}); durable_rules holds at most {MAX_PENDING} "
                "(error code 303 when such an event arrives)",
            )
        )
    return overflows


def fact_values(rulesets: Sequence[CompiledRuleset]) -> int:
    """The most values a fact for ``rulesets`` holds: the event's kind, one per other
    path the rules read (a value has one type) and one per tag they test."""
    read: set[str] = {"event.kind"}
    tested: set[str] = set()
    for ruleset in rulesets:
        tested |= ruleset.tags
        for rule in ruleset.rules:
            read |= paths(rule.condition)
    read.discard("contact.tags")
    return len(read) + len(tested)


def fact_overflow(rulesets: Sequence[CompiledRuleset]) -> str | None:
    """Why facts for ``rulesets`` run together are too big for durable_rules, or None."""
    values = fact_values(rulesets)
    if values <= MAX_FACT_VALUES:
        return None
    return (
        f"the rules read {values} values of an event and its contact (paths and tags); "
        f"durable_rules takes at most {MAX_FACT_VALUES} in one fact (error code 302)"
    )
