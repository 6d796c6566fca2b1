"""The compiled backend: each ruleset becomes Python functions over the flat fact.

The same conditions durable_rules runs, with the same meaning: facts are keyed by path
and value type (:mod:`crmkit.conditions.durable`), a missing key makes any comparison
false, ``has`` reads the precomputed tag booleans. Literals are passed in as constants,
never written into the source, so no value can change the code. It needs nothing
outside the standard library and runs on every Python crmkit supports.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any

from crmkit.conditions.ast import And, Compare, Has, In, Node, Or
from crmkit.conditions.durable import tag_key, typed_key
from crmkit.rules.compiler import CompiledRuleset

Fact = dict[str, Any]
Matcher = Callable[[Fact], list[int]]


class _Source:
    """Python source of one condition; literals go to ``constants`` (read as ``C[i]``)."""

    def __init__(self) -> None:
        self.constants: list[Any] = []

    def constant(self, value: Any) -> str:
        self.constants.append(value)
        return f"C[{len(self.constants) - 1}]"

    def test(self, node: Node) -> str:
        if isinstance(node, Compare):
            return self._compare(typed_key(node.path, node.value), node.op, node.value)
        if isinstance(node, In):
            op, joiner = ("!=", " and ") if node.negated else ("==", " or ")
            parts = [self._compare(typed_key(node.path, v), op, v) for v in node.values]
            return "(" + joiner.join(parts) + ")"
        if isinstance(node, Has):
            # durable_rules matches {tag: false} only where the key is there and false.
            flag = "False" if node.negated else "True"
            return f"(f.get({tag_key(node.value)!r}) is {flag})"
        if isinstance(node, And):
            return "(" + " and ".join(self.test(item) for item in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.test(item) for item in node.items) + ")"
        raise TypeError(f"not a rule condition: {node!r}")

    def _compare(self, key: str, op: str, value: Any) -> str:
        literal = self.constant(value)
        if op == "==":
            return f"(f.get({key!r}, _MISSING) == {literal})"
        if op not in _OPERATORS:  # the one piece of the tree written into the source
            raise TypeError(f"not a comparison operator: {op!r}")
        return f"({key!r} in f and f[{key!r}] {op} {literal})"


_MISSING = object()
_KIND = "event.kind"
_OPERATORS = frozenset({"!=", ">", ">=", "<", "<="})
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _given_kind(node: Node, kind: str) -> Node | bool:
    """``node`` with its ``event.kind`` tests decided for an event of ``kind``: True or
    False when nothing else is left to test."""
    if isinstance(node, Compare) and node.path == _KIND:
        return _holds(kind, node.op, node.value)
    if isinstance(node, In) and node.path == _KIND:
        found = any(isinstance(v, str) and v == kind for v in node.values)
        if node.negated:
            return not found and all(isinstance(v, str) for v in node.values)
        return found
    if isinstance(node, (And, Or)):
        decisive, neutral = (False, True) if isinstance(node, And) else (True, False)
        left: list[Node] = []
        for item in node.items:
            part = _given_kind(item, kind)
            if part is decisive:
                return decisive
            if part is not neutral:
                left.append(part)  # type: ignore[arg-type]
        if not left:
            return neutral
        return left[0] if len(left) == 1 else type(node)(tuple(left))
    return node


def _holds(kind: str, op: str, value: object) -> bool:
    """A comparison of the event's kind (text) with a literal, as the backends see it."""
    if not isinstance(value, str):
        return False  # another type: never compares
    return bool(_COMPARE[op](kind, value))


# Up to this many undecided rules, every outcome is a list built in advance: matching
# then allocates nothing (fewer young-generation collections in a big batch).
_PREBUILT_UP_TO = 6


