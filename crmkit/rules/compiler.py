"""Load ruleset files, validate them, and compile a pack into one engine ruleset.

Every problem is reported as a :class:`RulesetError` naming the file, the rule and the
reason, before anything reaches durable_rules (whose own errors are bare codes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pydantic

from crmkit.conditions.ast import Node, event_kinds, tags
from crmkit.conditions.durable import to_durable
from crmkit.conditions.parser import Schema, parse_condition
from crmkit.errors import ConditionError, RulesetError, SourceError
from crmkit.packs import Pack
from crmkit.rules.actions import ActionRegistry, ActionSpec
from crmkit.rules.model import RuleDefinition, RulesetDefinition
from crmkit.yaml_source import YamlSource, describe_validation, located, parse_yaml


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
    line: int | None = None
    # Findings acknowledged with ``allow:``: (kind, reason) pairs.
    allowed: tuple[tuple[str, str], ...] = ()


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


PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*):([^{}]+)\}")
# A placeholder written without its default: refused with the form to write instead.
# (Not \N{NAME}, a string's character escape.)
BARE_PLACEHOLDER = re.compile(r"(?<!\\N)\{\s*([a-z_][a-z0-9_]*)\s*:?\s*\}")


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


def load_ruleset_text(text: str, source: str) -> tuple[RulesetDefinition, YamlSource]:
    """Parse and validate the YAML text of one ruleset file; the parse keeps the lines."""
    try:
        document = parse_yaml(text, source)
    except SourceError as exc:
        raise RulesetError(source, exc.reason, line=exc.line) from None
    if not isinstance(document.data, dict):
        raise RulesetError(source, "a ruleset file is a mapping with a 'rules' list", line=1)
    unknown = _unknown_key(document.data)
    if unknown is not None:
        key_path, problem, index = unknown
        named = None
        if index is not None:
            item = document.data["rules"][index]
            named = str(item.get("name") or f"#{index + 1}")
        raise RulesetError(source, problem, named, document.line(key_path)) from None
    try:
        return RulesetDefinition.model_validate(document.data), document
    except pydantic.ValidationError as exc:
        path, message = describe_validation(exc)
        rule = None
        where = path
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = document.data.get("rules")
            item = rules[path[1]] if isinstance(rules, list) else None
            name = item.get("name") if isinstance(item, dict) else None
            rule = str(name) if name else f"#{path[1] + 1}"
            where = path[2:]
        raise RulesetError(source, located(where, message), rule, document.line(path)) from None


# Keys newcomers write for another engine's (or their own) idea of a rule.
_LIKELY = {
    "condition": "when",
    "if": "when",
    "conditions": "when",
    "actions": "then",
    "action": "then",
    "do": "then",
    "on": "trigger",
    "title": "name",
    "rule": "rules",
}


def _unknown_key(data: dict[Any, Any]) -> tuple[tuple[str | int, ...], str, int | None] | None:
    """The first key of the file, or of one of its rules, that the format does not
    have: its path and a message naming it, the known keys and the likely one."""
    top = sorted(RulesetDefinition.model_fields)
    for key in data:
        if key not in top:
            return (str(key),), _unknown_message(key, top), None
    rules = data.get("rules")
    known = sorted(RuleDefinition.model_fields)
    for index, item in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(item, dict):
            continue
        for key in item:
            if key not in known:
                return ("rules", index, str(key)), _unknown_message(key, known), index
    return None


def _unknown_message(key: object, known: Sequence[str]) -> str:
    # YAML reads `on:` as the boolean true.
    shown = "on" if key is True else str(key)
    hint = _LIKELY.get(shown)
    likely = f"; did you mean {hint!r}?" if hint in known else ""
    return f"{shown}: unknown key (known keys: {', '.join(known)}){likely}"


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
    search_schema = replace(schema, events=False, place="a tick rule")
    for source, text in files:
        digest.update(source.encode() + b"\0" + text.encode() + b"\0")
        definition, document = load_ruleset_text(text, source)
        seen: set[str] = set()
        for index, rule in enumerate(definition.rules):
            line = document.line(("rules", index))
            if rule.name in seen:
                raise RulesetError(source, "a rule with this name appears twice", rule.name, line)
            seen.add(rule.name)
            bare = BARE_PLACEHOLDER.search(rule.when)
            if bare:
                name = bare.group(1)
                raise RulesetError(
                    source,
                    f"when: the setting placeholder {bare.group(0)} needs a default, used "
                    f"when a tenant has not set {name!r}: write {{{name}:VALUE}}, "
                    f"such as {{{name}:30}}",
                    rule.name,
                    document.line(("rules", index, "when")),
                )
            has_placeholders = bool(PLACEHOLDER.search(rule.when))
            if has_placeholders and rule.trigger == "event":
                raise RulesetError(
                    source,
                    "when: {setting} placeholders are only for tick rules",
                    rule.name,
                    document.line(("rules", index, "when")),
                )
            try:
                condition = parse_condition(
                    fill_settings(rule.when, {}),
                    schema if rule.trigger == "event" else search_schema,
                )
            except ConditionError as exc:
                raise RulesetError(
                    source, f"when: {exc}", rule.name, document.line(("rules", index, "when"))
                ) from None
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
                        document.line(("rules", index, "then", position - 1)),
                    )
                try:
                    parsed = spec.parse(args, schema)
                except ValueError as exc:
                    raise RulesetError(
                        source,
                        f"then[{position}] {name}: {exc}",
                        rule.name,
                        document.line(("rules", index, "then", position - 1)),
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
                    line=line,
                    allowed=tuple(pair for item in rule.allow for pair in item.items()),
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
