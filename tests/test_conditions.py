"""Edge cases of the condition language: string escapes, huge numbers and durations,
deep nesting and long conditions are refused with the reason and the column, on every
path (searches, saved searches, rules, tick rules); nothing invalid is ever saved."""

from __future__ import annotations

import re

import pytest
from crmkit_contacts.segments import Segments
from crmkit_contacts.tables import SegmentRow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import snapshot

from crmkit import CRM, Tenant
from crmkit.conditions import Schema, parse_condition
from crmkit.conditions.ast import Ago, Compare
from crmkit.conditions.parser import MAX_DEPTH, MAX_LENGTH, MAX_LIST_VALUES, MAX_TESTS
from crmkit.errors import ConditionError, CRMError, RulesetError, ValidationError
from crmkit.rules.actions import ActionRegistry
from crmkit.rules.compiler import CompiledRuleset, compile_rules
from crmkit.rules.python_engine import compile_matcher
from crmkit.testing.properties import examples

NAME = "contact.first_name == "
BAD = [
    # (condition, column, part of the reason)
    (NAME + r'"\x"', 24, r"\x needs 2 hex digits"),
    (NAME + r'"a\N{foo}"', 25, r"\N{foo}: no character has this name"),
    (NAME + r'"\u12"', 24, r"\u needs 4 hex digits"),
    (NAME + r'"\ud800"', 24, r"\uD800 is half of a surrogate pair"),
    (NAME + r'"\udc00\ud83d"', 24, r"\uDC00 is half of a surrogate pair"),
    (NAME + r'"\U00110000"', 24, "beyond the last character U+10FFFF"),
    (NAME + r'"\q"', 24, r"unknown escape '\\q'"),
    (NAME + '"\ud800"', 24, "U+D800 is half of a surrogate pair"),
    ("contact.created_at > 99999999 days ago", 22, "99999999 days is more than 100 years"),
    ("contact.created_at > 1e999 days ago", 22, "1e999 days is more than 100 years"),
    ("contact.created_at > 53000000 minutes ago", 22, "is more than 100 years"),
    ("had_event within 99999999 days", 18, "99999999 days is more than 100 years"),
    ("engaged within 1e999 weeks", 16, "1e999 weeks is more than 100 years"),
    ("contact.score > 1e999", 17, r"the number 1e999 is too large"),
    ("contact.score > -1e999", 17, r"the number -1e999 is too large"),
    ("contact.score > 99999999999999999999", 17, "is beyond 64 bits"),
    ('contact.created_at > "0001-01-01T00:00:00+01:00"', 1, "compares with a time"),
    ("(" * 1000 + "contact.score > 1" + ")" * 1000, MAX_DEPTH + 2, "nests deeper than 32"),
    ("not " * 1000 + "contact.score > 1", 4 * MAX_DEPTH + 1, "nests deeper than 32"),
    (" or ".join(["contact.score > 1"] * 1000), 21 * MAX_TESTS + 1, "more than 64 tests"),
    (
        "contact.city in [" + ",".join(["x"] * (MAX_LIST_VALUES + 1)) + "]",
        17,
        "more than 1,000 values",
    ),
    ("contact.score > 1 or " * 2500 + "contact.score > 1", None, "at most 50,000"),
]


def compile_text(text: str) -> CompiledRuleset:
    from crmkit import default_actions

    registry = ActionRegistry()
    default_actions.crmkit_register_actions(lambda n, s: registry.register(n, s, "core"))
    return compile_rules(
        [("pack@1:deep.yaml", text)], pack="pack", version="1", schema=Schema(), actions=registry
    )


def search_schema() -> Schema:
    return Schema(facets={"lead_status": ["new", "contacted"]}, events=False)


@pytest.mark.parametrize(("text", "column", "reason"), BAD)
def test_a_bad_condition_names_the_problem_and_its_column(
    text: str, column: int | None, reason: str
) -> None:
    with pytest.raises(ConditionError, match=re.escape(reason)) as caught:
        parse_condition(text, search_schema())
    assert caught.value.column == column
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    assert f"at column {column}:" in message if column else "column" not in message


@pytest.fixture
def book(crm: CRM) -> Tenant:
    tenant = crm.configure_tenant("book", ["contacts", "17hats"])
    tenant.add_contact({"first_name": "Ada", "city": "Leeds"})
    return tenant


@pytest.mark.parametrize(("text", "column", "reason"), BAD)
def test_a_bad_search_is_refused_and_never_saved(
    book: Tenant, text: str, column: int | None, reason: str
) -> None:
    before = snapshot(book.crm)
    with pytest.raises(ConditionError, match=re.escape(reason)):
        book.list_contacts(text)
    with pytest.raises(ConditionError, match=re.escape(reason)):
        Segments(book).save("broken", text)
    assert snapshot(book.crm) == before


