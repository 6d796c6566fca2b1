"""The two rules backends (durable_rules and compiled Python) agree.

A property-based differential test generates conditions (comparisons of every operator
on values of every type, ``in`` and ``not in``, tags, ``and``, ``or``, ``not``) and facts
(missing values, values of another type) and compares which rules match on each backend;
another plays generated histories through a CRM on each backend and compares every
contact, transition and event.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FrozenClock
from test_replay import busy_tenant

from crmkit import CRM
from crmkit.conditions.ast import And, Compare, Has, In, Node, Or, negate
from crmkit.conditions.durable import tag_key, typed_key
from crmkit.errors import ConfigError
from crmkit.rules.compiler import CompiledRule, CompiledRuleset
from crmkit.rules.engine import DurableEngine, durable_import_error, make_rule_engine
from crmkit.rules.python_engine import CompiledEngine
from crmkit.testing import snapshot
from crmkit.testing.properties import examples

needs_durable = pytest.mark.skipif(
    durable_import_error() is not None, reason="durable_rules does not import on this Python"
)  # (the comparison needs both backends, whichever the suite runs on)

PATHS = ["event.kind", "event.data.a", "event.data.b", "contact.score", "contact.fields.x"]
TAGS = ["vip", "engaged"]
OPS = ["==", "!=", ">", ">=", "<", "<="]
LITERALS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([-1.5, 0.0, 0.5, 2.0, 2.25]),
    st.sampled_from(["a", "b", "c", "5", "", "Ünï"]),
    st.booleans(),
)
LEAVES = st.one_of(
    st.builds(Compare, st.sampled_from(PATHS), st.sampled_from(OPS), LITERALS),
    st.builds(
        In,
        st.sampled_from(PATHS),
        st.lists(LITERALS, min_size=1, max_size=3).map(tuple),
        st.booleans(),
    ),
    st.builds(Has, st.just("contact.tags"), st.sampled_from(TAGS), st.booleans()),
)
CONDITIONS: st.SearchStrategy[Node] = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(inner, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        inner.map(negate),
    ),
    max_leaves=6,
)


@st.composite
def facts(draw: st.DrawFn) -> dict[str, object]:
    """A fact as the pipeline builds it: each path at most once, keyed by its type."""
    values = draw(st.dictionaries(st.sampled_from(PATHS), LITERALS, max_size=len(PATHS)))
    fact: dict[str, object] = {typed_key(path, value): value for path, value in values.items()}
    for tag in TAGS:
        fact[tag_key(tag)] = draw(st.booleans())
    return fact


_keys = itertools.count()


def ruleset_of(conditions: list[Node]) -> CompiledRuleset:
    rules = tuple(
        CompiledRule(order=i, name=f"r{i}", source="generated", priority=0, condition=c, actions=())
        for i, c in enumerate(conditions)
    )
    return CompiledRuleset(
        pack="generated",
        version="1",
        key=f"generated@1#{next(_keys)}",
        rules=rules,
        tags=frozenset(TAGS),
        tick_rules=(),
        kinds=None,
    )


COMPILED = CompiledEngine()
COMPARED_TABLES = ("contacts", "contact_facets", "contact_tags", "transitions", "events")


@needs_durable
@settings(max_examples=examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CONDITIONS, min_size=1, max_size=8), st.lists(facts(), min_size=1, max_size=8))
def test_both_backends_match_the_same_rules(conditions: list[Node], batch: list[dict]) -> None:
    ruleset = ruleset_of(conditions)
    durable = DurableEngine().match(ruleset, batch)
    compiled = COMPILED.match(ruleset, batch)
    assert [sorted(m) for m in durable] == [sorted(m) for m in compiled]


def test_values_of_another_type_never_compare() -> None:
    """``"5" == 5`` is false (durable_rules alone would say true), as is ``"5" != 5``:
    a value of another type is like a missing one."""
    ruleset = ruleset_of(
        [
            Compare("event.data.a", "==", 5),
            Compare("event.data.a", "!=", 5),
            Compare("event.data.a", ">", 1),
            In("event.data.a", (5, "5")),
            Compare("event.data.a", "==", True),
        ]
    )
    fact_text = {typed_key("event.data.a", "5"): "5"}
    fact_number = {typed_key("event.data.a", 5.0): 5.0}
    fact_one = {typed_key("event.data.a", 1): 1}
    assert COMPILED.match(ruleset, [fact_text, fact_number, fact_one]) == [[3], [0, 2, 3], [1]]


@needs_durable
@settings(max_examples=examples(5), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_both_backends_give_the_same_history(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    """A generated history (five packs, events one by one and in batches, changes by
    hand, an import, ticks) ends identically on both backends: contacts, facets, tags,
    transitions and events."""
    outcomes = []
    for engine in ("durable", "compiled"):
        folder = tmp_path_factory.mktemp(engine)
        clock = FrozenClock()
        crm = CRM(f"sqlite:///{folder / 'crm.db'}", clock=clock, engine=engine)
        crm.migrate()
        busy_tenant(crm, clock, folder, seed=seed)
        rows = snapshot(crm)
        crm.close()
        outcomes.append(
            {
                t: rows[t]
                for t in ("contacts", "contact_facets", "contact_tags", "transitions", "events")
            }
        )
    assert outcomes[0] == outcomes[1]


def test_the_engine_is_chosen_by_name_or_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    assert CRM(url, engine="compiled").rules_engine.name == "compiled"
    crm = CRM(url, env={"CRMKIT_ENGINE": "compiled"})
    assert crm.rules_engine.name == "compiled"
    with pytest.raises(ConfigError, match="unknown rules engine 'fast'.*durable or compiled"):
        CRM(url, engine="fast")
    with pytest.raises(ConfigError, match="CRMKIT_ENGINE"):
        make_rule_engine(env={"CRMKIT_ENGINE": "fast"})


def test_without_durable_rules_the_compiled_backend_is_used_with_a_notice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crmkit.rules import engine

    monkeypatch.setattr(engine, "durable_import_error", lambda: "ImportError: undefined symbol")
    monkeypatch.setattr(engine, "_notice_given", False)
    chosen = make_rule_engine(env={})
    assert chosen.name == "compiled"
    assert capsys.readouterr().err == (
        "crmkit: durable_rules does not import here (ImportError: undefined symbol); "
        "rules run on the compiled backend\n"
    )
    make_rule_engine(env={})
    assert capsys.readouterr().err == ""  # once per process
    with pytest.raises(ConfigError, match="cannot be used here: ImportError"):
        make_rule_engine("durable")


def _kind(kind: str) -> Node:
    return Compare("event.kind", "==", kind)


def _either(j: int) -> Node:
    return Or((Compare(f"event.data.a{j}", "==", 1), Compare(f"event.data.b{j}", "==", 1)))


def _over(kind: str, value: int) -> Node:
    return And((_kind(kind), Compare("event.data.n", ">", value)))


# Rulesets just past one of durable_rules' fixed tables each, with facts that reach the
# overfull part; durable_rules answered each with a bare error code, or wrongly.
BEYOND_DURABLE = {
    "4,096 rules (error code 106)": (
        [_kind(f"k{i % 50}") for i in range(4096)],
        [{"event.kind#s": "k1"}],
    ),
    "257 rules ending with the same test (wrong answers or 108)": (
        [_kind("deal")] * 257,
        [{"event.kind#s": "deal"}],
    ),
    "129 or-groups ending at the same test (107)": (
        [Or((_kind("deal"), Compare("event.data.n", "==", i))) for i in range(129)],
        [{"event.kind#s": "deal"}, {"event.kind#s": "x", "event.data.n#n": 5}],
    ),
    "16 and/or groups in one rule (113)": (
        [And(tuple(_either(j) for j in range(15)))],
        [{f"event.data.a{j}#n": 1 for j in range(15)}],
    ),
    "65 thresholds an event passes at once (303 when it arrives)": (
        [_over("scored", i) for i in range(65)],
        [{"event.kind#s": "scored", "event.data.n#n": 1000}],
    ),
    "a fact of 252 values (302)": (
        [And(tuple(Has("contact.tags", f"t{i}", False) for i in range(252)))],
        [{tag_key(f"t{i}"): True for i in range(252)}],
    ),
}


@needs_durable
@pytest.mark.parametrize("case", list(BEYOND_DURABLE))
def test_a_ruleset_durable_rules_cannot_hold_runs_on_the_compiled_backend(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Right answers, from the compiled backend, with one line saying why."""
    conditions, batch = BEYOND_DURABLE[case]
    ruleset = ruleset_of(conditions)
    engine = DurableEngine()
    assert engine.match(ruleset, batch) == COMPILED.match(ruleset, batch)
    notice = capsys.readouterr().err
    assert notice.startswith("crmkit: pack generated@1 runs on the compiled backend: ")
    assert notice.count("\n") == 1 and "at most" in notice
    engine.match(ruleset, batch)
    assert capsys.readouterr().err == ""  # once per pack version


