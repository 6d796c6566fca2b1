"""The scenario file format, and its loading with a line for every problem.

```yaml
packs: [17hats]                    # the tenant's packs (each scenario may override)
settings: {hats_cold_after_days: 60}
start: 2026-01-05T09:00:00Z        # the clock at the start of each scenario
scenarios:
  - name: a lead form makes a hot lead
    given:                         # contacts by a name of the scenario's choosing
      ada: {first_name: Ada, facets: {contact_type: other}, tags: [vip], score: 3}
    when:
      - {event: lead_form_submitted, contact: ada, data: {form: web}}
      - {advance: 61 days}         # move the clock
      - tick                       # run `crmkit tick` at the clock's time
      - {expect: {ada: {facets: {contact_type: cold_prospect}}}}
    then:
      ada:
        facets: {contact_type: cold_prospect}
        score: 3
        tags: [vip]                # the whole set
        transitions:               # every change the steps made, in order
          - "contact_type: other -> hot_lead"
          - {name: contact_type, to: cold_prospect, rule: quiet hot leads go cold}
        actions: ["step: First call"]   # pending upcoming actions (kind: title)
        messages:                  # every message sent to ada, in order (captured, not sent)
          - "text: Hi Ada*"        # KIND: BODY, * and ? as wildcards
          - {kind: email, subject: "Welcome*"}
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crmkit.errors import ConfigError, SourceError
from crmkit.packs import Pack, parse_spec
from crmkit.yaml_source import YamlSource, describe_validation, located, parse_yaml

# What a scenario file is called: pytest collects these, `crmkit rules test DIR` finds them.
SCENARIO_SUFFIX = ".scenarios.yaml"

DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*", re.IGNORECASE)


def parse_duration(text: Any) -> timedelta:
    """``"61 days"``, ``"2 hours"``, ``"1 week"``... as a timedelta."""
    match = DURATION.fullmatch(str(text))
    if not match:
        raise ValueError(
            f"{text!r} is not a duration (a number and seconds, minutes, hours, days or weeks)"
        )
    return timedelta(**{match.group(2).lower() + "s": float(match.group(1))})


class TransitionExpectation(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    rule: str | None = None

    @classmethod
    def parse(cls, item: Any) -> TransitionExpectation:
        if isinstance(item, str):
            match = re.fullmatch(r"\s*([\w.]+)\s*:\s*(.*?)\s*->\s*(.*?)\s*", item)
            if not match:
                raise ValueError(f"{item!r} is not 'NAME: OLD -> NEW'")
            return cls.model_validate(
                {
                    "name": match.group(1),
                    "from": match.group(2) or None,
                    "to": match.group(3) or None,
                }
            )
        return cls.model_validate(item)

    def describe(self) -> str:
        text = f"{self.name}: {self.from_ or ''} -> {self.to or ''}".replace(":  ->", ": ->")
        return f"{text} ({self.rule})" if self.rule else text


class MessageExpectation(BaseModel):
    """A message the steps sent to the contact: ``kind`` (``email`` or ``text``),
    ``subject`` and ``body`` (each left out: any; ``*`` and ``?`` are wildcards)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["email", "text"] | None = None
    subject: str | None = None
    body: str | None = None

    @classmethod
    def parse(cls, item: Any) -> MessageExpectation:
        if isinstance(item, str):
            kind, sep, body = item.partition(":")
            if not sep or kind.strip() not in ("email", "text"):
                raise ValueError(f"{item!r} is not 'email: BODY' or 'text: BODY'")
            return cls.model_validate({"kind": kind.strip(), "body": body.strip()})
        return cls.model_validate(item)

    def describe(self) -> str:
        subject = f" {self.subject!r}" if self.subject else ""
        return f"{self.kind or 'message'}{subject}: {self.body or '*'}"


class ContactExpectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facets: dict[str, str] | None = None
    score: float | None = None
    tags: list[str] | None = None
    fields: dict[str, Any] | None = None
    transitions: list[TransitionExpectation] | None = None
    actions: list[str] | None = None
    messages: list[MessageExpectation] | None = None

    @field_validator("messages", mode="before")
    @classmethod
    def _messages(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [MessageExpectation.parse(item) for item in value]
        return value

    @field_validator("transitions", mode="before")
    @classmethod
    def _transitions(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [TransitionExpectation.parse(item) for item in value]
        return value

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: list[str] | None) -> list[str] | None:
        for item in value or ():
            if ":" not in item:
                raise ValueError(f"{item!r} is not 'KIND: TITLE'")
        return value


class ScenarioDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    packs: list[str] | None = None
    settings: dict[str, Any] | None = None
    given: dict[str, dict[str, Any]] = Field(default_factory=dict)
    when: list[Any] = Field(default_factory=list)
    then: dict[str, ContactExpectation] = Field(default_factory=dict)


class ScenarioFileDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    packs: list[str] = Field(min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)
    start: datetime | None = None
    scenarios: list[ScenarioDefinition] = Field(min_length=1)


@dataclass(frozen=True)
class EventStep:
    kind: str
    contact: str
    data: dict[str, Any]
    after: timedelta | None
    id: str | None


@dataclass(frozen=True)
class AdvanceStep:
    by: timedelta
    text: str


@dataclass(frozen=True)
class TickStep:
    pass


@dataclass(frozen=True)
class ExpectStep:
    contacts: dict[str, ContactExpectation]


Step = EventStep | AdvanceStep | TickStep | ExpectStep


class _EventModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1)
    contact: str
    data: dict[str, Any] = Field(default_factory=dict)
    after: str | None = None
    id: str | None = None