def test_conditions_at_the_limits_still_run(book: Tenant) -> None:
    deep = "(" * MAX_DEPTH + "contact.first_name == Ada" + ")" * MAX_DEPTH
    many = " or ".join([*["contact.score > 5"] * (MAX_TESTS - 1), "contact.city == Leeds"])
    listed = "contact.city in [" + ",".join(["x"] * (MAX_LIST_VALUES - 1)) + ", Leeds]"
    negated = "not " * MAX_DEPTH + "contact.first_name == Ada"
    for text in (deep, many, listed, negated):
        assert len(text) <= MAX_LENGTH
        assert [c.first_name for c in book.list_contacts(text)] == ["Ada"], text[:40]
    Segments(book).save("deep", deep)
    assert [c.first_name for c in Segments(book).run("deep")] == ["Ada"]


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        (r"\x41", "A"),
        (r"\N{EM DASH}", "\u2014"),
        (r"\uD83D\uDE00", "\U0001f600"),
        (r"\U0001F600", "\U0001f600"),
        (r"\u00e9\t\"\\\/", 'é\t"\\/'),
    ],
)
def test_valid_escapes_mean_what_they_say(escaped: str, text: str) -> None:
    assert parse_condition(f'{NAME}"{escaped}"', search_schema()) == Compare(
        "contact.first_name", "==", text
    )


def test_relative_times_up_to_a_hundred_years_are_accepted() -> None:
    node = parse_condition("contact.created_at > 36525 days ago", search_schema())
    assert node == Compare("contact.created_at", ">", Ago(36525.0, "day"))


def test_a_saved_search_the_database_cannot_run_is_not_saved(book: Tenant) -> None:
    """PostgreSQL text cannot hold a NUL: there the search is refused when saved, not at
    every run; SQLite searches for it (and finds nothing)."""
    text = NAME + r'"A\u0000"'
    segments = Segments(book)
    if book.crm.db.dialect.name == "postgresql":
        before = snapshot(book.crm)
        with pytest.raises(ValidationError, match="NUL character"):
            segments.save("nul", text)
        assert snapshot(book.crm) == before
    else:
        segments.save("nul", text)
        assert segments.run("nul") == []


def test_a_ruleset_with_a_deep_or_long_condition_is_refused_with_its_line() -> None:
    for condition, reason in [
        ("(" * 1000 + "event.kind == x" + ")" * 1000, "nests deeper than 32"),
        (" or ".join(["event.kind == x"] * 1000), "more than 64 tests"),
        ('event.data.x == "\\N{nope}"', "no character has this name"),
    ]:
        text = f"rules:\n  - name: r\n    when: '{condition}'\n    then: [{{tag: t}}]\n"
        with pytest.raises(RulesetError, match=re.escape(reason)) as caught:
            compile_text(text)
        assert caught.value.line == 3


def test_the_compiled_backend_compiles_the_deepest_and_longest_rules() -> None:
    """Python's compiler has its own nesting limits: the bounds keep rules below them."""
    deep = "(" * MAX_DEPTH + "event.kind == a" + ")" * MAX_DEPTH
    alternating = "event.kind == a"
    for level in range(MAX_DEPTH):
        joiner = "and" if level % 2 else "or"
        alternating = f"(event.data.n{level} > 1 {joiner} {alternating})"
    many = " and ".join(f"event.data.n{i} != {i}" for i in range(MAX_TESTS))
    rules = "".join(
        f"  - name: r{i}\n    when: '{when}'\n    then: [{{tag: t}}]\n"
        for i, when in enumerate([deep, alternating, many])
    )
    ruleset = compile_text(f"rules:\n{rules}")
    match = compile_matcher(ruleset)
    fact = {"event.kind#s": "a", **{f"event.data.n{i}#n": 1000 for i in range(MAX_TESTS)}}
    assert match(fact) == [0, 1, 2]


SEARCH_WORDS = st.sampled_from(
    [
        "contact.score",
        "contact.created_at",
        "contact.first_name",
        "contact.lead_status",
        "contact.tags",
        "==",
        ">",
        "in",
        "has",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        ",",
        "new",
        "1e999",
        "99999999999999999999",
        "99999999 days ago",
        "30 days ago",
        "had_event within",
        '"\\x"',
        '"\\N{foo}"',
        '"\\u12"',
        '"\\ud800"',
        '"\\uD83D\\uDE00"',
        '"\\u0000"',
        '"\\q"',
    ]
)
search_texts = (
    st.lists(SEARCH_WORDS, min_size=1, max_size=8).map(" ".join)
    | st.integers(min_value=0, max_value=60).map(lambda n: "(" * n + "contact.score > 1" + ")" * n)
    | st.text(max_size=30)
)


@settings(
    max_examples=examples(50),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=search_texts)
def test_any_saved_search_text_is_saved_and_runs_or_is_refused_leaving_nothing(
    book: Tenant, text: str
) -> None:
    segments = Segments(book)
    before = snapshot(book.crm)
    try:
        segments.save("fuzzed", text)
    except CRMError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        assert snapshot(book.crm) == before
        return
    assert {c.first_name for c in segments.run("fuzzed")} <= {"Ada"}
    with book.crm.db.begin() as conn:
        conn.execute(SegmentRow.__table__.delete())
