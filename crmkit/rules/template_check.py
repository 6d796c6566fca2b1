"""The templates of packs, compiled before anything renders them (``rules check``).

A missing or broken template otherwise shows only when a tick carries out the action
that renders it: every template a pack ships is compiled in the sandbox crmkit renders
in, and every ``template:`` a rule names must be one a pack of the set ships.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

from jinja2 import TemplateSyntaxError

from crmkit.packs import Pack
from crmkit.rules.compiler import CompiledRule, CompiledRuleset
from crmkit.templating import sandboxed_environment

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable


def _files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            yield from _files(item, f"{prefix}{item.name}/")
        elif item.is_file():
            yield f"{prefix}{item.name}", item


def shipped_template_problems(pack: Pack) -> list[tuple[str, str]]:
    """(where, message) for each template of ``pack`` that does not compile."""
    if pack.templates is None:
        return []
    environment = sandboxed_environment()
    found = []
    for name, resource in _files(pack.templates):
        try:
            environment.parse(resource.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            found.append((str(resource), f"template {name!r} of pack {pack.ref} is not UTF-8"))
        except TemplateSyntaxError as exc:
            found.append(
                (
                    f"{resource}, line {exc.lineno}",
                    f"template {name!r} of pack {pack.ref} does not compile: {exc.message}",
                )
            )
    return found


def named_templates(rule: CompiledRule) -> Iterator[str]:
    """The template references (``NAME`` or ``PACK:NAME``) of a rule's actions."""
    for action in rule.actions:
        if isinstance(action.args, dict):
            ref = action.args.get("template")
            if isinstance(ref, str):
                yield ref


def named_template_problems(
    packs: Sequence[Pack], rulesets: Sequence[CompiledRuleset]
) -> list[tuple[CompiledRule, str]]:
    """(rule, message) for each template a rule names that no pack of the set ships
    (a bare name is looked up in the rule's own pack)."""
    by_name = {pack.name: pack for pack in packs}
    found = []
    for ruleset in rulesets:
        for rule in (*ruleset.rules, *ruleset.tick_rules):
            for ref in named_templates(rule):
                pack_name, sep, name = ref.rpartition(":")
                owner = by_name.get(pack_name if sep else ruleset.pack)
                if owner is None:
                    found.append(
                        (
                            rule,
                            f"names template {ref!r}, but pack {pack_name!r} is not among "
                            f"the packs checked ({', '.join(by_name)})",
                        )
                    )
                elif owner.templates is None or not owner.templates.joinpath(name).is_file():
                    found.append(
                        (rule, f"names template {ref!r}, which pack {owner.ref} does not ship")
                    )
    return found