def _function(
    name: str, rules: list[tuple[int, Node | bool]], source: _Source
) -> tuple[str, list[list[int]]] | None:
    """The source of one matcher and its prebuilt answers, or None when every rule is
    decided already."""
    open_rules = [(order, c) for order, c in rules if not isinstance(c, bool)]
    if not open_rules:
        return None
    if len(open_rules) <= _PREBUILT_UP_TO:
        answers = []
        for mask in range(1 << len(open_rules)):
            held = {order for bit, (order, _) in enumerate(open_rules) if mask >> bit & 1}
            answers.append([order for order, c in rules if c is True or order in held])
        lines = [f"def {name}(f, C=C, _MISSING=_MISSING, R=R_{name}):", "    i = 0"]
        for bit, (_, test) in enumerate(open_rules):
            lines.append(f"    if {source.test(test)}:")
            lines.append(f"        i |= {1 << bit}")
        lines.append("    return R[i]")
        return "\n".join(lines), answers
    # C and _MISSING as defaults: local lookups, not globals, on every call.
    lines = [f"def {name}(f, C=C, _MISSING=_MISSING):", "    out = []"]
    for order, decided in rules:
        if decided is False:
            continue
        if decided is True:
            lines.append(f"    out.append({order})")
        else:
            lines.append(f"    if {source.test(decided)}:")
            lines.append(f"        out.append({order})")
    lines.append("    return out")
    return "\n".join(lines), []


def compile_matcher(ruleset: CompiledRuleset) -> Matcher:
    """One function: fact -> the ``order`` of every rule whose condition holds.

    Most rules name the event kinds they react to, so each kind the rules name gets its
    own function with the kind tests already decided (or, when nothing else is left to
    test, a fixed answer), and every other kind runs the conditions as written. The
    answers are shared lists: callers read them and never change them.
    """
    source = _Source()
    kinds = sorted({v for rule in ruleset.rules for v in _kind_literals(rule.condition)})
    answers: dict[str, list[int]] = {}
    functions: list[str] = []
    prebuilt: dict[str, list[list[int]]] = {}
    table: list[str] = []
    for index, kind in enumerate(kinds):
        rules = [(int(rule.order), _given_kind(rule.condition, kind)) for rule in ruleset.rules]
        made = _function(f"m{index}", rules, source)
        if made is None:
            answers[kind] = [order for order, condition in rules if condition is True]
        else:
            functions.append(made[0])
            prebuilt[f"R_m{index}"] = made[1]
            table.append(f"    {kind!r}: m{index},")
    other = _function("other", [(int(r.order), r.condition) for r in ruleset.rules], source)
    if other is not None:
        prebuilt["R_other"] = other[1]
    program = "\n\n".join(
        [
            *functions,
            other[0] if other is not None else "def other(f):\n    return NOTHING",
            "BY_KIND = {\n" + "\n".join(table) + "\n}",
            "def match(f, ANSWERS=ANSWERS, BY_KIND=BY_KIND, other=other):\n"
            f"    kind = f.get({_KIND + '#s'!r})\n"
            "    found = ANSWERS.get(kind)\n"
            "    if found is not None:\n"
            "        return found\n"
            "    return BY_KIND.get(kind, other)(f)",
        ]
    )
    namespace: dict[str, Any] = {
        "C": tuple(source.constants),
        "_MISSING": _MISSING,
        "ANSWERS": answers,
        "NOTHING": [],
        **prebuilt,
    }
    code = compile(program, f"<crmkit rules {ruleset.key}>", "exec")
    exec(code, namespace)  # the source holds only keys (repr'd) and constant indexes
    matcher: Matcher = namespace["match"]
    return matcher


def _kind_literals(node: Node) -> set[str]:
    if isinstance(node, Compare) and node.path == _KIND and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, In) and node.path == _KIND:
        return {v for v in node.values if isinstance(v, str)}
    if isinstance(node, (And, Or)):
        return set().union(*(_kind_literals(item) for item in node.items))
    return set()


class CompiledEngine:
    """Runs compiled rulesets as Python functions, one per pack version, built once."""

    name = "compiled"

    def __init__(self) -> None:
        self._matchers: dict[str, Matcher] = {}
        self._lock = threading.Lock()

    def matcher(self, ruleset: CompiledRuleset) -> Matcher:
        found = self._matchers.get(ruleset.key)
        if found is None:
            with self._lock:
                found = self._matchers.get(ruleset.key)
                if found is None:
                    found = self._matchers[ruleset.key] = compile_matcher(ruleset)
        return found

    def match(self, ruleset: CompiledRuleset, facts: Sequence[Fact]) -> list[list[int]]:
        if not ruleset.rules:
            return [[] for _ in facts]
        match = self.matcher(ruleset)
        return [match(fact) for fact in facts]
