"""Build search conditions from simple filters (the CLI's ``contact list`` options).

Values are quoted as condition-language strings, so any text is safe to pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


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
) -> str | None:
    """One condition from the given filters (all must hold), or None when there are none.

    ``location`` matches the city, the state or the country. ``interacted_since`` and
    ``not_interacted_since`` take an ISO date or a relative time such as ``30 days ago``.
    """
    parts: list[str] = []
    if where:
        parts.append(f"({where})")
    if location:
        q = quote(location)
        parts.append(f"(contact.city == {q} or contact.state == {q} or contact.country == {q})")
    if industry:
        parts.append(f"contact.industry == {quote(industry)}")
    if lead_source:
        parts.append(f"contact.lead_source == {quote(lead_source)}")
    for facet, value in (facets or {}).items():
        parts.append(f"contact.{facet} == {quote(value)}")
    for bound, op in ((interacted_since, ">="), (not_interacted_since, "<")):
        if bound:
            value = bound if bound.strip().endswith(" ago") else quote(bound)
            parts.append(f"contact.last_interaction {op} {value}")
    return " and ".join(parts) or None