def parse_step(item: Any) -> Step:
    """One ``when`` item; ``ValueError`` says what is wrong with it."""
    if item == "tick" or item == {"tick": True}:
        return TickStep()
    if not isinstance(item, dict):
        raise ValueError("a step is 'tick' or a mapping with one of event, advance, tick or expect")
    if "event" in item:
        try:
            model = _EventModel.model_validate(item)
        except ValidationError as exc:
            path, message = describe_validation(exc)
            raise ValueError(located(path, message)) from None
        after = parse_duration(model.after) if model.after is not None else None
        return EventStep(model.event, model.contact, model.data, after, model.id)
    if len(item) != 1:
        raise ValueError(f"unknown step keys {sorted(map(str, item))}")
    ((key, value),) = item.items()
    if key == "advance":
        return AdvanceStep(parse_duration(value), str(value))
    if key == "expect":
        if not isinstance(value, dict):
            raise ValueError("expect: a mapping of contact names to what they should be")
        try:
            return ExpectStep(
                {str(k): ContactExpectation.model_validate(v) for k, v in value.items()}
            )
        except ValidationError as exc:
            path, message = describe_validation(exc)
            raise ValueError(located(["expect", *path], message)) from None
    raise ValueError(f"unknown step {key!r} (event, advance, tick or expect)")


@dataclass(frozen=True)
class Scenario:
    """One scenario, ready to run; ``line`` is where it starts in its file."""

    source: str
    line: int
    name: str
    packs: tuple[str, ...]
    settings: dict[str, Any]
    start: datetime | None
    given: dict[str, dict[str, Any]]
    given_lines: dict[str, int]
    steps: tuple[tuple[int, Step], ...]
    then: dict[str, ContactExpectation]
    then_line: int


def pinned(specs: list[str], pack: Pack | None) -> tuple[str, ...]:
    """``specs`` with ``pack``'s own name pinned to its version: a scenario file shipped
    inside a pack version tests that version, not whichever is newest (``name@version``
    in the file still says otherwise)."""
    if pack is None:
        return tuple(specs)
    found = []
    for spec in specs:
        try:
            name, version = parse_spec(spec)
        except ConfigError:
            found.append(spec)  # reported, with the scenario's line, when it runs
            continue
        found.append(pack.ref if name == pack.name and version is None else spec)
    return tuple(found)


def load_scenarios(text: str, source: str, pack: Pack | None = None) -> list[Scenario]:
    """Parse a scenario file; every problem is a :class:`SourceError` with its line.
    ``pack`` is the pack version that ships the file: see :func:`pinned`."""
    document = parse_yaml(text, source)
    spec: ScenarioFileDefinition = document.validate(ScenarioFileDefinition, "a scenario file")
    scenarios = []
    names: set[str] = set()
    for index, item in enumerate(spec.scenarios):
        at: tuple[str | int, ...] = ("scenarios", index)
        if item.name in names:
            raise document.error((*at, "name"), f"scenario {item.name!r} appears twice")
        names.add(item.name)
        steps = []
        for position, raw in enumerate(item.when):
            try:
                step = parse_step(raw)
            except ValueError as exc:
                raise document.error(
                    (*at, "when", position), f"scenario {item.name!r}, when[{position + 1}]: {exc}"
                ) from None
            mentioned = [step.contact] if isinstance(step, EventStep) else []
            if isinstance(step, ExpectStep):
                mentioned = list(step.contacts)
            _check_names(document, item, mentioned, (*at, "when", position))
            steps.append((document.line((*at, "when", position)) or 0, step))
        _check_names(document, item, list(item.then), (*at, "then"))
        scenarios.append(
            Scenario(
                source=source,
                line=document.line(at) or 0,
                name=item.name,
                packs=pinned(item.packs if item.packs is not None else spec.packs, pack),
                settings={**spec.settings, **(item.settings or {})},
                start=spec.start,
                given=item.given,
                given_lines={name: document.line((*at, "given", name)) or 0 for name in item.given},
                steps=tuple(steps),
                then=item.then,
                then_line=document.line((*at, "then")) or 0,
            )
        )
    return scenarios


def _check_names(
    document: YamlSource,
    item: ScenarioDefinition,
    names: list[str],
    path: tuple[str | int, ...],
) -> None:
    for name in names:
        if name not in item.given:
            known = ", ".join(item.given) or "none"
            raise document.error(
                path,
                f"scenario {item.name!r}: contact {name!r} is not in given (given: {known})",
            )


def read_scenarios(path: Any, name: str | None = None, pack: Pack | None = None) -> list[Scenario]:
    """Read a scenario file (a ``pathlib.Path`` or an ``importlib.resources`` file);
    errors call it ``name`` (default: its path); ``pack`` is the pack version that
    ships it (see :func:`pinned`)."""
    source = name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(source, f"cannot read the scenario file: {exc}") from None
    return load_scenarios(text, source, pack)
