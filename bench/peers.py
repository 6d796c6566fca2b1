"""Rule evaluation against the peers: the same rules and facts through every engine.

Run:  python bench/peers.py [--facts 100000]

The 17hats event rules (lead form makes a hot lead; an invoice, quote or contract makes a
hot lead a client; a conversion makes a client) decide, for each fact (an event kind and
a contact type), which rules match. Engines: crmkit on durable_rules (as the pipeline
calls it, and memoized as it runs by default), crmkit compiled, bare durable_rules
(assert_fact per fact in one session per chunk, delete_state: the anchor), venmo
business-rules and rule-engine. zen-engine is not in the package registry these machines
can reach, so it is left out. Every figure is printed with its ratio to bare
durable_rules measured in the same run. Results are checked to be the same everywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import random
import time
from collections.abc import Callable
from typing import Any

from crmkit import CRM
from crmkit.rules.engine import DurableEngine, MemoizingEngine
from crmkit.rules.python_engine import CompiledEngine

KINDS = [
    "lead_form_submitted",
    "invoice_sent",
    "quote_accepted",
    "contract_signed",
    "lead_converted",
    "email_opened",
]
TYPES = ["hot_lead", "client", "cold_prospect", "other"]
CLIENT_EVENTS = ("invoice_sent", "quote_accepted", "contract_signed")
# An engine: (build its input from the facts, untimed; match them all, timed).
Peer = tuple[Callable[[list[tuple[str, str]]], Any], Callable[[Any], list[Any]]]


def make_facts(count: int, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(rng.choice(KINDS), rng.choice(TYPES)) for _ in range(count)]


def expected(kind: str, contact_type: str) -> list[int]:
    """The rules that match, written out by hand (the answer every engine must give)."""
    out = []
    if kind == "lead_form_submitted":
        out.append(0)
    if kind in CLIENT_EVENTS and contact_type == "hot_lead":
        out.append(1)
    if kind == "lead_converted" and contact_type != "client":
        out.append(2)
    return out


def crmkit_engine(engine: Any, ruleset: Any) -> Peer:
    def prepare(facts: list[tuple[str, str]]) -> Any:
        return [{"event.kind#s": k, "contact.contact_type#s": t} for k, t in facts]

    def run(typed: Any) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(typed), 5000):
            out.extend(engine.match(ruleset, typed[start : start + 5000]))
        return out

    return prepare, run


def bare_durable(ruleset: Any) -> Peer:
    from durable import engine

    definition = copy.deepcopy(ruleset.durable_definition())
    ((_, rules),) = definition.items()
    fired: list[tuple[int, int]] = []

    class Host(engine.Host):  # type: ignore[misc]
        def get_action(self, name: str) -> Any:
            order = int(name.rsplit(":", 1)[1])
            return lambda c: fired.append((c.m["n"], order))

    host = Host()
    _KEEP.append(host)  # a collected host crashes the process (double free)
    host.set_rulesets({"bare": rules})
    # A first session in which a fact matches keeps delete_state safe (see engine.py).
    host.assert_fact("bare", {"sid": "warm", "id": "w", "event.kind#s": "lead_form_submitted"})
    host.delete_state("bare", "warm")

    def prepare(facts: list[tuple[str, str]]) -> Any:
        return [
            {
                "sid": f"s{i - i % 5000}",
                "id": i,
                "n": i,
                "event.kind#s": kind,
                "contact.contact_type#s": contact_type,
            }
            for i, (kind, contact_type) in enumerate(facts)
        ]

    def run(messages: Any) -> list[Any]:
        fired.clear()
        for start in range(0, len(messages), 5000):
            for message in messages[start : start + 5000]:
                with contextlib.suppress(engine.MessageNotHandledException):
                    host.assert_fact("bare", message)
            host.delete_state("bare", f"s{start}")
        out: list[list[int]] = [[] for _ in messages]
        for index, order in fired:
            if order not in out[index]:
                out[index].append(order)
        return out

    return prepare, run


def business_rules() -> Peer:
    from business_rules import run_all
    from business_rules.actions import BaseActions, rule_action
    from business_rules.variables import BaseVariables, string_rule_variable

    class Fact(BaseVariables):  # type: ignore[misc]
        def __init__(self, kind: str, contact_type: str) -> None:
            self.kind, self.contact_type = kind, contact_type

        @string_rule_variable  # type: ignore[misc]
        def event_kind(self) -> str:
            return self.kind

        @string_rule_variable  # type: ignore[misc]
        def contact_type_value(self) -> str:
            return self.contact_type

    class Fired(BaseActions):  # type: ignore[misc]
        def __init__(self) -> None:
            self.orders: list[int] = []

        @rule_action(params={"order": "numeric"})  # type: ignore[misc]
        def fire(self, order: float) -> None:
            self.orders.append(int(order))

    def action(order: int) -> list[dict[str, Any]]:
        return [{"name": "fire", "params": {"order": order}}]

    rules = [
        {
            "conditions": {
                "all": [
                    {"name": "event_kind", "operator": "equal_to", "value": "lead_form_submitted"}
                ]
            },
            "actions": action(0),
        },
        {
            "conditions": {
                "all": [
                    {
                        "name": "event_kind",
                        "operator": "matches_regex",
                        "value": f"^({'|'.join(CLIENT_EVENTS)})$",
                    },
                    {"name": "contact_type_value", "operator": "equal_to", "value": "hot_lead"},
                ]
            },
            "actions": action(1),
        },
        {
            "conditions": {
                "all": [
                    {"name": "event_kind", "operator": "equal_to", "value": "lead_converted"},
                    {
                        "name": "contact_type_value",
                        "operator": "matches_regex",
                        "value": "^(?!client$)",
                    },
                ]
            },
            "actions": action(2),
        },
    ]

    def prepare(facts: list[tuple[str, str]]) -> Any:
        return [Fact(kind, contact_type) for kind, contact_type in facts]

    def run(prepared: Any) -> list[Any]:
        out = []
        for fact in prepared:
            fired = Fired()
            run_all(rules, fact, fired, stop_on_first_trigger=False)
            out.append(fired.orders)
        return out

    return prepare, run


def rule_engine_peer() -> Peer:
    import rule_engine

    rules = [
        rule_engine.Rule('kind == "lead_form_submitted"'),
        rule_engine.Rule(f"kind in {list(CLIENT_EVENTS)!r} and contact_type == 'hot_lead'"),
        rule_engine.Rule('kind == "lead_converted" and contact_type != "client"'),
    ]

    def prepare(facts: list[tuple[str, str]]) -> Any:
        return [{"kind": kind, "contact_type": contact_type} for kind, contact_type in facts]

    def run(things: Any) -> list[Any]:
        return [[i for i, rule in enumerate(rules) if rule.matches(thing)] for thing in things]

    return prepare, run


_KEEP: list[Any] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=100_000)
    args = parser.parse_args()
    facts = make_facts(args.facts)
    want = [expected(k, t) for k, t in facts]
    crm = CRM("sqlite://", load_entry_points=True)
    ruleset = crm.compiled(crm.packs.resolve("17hats"))
    memoized = MemoizingEngine(DurableEngine())
    engines: list[tuple[str, Peer]] = [
        ("bare durable_rules (anchor)", bare_durable(ruleset)),
        ("crmkit durable_rules", crmkit_engine(DurableEngine(), ruleset)),
        ("crmkit durable_rules, memoized", crmkit_engine(memoized, ruleset)),
        ("crmkit compiled", crmkit_engine(CompiledEngine(), ruleset)),
        ("business-rules (venmo)", business_rules()),
        ("rule-engine", rule_engine_peer()),
    ]
    rates: dict[str, float] = {}
    for name, (prepare, run) in engines:
        prepared = prepare(facts)  # each engine's own input form, built outside the clock
        started = time.perf_counter()
        got = run(prepared)
        rates[name] = len(facts) / (time.perf_counter() - started)
        assert [sorted(g) for g in got] == want, f"{name} gave different matches"
    anchor = rates["bare durable_rules (anchor)"]
    print(f"rule evaluation, 17hats rules, {len(facts):,} facts (same answers everywhere)")
    print(f"{'engine':34} {'facts/s':>12} {'x anchor':>9}")
    for name, rate in sorted(rates.items(), key=lambda item: -item[1]):
        print(f"{name:34} {rate:12,.0f} {rate / anchor:8.2f}x")
    crm.close()


if __name__ == "__main__":
    main()
