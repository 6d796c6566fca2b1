"""crmkit's built-in rule actions, registered as a default plugin.

* ``set: {FACET: VALUE, ...}``: set one or more facets.
* ``tag: NAME`` or ``tag: [NAME, ...]``: add tags; ``untag`` removes them.
* ``score: NUMBER``: add to the contact's score (negative subtracts).
* ``schedule: {kind: text, title: ..., in: 2 days, template: welcome.txt.j2}``: put an
  upcoming action on the contact, due that long after the event (``crmkit tick``
  carries it out). ``kind`` is step, text, email, appointment or reminder; a text or
  email needs ``template`` (a bare name is looked up in the rule's pack, or give
  ``PACK:NAME``) or ``body``; an email may give ``subject``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from crmkit.conditions.parser import Schema
from crmkit.markers import hookimpl
from crmkit.rules.actions import (
    ActionSpec,
    AddScore,
    AddTag,
    Change,
    RemoveTag,
    RuleContext,
    Schedule,
    SetFacet,
)

ACTION_KINDS = ("step", "text", "email", "appointment", "reminder")
_DELAY = re.compile(r"(\d+)\s*(minute|hour|day|week)s?")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


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


def parse_delay(text: Any) -> timedelta:
    """``"0 minutes"``, ``"2 hours"``, ``"3 days"``, ``"1 week"``."""
    found = _DELAY.fullmatch(str(text).strip().lower()) if isinstance(text, (str, int)) else None
    if found is None:
        raise ValueError(f"'in' takes a delay like '2 days' or '30 minutes', not {text!r}")
    return timedelta(seconds=int(found.group(1)) * _UNIT[found.group(2)])


def _parse_schedule(args: Any, schema: Schema) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise ValueError("'schedule' takes a mapping: {kind, title, in, template|body}")
    unknown = set(args) - {"kind", "title", "in", "template", "body", "subject"}
    if unknown:
        raise ValueError(f"'schedule' does not take {', '.join(sorted(map(str, unknown)))}")
    kind = args.get("kind")
    if kind not in ACTION_KINDS:
        raise ValueError(f"'schedule' kind {kind!r} is not one of {', '.join(ACTION_KINDS)}")
    title = args.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        raise ValueError("'schedule' needs a title of 1 to 300 characters")
    for key in ("template", "body", "subject"):
        if key in args and not (isinstance(args[key], str) and args[key].strip()):
            raise ValueError(f"'schedule' {key} must be non-empty text")
    if kind in ("text", "email") and ("template" in args) == ("body" in args):
        raise ValueError(f"a scheduled {kind} needs a template or a body (one of them)")
    return {
        "kind": kind,
        "title": title.strip(),
        "delay": parse_delay(args.get("in", "0 minutes")),
        "template": args.get("template"),
        "body": args.get("body"),
        "subject": args.get("subject"),
    }


def _run_schedule(parsed: dict[str, Any], ctx: RuleContext) -> list[Change]:
    start = ctx.event.get("occurred_at")
    if not isinstance(start, datetime):
        raise ValueError("the event has no time to schedule from")
    return [
        Schedule(
            parsed["kind"],
            parsed["title"],
            start + parsed["delay"],
            parsed["template"],
            parsed["subject"],
            parsed["body"],
        )
    ]


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
    register(
        "schedule",
        ActionSpec(
            _parse_schedule,
            _run_schedule,
            "put an upcoming action on the contact: {kind, title, in, template|body}",
            reads_contact=False,
        ),
    )