@needs_durable
def test_a_ruleset_durable_rules_fails_on_anyway_runs_on_the_compiled_backend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Should the model of its tables miss one, the error moves the pack, not the event."""
    from crmkit.rules import durable_limits

    monkeypatch.setattr(durable_limits, "durable_overflows", lambda ruleset: [])
    conditions, batch = BEYOND_DURABLE["16 and/or groups in one rule (113)"]
    ruleset = ruleset_of(conditions)
    assert DurableEngine().match(ruleset, batch) == [[0]]
    assert capsys.readouterr().err == (
        "crmkit: pack generated@1 runs on the compiled backend: durable_rules failed on it "
        "(Could not create ruleset, error code: 113)\n"
    )


@needs_durable
def test_rulesets_at_durable_rules_limits_still_run_on_it() -> None:
    """The limits are not lower than they are: each case one short of the table's size
    runs on durable_rules and answers as the compiled backend does."""
    at_limits = [
        [_kind(f"k{i % 50}") for i in range(4095)],
        [_kind("deal")] * 256,
        # An or-group's join has no test of its own: an event passes all 63 joins after
        # `event.kind == deal`, and they wait beside `n == 5`, which it passes too.
        [Or((_kind("deal"), Compare("event.data.n", "==", i))) for i in range(63)],
        [And(tuple(_either(j) for j in range(14)))],
        [_over("scored", i) for i in range(64)],
        [_kind(f"k{i}") for i in range(510)],
    ]
    for conditions in at_limits:
        ruleset = ruleset_of(conditions)
        engine = DurableEngine()
        facts: list[dict[str, object]] = [{"event.kind#s": k} for k in ("k1", "deal", "k509")]
        facts.append({"event.kind#s": "scored", "event.data.n#n": 1000})
        facts.append({f"event.data.a{j}#n": 1 for j in range(14)})
        assert engine.match(ruleset, facts) == COMPILED.match(ruleset, facts)
        assert engine._elsewhere[ruleset.key] is None


LADDER = "rules:\n" + "".join(
    f"  - name: over {i}\n    when: event.kind == scored and event.data.points > {i}\n"
    f"    then: [{{tag: over-{i}}}]\n"
    for i in range(65)
)


def test_an_event_past_a_durable_rules_limit_is_recorded(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """65 thresholds passed at once: durable_rules failed the event (error code 303)."""
    from support import PackPlugin

    from crmkit.rules import engine

    monkeypatch.setattr(engine, "_noticed", set())  # the notice comes once per process

    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, {"ladder": LADDER})], load_entry_points=False)
    crm.migrate()
    tenant = crm.configure_tenant("t", ["ladder"])
    contact = tenant.add_contact({"first_name": "Ada"})
    tenant.record_event(contact.id, "scored", {"points": 1000})
    tenant.record_event(contact.id, "scored", {"points": 3})
    assert len(tenant.get_contact(contact.id).tags) == 65
    err = capsys.readouterr().err
    if crm.rules_engine.name.startswith("durable_rules"):
        assert err.count("\n") == 1 and "runs on the compiled backend" in err
    crm.close()
