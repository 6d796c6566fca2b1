"""Rule actions and the changes they propose.

An action never writes: it turns its arguments into :data:`Change` objects. The
pipeline checks each change against facet policies and guard hooks, then applies it and
writes its transition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmkit.conditions.parser import Schema
from crmkit.errors import ConfigError


@dataclass(frozen=True)
class SetFacet:
    facet: str
    value: str


@dataclass(frozen=True)
class AddTag:
    tag: str


@dataclass(frozen=True)
class RemoveTag:
    tag: str


@dataclass(frozen=True)
class AddScore:
    delta: float


@dataclass(frozen=True)
class SetScore:
    """Set the score to a value worked out elsewhere (a recomputation)."""

    value: float


@dataclass(frozen=True)
class Schedule:
    """Put an upcoming action on the contact (``crmkit tick`` carries it out when due).

    ``kind`` is step, text, email, appointment or reminder; a text or email has a
    ``template`` (``PACK:NAME``, or a bare name in the rule's own pack) or a ``body``.
    """

    kind: str
    title: str
    due_at: datetime
    template: str | None = None
    subject: str | None = None
    body: str | None = None


Change = SetFacet | AddTag | RemoveTag | AddScore | SetScore | Schedule


@dataclass(frozen=True)
class RuleContext:
    """What an action sees when its rule fires.

    ``contact`` is the contact as the rules matched it (facets, score, tags, fields);
    ``event`` has id, kind, data and occurred_at.
    """

    tenant: str
    contact: Mapping[str, Any]
    event: Mapping[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    """A named rule action.

    ``parse(args, schema)`` runs when a ruleset is loaded: it validates the YAML
    arguments (raise ``ValueError`` with a reason) and returns the form ``run`` gets.
    ``run(parsed, context)`` runs when the rule fires and returns the proposed changes.
    Set ``reads_contact=False`` if ``run`` ignores ``context.contact``; crmkit then
    skips building that snapshot.
    """

    parse: Callable[[Any, Schema], Any]
    run: Callable[[Any, RuleContext], list[Change]]
    description: str = ""
    # False when ``run`` never looks at ``context.contact`` (it is then left empty).
    reads_contact: bool = True


class ActionRegistry:
    """Actions registered through ``crmkit_register_actions``, with their providers."""

    def __init__(self) -> None:
        self._actions: dict[str, ActionSpec] = {}
        self.providers: dict[str, str] = {}

    def register(self, name: str, spec: ActionSpec, provider: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"plugin {provider!r} registered an action with bad name {name!r}")
        if not isinstance(spec, ActionSpec):
            raise ConfigError(f"plugin {provider!r}: action {name!r} is not an ActionSpec")
        if name in self._actions:
            raise ConfigError(
                f"action {name!r} is registered by both {self.providers[name]!r} and {provider!r}"
            )
        self._actions[name] = spec
        self.providers[name] = provider

    def get(self, name: str) -> ActionSpec | None:
        return self._actions.get(name)

    def names(self) -> list[str]:
        return sorted(self._actions)
