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
    """What an action's ``run`` gets when its rule fires (read-only).

    * ``tenant``: the tenant's name.
    * ``contact``: the contact as the rules matched it (before this event's changes),
      a mapping with ``id``, ``facets`` (``{name: value}``), ``score`` (float), ``tags``
      (a sorted list), ``fields`` and the contact's attributes (``first_name``,
      ``email``, ``account``...). Empty when the spec says ``reads_contact=False``.
    * ``event``: a mapping with ``id`` (str; None in a tick), ``kind`` (str; ``"tick"``
      in a tick rule), ``data`` (the event's JSON object) and ``occurred_at`` (an aware
      datetime; the tick's time in a tick rule).
    * ``settings``: the tenant's settings.

    ``run`` returns the changes it proposes; it never writes. An exception it raises
    fails the event (kept as ``failed`` with the error naming the rule and action).
    """

    tenant: str
    contact: Mapping[str, Any]
    event: Mapping[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    """A named rule action, registered with ``crmkit_register_actions``.

    ``parse(args, schema)`` runs once, when a ruleset is compiled: ``args`` is what the
    YAML gives after the action's name (``- discount: 10`` gives ``10``), ``schema`` the
    :class:`~crmkit.conditions.parser.Schema` of the installed facets (``schema.facets``
    maps each facet to its values) to check names against. Raise ``ValueError`` with a
    reason: ``rules check`` and loading report it with the ruleset's file, line and
    rule. What it returns is what ``run`` gets, so parse everything there.

    ``run(parsed, context)`` runs each time the rule fires and returns the proposed
    :data:`Change` list (see :class:`RuleContext`). ``description`` says in one line
    what the action does. Set ``reads_contact=False`` when ``run`` never reads
    ``context.contact``: crmkit then skips building that snapshot (faster ticks).
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
