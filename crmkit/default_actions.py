"""crmkit's built-in rule actions, registered as a default plugin.

* ``set: {FACET: VALUE, ...}``: set one or more facets.
* ``tag: NAME`` or ``tag: [NAME, ...]``: add tags; ``untag`` removes them.
* ``score: NUMBER``: add to the contact's score (negative subtracts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmkit import hookimpl
from crmkit.conditions.parser import Schema
from crmkit.rules.actions import (
    ActionSpec,
    AddScore,
    AddTag,
    Change,
    RemoveTag,
    RuleContext,
    SetFacet,
)


def _parse_set(args: Any, schema: Schema) -> list[tuple[str, str]]:
    if not isinstance(args, dict) or not args:
        raise ValueError("'set' takes a mapping of facet to value, e.g. {contact_type: client}")
    pairs = []
    for facet, value in args.items():
        if facet not in schema.facets:
            known = ", ".join(sorted(schema.facets)) or "none"
            raise ValueError(f"unknown facet {facet!r} (known: {known})")
        if value not in schema.facets[facet]:
            raise ValueError(
                f"{value!r} is not a value of facet {facet!r} "
                f"(allowed: {', '.join(schema.facets[facet])})"
            )
        pairs.append((str(facet), str(value)))
    return pairs


def _parse_tags(args: Any, schema: Schema) -> list[str]:
    names = [args] if isinstance(args, str) else args
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise ValueError("takes a tag name or a list of tag names")
    return [n.strip() for n in names]


def _parse_score(args: Any, schema: Schema) -> float:
    if isinstance(args, bool) or not isinstance(args, (int, float)):
        raise ValueError(f"'score' takes a number, not {args!r}")
    return float(args)


def _run_set(pairs: list[tuple[str, str]], ctx: RuleContext) -> list[Change]:
    return [SetFacet(facet, value) for facet, value in pairs]


def _tagger(kind: Callable[[str], Change]) -> Callable[[list[str], RuleContext], list[Change]]:
    def run(names: list[str], ctx: RuleContext) -> list[Change]:
        return [kind(name) for name in names]

    return run


def _run_score(delta: float, ctx: RuleContext) -> list[Change]:
    return [AddScore(delta)]


@hookimpl
def crmkit_register_actions(register: Callable[[str, ActionSpec], None]) -> None:
    register(
        "set", ActionSpec(_parse_set, _run_set, "set facets: {FACET: VALUE}", reads_contact=False)
    )
    register(
        "tag",
        ActionSpec(_parse_tags, _tagger(AddTag), "add tags: NAME or [NAMES]", reads_contact=False),
    )
    register(
        "untag", ActionSpec(_parse_tags, _tagger(RemoveTag), "remove tags", reads_contact=False)
    )
    register(
        "score",
        ActionSpec(_parse_score, _run_score, "add a number to the score", reads_contact=False),
    )
