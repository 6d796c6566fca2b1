"""Condition macros: history functions that plugins add to the condition language.

The language has one history function of its own, ``had_event(...)``. A plugin adds
others through ``crmkit_register_condition_macros``: ``register("engaged", "event.kind
== engagement")`` lets searches say ``engaged(event.data.channel == sms) within 14
days``, which means ``had_event(event.kind == engagement and event.data.channel ==
sms) within 14 days``. A search using a function nobody registered fails naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from crmkit.conditions.ast import Node, paths
from crmkit.conditions.parser import HAD_EVENT, Schema, parse_condition
from crmkit.errors import CRMError, PluginError

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_EVENTS = Schema(events=True)


class MacroRegistry:
    """The history functions the installed plugins registered, by name."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self.providers: dict[str, str] = {}

    @property
    def nodes(self) -> Mapping[str, Node]:
        """Each function's added event condition, parsed (read-only)."""
        return MappingProxyType(self._nodes)

    def register(self, name: str, condition: str, provider: str) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name == HAD_EVENT:
            raise PluginError(
                f"plugin {provider!r} registered a condition macro named {name!r}: use a "
                f"lower-case word other than {HAD_EVENT}"
            )
        if name in self._nodes:
            raise PluginError(
                f"condition macro {name!r} is registered by both "
                f"{self.providers[name]!r} and {provider!r}"
            )
        try:
            node = parse_condition(condition, _EVENTS)
        except CRMError as exc:
            raise PluginError(f"plugin {provider!r}: condition macro {name!r}: {exc}") from None
        outside = sorted(p for p in paths(node) if not p.startswith("event."))
        if outside:
            raise PluginError(
                f"plugin {provider!r}: condition macro {name!r} may only test event.kind "
                f"and event.data.*, not {outside[0]}"
            )
        self._nodes[name] = node
        self.providers[name] = provider
