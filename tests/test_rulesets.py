"""Ruleset files are validated before compiling; errors name the file, rule and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import PackPlugin, snapshot

from crmkit import CRM
from crmkit.conditions import Schema, parse_condition
from crmkit.conditions.ast import And, Compare, Has, In, Or, event_kinds
from crmkit.conditions.durable import to_durable
from crmkit.errors import ConditionError, RulesetError, UnknownPackError
from crmkit.rules.actions import ActionRegistry
from crmkit.rules.compiler import compile_rules

SCHEMA = Schema(facets={"stage": ["open", "won", "archived"]})


def actions() -> ActionRegistry:
    from crmkit import default_actions

    registry = ActionRegistry()
    default_actions.crmkit_register_actions(lambda n, s: registry.register(n, s, "core"))
    return registry


def compile_text(text: str) -> object:
    return compile_rules(
        [("pack@1:bad.yaml", text)], pack="pack", version="1", schema=SCHEMA, actions=actions()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", r"pack@1:bad.yaml, line 1: not valid YAML"),
        ("- a\n- b\n", r"pack@1:bad.yaml, line 1: a ruleset file is a mapping"),
        ("rules: []", r"rules: List should have at least 1 item"),
        ("rules:\n  - name: r1\n    when: event.kind == x\n", r"rule 'r1': then: is required"),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{set: {stage: won}}]\n"
            "    colour: red\n",
            r"line 5, rule 'r1': colour: unknown key",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind ==\n    then: [{tag: x}]\n",
            r"line 3, rule 'r1': when: invalid condition .* ends too early",
        ),
        (
            "rules:\n  - name: r1\n    when: contact.stage == lost\n    then: [{tag: x}]\n",
            r"rule 'r1': when: .*'lost' is not a value of facet 'stage'",
        ),
        (
            "rules:\n  - name: r1\n    when: contact.mood == happy\n    then: [{tag: x}]\n",
            r"rule 'r1': when: .*unknown path 'contact.mood'",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{launch: rockets}]\n",
            r"line 4, rule 'r1': then\[1\]: unknown action 'launch'",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{set: {stage: lost}}]\n",
            r"rule 'r1': then\[1\] set: 'lost' is not a value of facet 'stage'",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{set: {mood: happy}}]\n",
            r"rule 'r1': then\[1\] set: unknown facet 'mood'",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{score: lots}]\n",
            r"rule 'r1': then\[1\] score: 'score' takes a number",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{tag: a, score: 1}]\n",
            r"rule 'r1': then: .*exactly one key",
        ),
        (
            "rules:\n  - name: r1\n    when: event.kind == x\n    then: [{tag: a}]\n"
            "  - name: r1\n    when: event.kind == y\n    then: [{tag: b}]\n",
            r"rule 'r1': a rule with this name appears twice",
        ),
    ],
)
def test_an_invalid_ruleset_names_file_rule_and_reason(text: str, message: str) -> None:
    with pytest.raises(RulesetError, match=message) as info:
        compile_text(text)
    assert "error code" not in str(info.value)
    assert str(info.value).startswith("pack@1:bad.yaml")


def test_a_tenant_with_an_invalid_ruleset_is_not_changed(db_url: str, tmp_path: Path) -> None:
    good = "rules:\n  - name: ok\n    when: event.kind == x\n    then: [{tag: a}]\n"
    bad = "rules:\n  - name: broken\n    when: event.kind === x\n    then: [{tag: a}]\n"
    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, {"good": good, "bad": bad})])
    crm.migrate()
    crm.configure_tenant("t", ["good"])
    before = snapshot(crm)
    with pytest.raises(
        RulesetError, match=r"bad@1.0.0:bad-1.0.0.yaml, line 3, rule 'broken': when:"
    ):
        crm.configure_tenant("t", ["good", "bad"])
    with pytest.raises(UnknownPackError, match="unknown pack 'nope'"):
        crm.configure_tenant("t", ["nope"])
    with pytest.raises(UnknownPackError, match="pack 'good' has no version '9'"):
        crm.configure_tenant("t", ["good@9"])
    assert snapshot(crm) == before


def test_conditions_compile_to_durable_rules_json() -> None:
    node = parse_condition(
        "event.kind in [a, b] and not (contact.score > 3 or contact.tags has vip)", SCHEMA
    )
    assert node == And(
        (
            In("event.kind", ("a", "b")),
            And((Compare("contact.score", "<=", 3), Has("contact.tags", "vip", negated=True))),
        )
    )
    assert to_durable(node) == {
        "$and": [
            {"$or": [{"event.kind#s": "a"}, {"event.kind#s": "b"}]},
            {"$and": [{"$lte": {"contact.score#n": 3}}, {"contact.tag.vip": False}]},
        ]
    }
    assert event_kinds(node) == {"a", "b"}
    assert event_kinds(parse_condition("contact.score > 1 or event.kind == a", SCHEMA)) is None


def test_condition_values_can_be_words_strings_numbers_and_booleans() -> None:
    node = parse_condition(
        'event.data.note == "two words" and event.data.n >= -2.5 and event.data.ok == true',
        SCHEMA,
    )
    assert isinstance(node, And)
    assert [c.value for c in node.items if isinstance(c, Compare)] == ["two words", -2.5, True]
    assert parse_condition("event.kind = a or event.kind == b", SCHEMA) == Or(
        (Compare("event.kind", "==", "a"), Compare("event.kind", "==", "b"))
    )


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("event.kind == a b", 17, "unexpected 'b'"),
        ('contact.score > "high"', 1, "compares with a number"),
        ("contact.tags == vip", 1, "tested with 'has'"),
        ("contact.stage > open", 1, "supports ==, !=, in and not in only"),
        ("event.kind in []", 1, "needs at least one value"),
        ("owner.name == x", 1, "paths start with contact. or event."),
        ("", None, "non-empty"),
    ],
)
def test_condition_errors_give_the_column(text: str, column: int | None, reason: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text, SCHEMA)
    assert info.value.column == column
    assert reason in str(info.value)


def test_search_conditions_may_not_read_events() -> None:
    with pytest.raises(ConditionError, match="event paths are only allowed in rules"):
        parse_condition("event.kind == x", Schema(facets={}, events=False))
