"""Build search conditions from simple filters (the CLI's ``contact list`` options).

The condition is built as a tree (:mod:`crmkit.conditions.ast`), never as text: an
option's value is always one value, whatever it holds, so it cannot widen the search
(``--facet 'id > 0 or contact.role=lead'`` names no facet, it does not add an ``or``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from crmkit.conditions.ast import And, Compare, Node, Or
from crmkit.conditions.literals import LiteralError, check_text
from crmkit.conditions.parser import Schema, check_tree, parse_condition, parse_moment
from crmkit.errors import ConditionError, ValidationError

# Without a tenant's schema, facet paths are taken on trust here and checked when the
# condition runs (Tenant.list_contacts checks every tree it is given).
OPEN_SEARCH = Schema(events=False, open_facets=True)
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def quote(value: str) -> str:
    """A condition-language string literal for ``value`` (characters kept as they are;
    quotes, backslashes and control characters escaped)."""
    return json.dumps(value, ensure_ascii=False)


def build_filter(
    *,
    where: str | None = None,
    location: str | None = None,
    industry: str | None = None,
    lead_source: str | None = None,
    facets: Mapping[str, str] | None = None,
    interacted_since: str | None = None,
    not_interacted_since: str | None = None,
    schema: Schema | None = None,
) -> Node | None:
    """One condition from the given filters (all must hold), or None when there are none.

    ``location`` matches the city, the state or the country. ``interacted_since`` and
    ``not_interacted_since`` take an ISO date or a relative time such as ``30 days ago``.
    With the tenant's search ``schema`` every filter is checked here; without it, facet
    names and values are checked when the condition runs. A bad value is a
    :class:`ValidationError` naming the option (``--where`` errors keep their column).
    """
    parts: list[Node] = []
    if where:
        parts.append(parse_condition(where, schema or OPEN_SEARCH))
    if location:
        place = _text("--location", location)
        anywhere = Or(tuple(Compare(f"contact.{a}", "==", place) for a in _PLACES))
        parts.append(_checked("--location", location, anywhere, schema))
    if industry:
        parts.append(_option("--industry", industry, "contact.industry", schema))
    if lead_source:
        parts.append(_option("--lead-source", lead_source, "contact.lead_source", schema))
    for facet, value in (facets or {}).items():
        shown = f"{facet}={value}"
        if not isinstance(facet, str) or not _NAME.fullmatch(facet):
            raise ValidationError(f"--facet {shown!r}: {facet!r} is not a facet name")
        parts.append(_option("--facet", value, f"contact.{facet}", schema, shown))
    for option, bound, op in (
        ("--interacted-since", interacted_since, ">="),
        ("--not-interacted-since", not_interacted_since, "<"),
    ):
        if bound:
            parts.append(_since(option, bound, op))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


_PLACES = ("city", "state", "country")


def _text(option: str, value: str, shown: str | None = None) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{option} {value!r}: a filter value is text")
    try:
        return check_text(value)
    except LiteralError as exc:
        raise ValidationError(f"{option} {shown or value!r}: {exc.reason}") from None


def _option(
    option: str, value: str, path: str, schema: Schema | None, shown: str | None = None
) -> Node:
    """``path == value`` (checked against ``schema`` when there is one)."""
    return _checked(
        option, shown or value, Compare(path, "==", _text(option, value, shown)), schema
    )


def _checked(option: str, shown: str, node: Node, schema: Schema | None) -> Node:
    if schema is None:
        return node
    try:
        return check_tree(node, schema)
    except ConditionError as exc:
        raise ValidationError(f"{option} {shown!r}: {exc.reason}") from None


def _since(option: str, bound: str, op: str) -> Node:
    try:
        moment = parse_moment(_text(option, bound))
    except ConditionError as exc:
        raise ValidationError(f"{option} {bound!r}: {exc.reason}") from None
    return Compare("contact.last_interaction", op, moment)
