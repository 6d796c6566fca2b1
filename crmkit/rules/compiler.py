"""Load ruleset files, validate them, and compile a pack into one engine ruleset.

Every problem is reported as a :class:`RulesetError` naming the file, the rule and the
reason, before anything reaches durable_rules (whose own errors are bare codes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
import yaml

from crmkit.conditions.ast import Node, event_kinds, tags
from crmkit.conditions.durable import to_durable
from crmkit.conditions.parser import Schema, parse_condition
from crmkit.errors import ConditionError, RulesetError
from crmkit.packs import Pack
from crmkit.rules.actions import ActionRegistry, ActionSpec
from crmkit.rules.model import RulesetDefinition


@dataclass(frozen=True)
class CompiledAction:
    name: str
    args: Any
    spec: ActionSpec


@dataclass(frozen=True)
class CompiledRule:
    """One rule, ready to run. ``order`` is its position in the pack (file order).

    For a tick rule, ``when`` keeps the text with its ``{setting:default}`` placeholders
    (filled from the tenant's settings at each tick) and ``condition`` is the parse with
    the defaults.
    """

    order: int
    name: str
    source: str
    priority: int
    condition: Node
    actions: tuple[CompiledAction, ...]
    when: str = ""


@dataclass(frozen=True)
class CompiledRuleset:
    """All rules of one pack version, shared by every tenant that uses it."""

    pack: str
    version: str
    key: str
    rules: tuple[CompiledRule, ...]
    tags: frozenset[str]
    tick_rules: tuple[CompiledRule, ...]
    # Event kinds some rule can match; None when a rule can match any kind.
    kinds: frozenset[str] | None

    def can_match(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds

    def durable_definition(self) -> dict[str, Any]:
        """The durable_rules JSON ruleset; action names are ``KEY:ORDER``."""
        return {
            self.key: {
                f"r{rule.order}": {
                    "all": [{"m": to_durable(rule.condition)}],
                    "pri": rule.priority,
                    "run": f"{self.key}:{rule.order}",
                }
                for rule in self.rules
            }
        }


def _describe_pydantic(error: pydantic.ValidationError, data: Any) -> tuple[str | None, str]:
    first = error.errors()[0]
    loc = list(first["loc"])
    rule = None
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules") if isinstance(data, dict) else None
        item = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = item.get("name") if isinstance(item, dict) else None
        rule = str(name) if name else f"#{loc[1] + 1}"
        loc = loc[2:]
    where = ".".join(str(part) for part in loc)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "is required"
    return rule, f"{where}: {message}" if where else message


PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*):([^{}]+)\}")


def fill_settings(text: str, settings: Mapping[str, Any]) -> str:
    """Replace ``{name:default}`` with the setting ``name`` (or the default).

    A setting used here must be a number or a word, so it cannot change the condition's
    structure.
    """

    def value(match: re.Match[str]) -> str:
        raw = settings.get(match.group(1), match.group(2))
        if isinstance(raw, bool) or not (
            isinstance(raw, (int, float)) or re.fullmatch(r"[A-Za-z0-9_.\-]+", str(raw))
        ):
            raise ConditionError(
                text, f"setting {match.group(1)!r} must be a number or a word, not {raw!r}"
            )
        return str(raw)

    return PLACEHOLDER.sub(value, text)


def load_ruleset_text(text: str, source: str) -> RulesetDefinition:
    """Parse and validate the YAML text of one ruleset file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesetError(source, f"not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise RulesetError(source, "a ruleset file is a mapping with a 'rules' list")
    try:
        return RulesetDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        rule, reason = _describe_pydantic(exc, data)
        raise RulesetError(source, reason, rule) from None


def compile_rules(
    files: Sequence[tuple[str, str]],
    *,
    pack: str,
    version: str,
    schema: Schema,
    actions: ActionRegistry,
) -> CompiledRuleset:
    """Compile ruleset texts ``(source, text)`` of one pack into a :class:`CompiledRuleset`."""
    digest = hashlib.sha256()
    rules: list[CompiledRule] = []
    tick_rules: list[CompiledRule] = []
    search_schema = Schema(facets=schema.facets, events=False)
    for source, text in files:
        digest.update(source.encode() + b"\0" + text.encode() + b"\0")
        definition = load_ruleset_text(text, source)
        seen: set[str] = set()
        for rule in definition.rules:
            if rule.name in seen:
                raise RulesetError(source, "a rule with this name appears twice", rule.name)
            seen.add(rule.name)
            has_placeholders = bool(PLACEHOLDER.search(rule.when))
            if has_placeholders and rule.trigger == "event":
                raise RulesetError(
                    source, "when: {setting} placeholders are only for tick rules", rule.name
                )
            try:
                condition = parse_condition(
                    fill_settings(rule.when, {}),
                    schema if rule.trigger == "event" else search_schema,
                )
            except ConditionError as exc:
                raise RulesetError(source, f"when: {exc}", rule.name) from None
            compiled_actions = []
            for position, item in enumerate(rule.then, start=1):
                ((name, args),) = item.items()
                spec = actions.get(name)
                if spec is None:
                    raise RulesetError(
                        source,
                        f"then[{position}]: unknown action {name!r} "
                        f"(known: {', '.join(actions.names())})",
                        rule.name,
                    )
                try:
                    parsed = spec.parse(args, schema)
                except ValueError as exc:
                    raise RulesetError(
                        source, f"then[{position}] {name}: {exc}", rule.name
                    ) from None
                compiled_actions.append(CompiledAction(name, parsed, spec))
            target = rules if rule.trigger == "event" else tick_rules
            target.append(
                CompiledRule(
                    order=len(target),
                    name=rule.name,
                    source=source,
                    priority=rule.priority,
                    condition=condition,
                    actions=tuple(compiled_actions),
                    when=rule.when,
                )
            )
    # The schema decides validation, so it is part of the identity of the compiled form.
    digest.update(json.dumps({k: list(v) for k, v in sorted(schema.facets.items())}).encode())
    kinds: frozenset[str] | None = frozenset()
    for compiled in rules:
        rule_kinds = event_kinds(compiled.condition)
        kinds = None if rule_kinds is None or kinds is None else kinds | rule_kinds
    return CompiledRuleset(
        pack=pack,
        version=version,
        key=f"{pack}@{version}#{digest.hexdigest()[:12]}",
        rules=tuple(rules),
        tags=frozenset().union(*(tags(rule.condition) for rule in rules)),
        tick_rules=tuple(tick_rules),
        kinds=kinds,
    )


def compile_pack(pack: Pack, schema: Schema, actions: ActionRegistry) -> CompiledRuleset:
    """Read a pack's ruleset files and compile them."""
    files = []
    for resource in pack.rulesets:
        source = f"{pack.name}@{pack.version}:{resource.name}"
        try:
            text = resource.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesetError(source, f"cannot read the file: {exc}") from None
        files.append((source, text))
    return compile_rules(
        files, pack=pack.name, version=pack.version, schema=schema, actions=actions
    )
