"""Checking tenant settings against the tick rules that read them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmkit.conditions.parser import parse_condition
from crmkit.errors import ConfigError, CRMError
from crmkit.rules.compiler import PLACEHOLDER, fill_settings


def check_tick_rules(rulesets: Iterable[Any], settings: Mapping[str, Any], schema: Any) -> None:
    """Refuse settings that would make a tick rule's condition invalid (a value filled
    into a ``{name:default}`` placeholder), so no tick fails on them later."""
    for ruleset in rulesets:
        for rule in ruleset.tick_rules:
            if not PLACEHOLDER.search(rule.when):
                continue
            try:
                parse_condition(fill_settings(rule.when, settings), schema)
            except CRMError as exc:
                used = ", ".join(sorted({m.group(1) for m in PLACEHOLDER.finditer(rule.when)}))
                raise ConfigError(
                    f"setting {used} would break tick rule {ruleset.pack}@{ruleset.version}:"
                    f"{rule.name}: {exc}"
                ) from None
