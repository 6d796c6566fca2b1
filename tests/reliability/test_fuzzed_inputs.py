"""Fuzzed inputs at every boundary: event payloads, ruleset files, scenario files,
import rows, search expressions, template variables and CLI arguments.

Each generated input is either accepted or refused with a crmkit error that says what
is wrong; nothing else may escape, and a refused input writes nothing (the whole
database is compared before and after). ``--hypothesis-show-statistics`` prints how
many cases each test ran.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FrozenClock, snapshot

from crmkit import CRM, Tenant
from crmkit.cli.main import cli
from crmkit.errors import ActionError, CRMError, PolicyError
from crmkit.testing.properties import examples

PACKS = ["17hats", "funnel", "contacts", "leadklozer", "clienttether"]
DB_EXAMPLES = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT_EXAMPLES = settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a fuzzer should try: control characters (NUL included), surrogates are not valid
# in UTF-8 files so they are left to the in-memory boundaries.
any_text = st.text(st.characters(codec="utf-8"), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
CONDITION_WORDS = [
    "contact.score",
    "contact.status",
    "contact.tags",
    "contact.fields.city",
    "event.kind",
    "event.data.channel",
    "contact.lead_status",
    "==",
    "!=",
    ">=",
    "<",
    "and",
    "or",
    "not",
    "in",
    "not in",
    "has",
    "(",
    ")",
    "[",
    "]",
    ",",
    "5",
    "-1e309",
    "1e400",
    "'x'",
    '"',
    "'",
    "hot",
    "engaged(event.data.kind == call)",
    "within",
    "30",
    "days",
    "top_10",
    "'; DROP TABLE contacts; --",
    '" OR 1=1 --',
    "%",
    "_",
    "\\",
    "\x00",
    "contact.__class__",
]
# Pieces that once escaped as tracebacks: string escapes, huge numbers and durations,
# deep nesting and long chains (the bounds are 32 levels and 64 tests).
ESCAPES = [
    "\\x",
    "\\x4",
    "\\x41",
    "\\N{foo}",
    "\\N{EM DASH}",
    "\\N",
    "\\u12",
    "\\ud800",
    "\\udc00",
    "\\uD83D\\uDE00",
    "\\U0001F600",
    "\\U00110000",
    "\\q",
    "\\0",
    "\\\\",
]
HUGE = ["99999999", "1e999", "-1e999", "1e308", "9223372036854775808", "36525", "0.0001"]
UNITS = ["minutes", "hours", "days", "weeks"]
escaped_strings = st.lists(
    st.sampled_from(ESCAPES)
    | any_text.filter(lambda t: '"' not in t and "\\" not in t and "\n" not in t),
    max_size=4,
).map(lambda parts: '"' + "".join(parts) + '"')
leaves = st.one_of(
    st.builds("contact.first_name == {}".format, escaped_strings),
    st.builds("contact.score > {}".format, st.sampled_from(HUGE)),
    st.builds(
        "contact.created_at > {} {} ago".format, st.sampled_from(HUGE), st.sampled_from(UNITS)
    ),
    st.builds("had_event within {} {}".format, st.sampled_from(HUGE), st.sampled_from(UNITS)),
)
nested = st.builds(
    lambda leaf, depth, nots: "not " * nots + "(" * depth + leaf + ")" * depth,
    leaves,
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=40),
)
chained = st.builds(
    lambda leaf, count, joiner: f" {joiner} ".join([leaf] * count),
    leaves,
    st.integers(min_value=1, max_value=80),
    st.sampled_from(["and", "or"]),
)
conditions = (
    st.lists(st.sampled_from(CONDITION_WORDS), min_size=1, max_size=9).map(" ".join)
    | any_text
    | leaves
    | nested
    | chained
)


@pytest.fixture
def shop(db_url: str, clock: FrozenClock) -> Iterator[tuple[CRM, Tenant]]:
    crm = CRM(db_url, clock=clock)
    crm.migrate()
    tenant = crm.configure_tenant("shop", PACKS)
    for name in ("Ada", "Bob", "Cy"):
        tenant.add_contact({"first_name": name, "email": f"{name.lower()}@example.com"})
    yield crm, tenant
    crm.close()


def assert_clear(error: CRMError) -> None:
    assert str(error).strip(), f"{type(error).__name__} without a message"


@DB_EXAMPLES
@given(
    contact=st.integers(min_value=-2, max_value=5) | st.sampled_from([2**63, 2**64]),
    kind=any_text | st.sampled_from(["engagement", "lead_form_submitted", "quote_accepted"]),
    data=st.dictionaries(any_text | st.sampled_from(["channel", "kind"]), json_values),
    event_id=st.none() | any_text,
    at=st.none() | any_text | st.sampled_from(["2026-05-01T10:00:00", "9999-12-31", "0"]),
)
def test_event_payloads(
    shop: tuple[CRM, Tenant],
    contact: int,
    kind: str,
    data: dict[str, Any],
    event_id: str | None,
    at: str | None,
) -> None:
    crm, tenant = shop
    before = snapshot(crm)
    try:
        tenant.record_event(contact, kind, data, id=event_id, at=at)
    except (ActionError, PolicyError) as exc:
        # A rule's change was refused: the event is kept as failed, and nothing else.
        assert_clear(exc)
        after = snapshot(crm)
        changed = {name for name in after if after[name] != before[name]}
        assert changed <= {"events", "counters"}, changed
    except CRMError as exc:
        assert_clear(exc)
        assert snapshot(crm) == before
    items = [{"contact": contact, "kind": kind, "data": data, "id": event_id, "at": at}]
    summary = tenant.ingest([*items, {"contact": contact}, "not an object"])  # type: ignore[list-item]
    assert summary.total == 3
    assert summary.applied + summary.skipped + summary.failed == 3
    assert summary.failed >= 2 and all(e.strip() for e in summary.errors)


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


rule_actions = st.lists(
    st.dictionaries(
        st.sampled_from(["set", "add_tag", "remove_tag", "add_score", "smart_score", "x"]),
        st.sampled_from(["lead_status: contacted", "hot", "5", "-1e309", "status: hot"])
        | st.dictionaries(any_text, json_scalars, max_size=2)
        | any_text,
        min_size=1,
        max_size=2,
    ),
    max_size=3,
)
ruleset_documents = st.fixed_dictionaries(
    {
        "rules": st.lists(
            st.fixed_dictionaries(
                {"name": any_text, "when": conditions, "then": rule_actions},
                optional={"priority": json_scalars, "on": any_text},
            ),
            max_size=3,
        )
    },
    optional={"settings": st.dictionaries(any_text, json_scalars, max_size=2)},
)


@TEXT_EXAMPLES
@given(text=ruleset_documents.map(_yaml) | any_text)
def test_ruleset_files(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("rules") / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--db", str(path.with_suffix(".db")), "rules", "check", str(path)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert result.stdout.strip() or result.stderr.strip()


scenario_documents = st.fixed_dictionaries(
    {
        "packs": st.lists(st.sampled_from([*PACKS, "nosuch", ""]), max_size=2),
        "scenarios": st.lists(
            st.fixed_dictionaries(
                {
                    "name": any_text,
                    "given": st.dictionaries(
                        st.sampled_from(["ada", "bob", ""]),
                        st.dictionaries(
                            st.sampled_from(["facets", "score", "tags", "fields", "x"]),
                            json_values,
                            max_size=2,
                        ),
                        max_size=2,
                    ),
                    "when": st.lists(
                        st.dictionaries(
                            st.sampled_from(["event", "contact", "data", "advance", "tick"]),
                            json_scalars | st.sampled_from(["ada", "engagement", "1 day"]),
                            min_size=1,
                            max_size=3,
                        ),
                        max_size=3,
                    ),
                    "then": st.dictionaries(
                        st.sampled_from(["ada", "bob"]), json_values, max_size=1
                    ),
                }
            ),
            max_size=2,
        ),
    }
)


@TEXT_EXAMPLES
@given(text=scenario_documents.map(_yaml) | any_text)
def test_scenario_files(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("scenarios") / "fuzzed.scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "test", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output


IMPORT_COLUMNS = ["first_name", "last_name", "email", "phone", "city", "tags", "lead_status"]


@DB_EXAMPLES
@given(
    rows=st.lists(
        st.lists(
            any_text | st.sampled_from(["+1 415 555 2671", "a@b.co", "new"]), min_size=7, max_size=7
        ),
        min_size=1,
        max_size=6,
    )
)
def test_import_rows(shop: tuple[CRM, Tenant], rows: list[list[str]], tmp_path: Path) -> None:
    _, tenant = shop
    path = tmp_path / "fuzzed.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(IMPORT_COLUMNS)
        writer.writerows(rows)
    before = len(tenant.list_contacts(archived=None))
    try:
        summary = tenant.import_contacts(path, match="none")
    except CRMError as exc:  # a file that cannot be read at all
        assert_clear(exc)
        assert len(tenant.list_contacts(archived=None)) == before
        return
    after = len(tenant.list_contacts(archived=None))
    assert after == before + summary.created
    assert summary.created + summary.updated + summary.skipped + summary.failed == summary.rows
    assert all(str(e).strip() for e in summary.errors)


@DB_EXAMPLES
@given(expression=conditions)
def test_search_expressions(shop: tuple[CRM, Tenant], expression: str) -> None:
    from crmkit_contacts.segments import SavedSearches

    crm, tenant = shop
    before = snapshot(crm)
    try:
        found = tenant.list_contacts(expression)
    except CRMError as exc:
        assert_clear(exc)
    else:
        assert {c.first_name for c in found} <= {"Ada", "Bob", "Cy"}
    assert snapshot(crm) == before
    # What can be saved runs; what cannot run is never saved.
    searches = SavedSearches(tenant)
    try:
        searches.save("fuzzed", expression)
    except CRMError as exc:
        assert_clear(exc)
        assert snapshot(crm) == before
    else:
        assert {c.first_name for c in searches.run("fuzzed")} <= {"Ada", "Bob", "Cy"}
        searches.delete("fuzzed")


@DB_EXAMPLES
@given(first=any_text, last=any_text, label=any_text, reason=any_text)
def test_template_variables_are_printed_never_evaluated(
    shop: tuple[CRM, Tenant], first: str, last: str, label: str, reason: str
) -> None:
    """Whatever a contact's values hold (template syntax included) reaches a message as
    text: a pack template prints it, it never runs it."""
    from crmkit.messaging import compose

    crm, tenant = shop
    before = snapshot(crm)
    try:
        contact = tenant.add_contact({"first_name": first, "last_name": last})
    except CRMError as exc:
        assert_clear(exc)
        assert snapshot(crm) == before
        return
    try:
        _, text = compose(
            tenant.context,
            contact,
            "text",
            body=None,
            template="17hats:contact_card.txt.j2",
            extra={"type_label": label, "reason": reason},
        )
    except CRMError as exc:  # e.g. a text too long for its channel
        assert_clear(exc)
        return
    expected = f"{contact.first_name} {contact.last_name} is a {label}"
    assert text.startswith(expected.strip()[: len(text)]) or expected.strip() in text
    if reason:
        assert f", because {reason}." in text


CLI_WORDS = [
    "contacts",
    "contact",
    "show",
    "list",
    "add",
    "search",
    "event",
    "record",
    "ingest",
    "tick",
    "rules",
    "check",
    "simulate",
    "replay",
    "packs",
    "export",
    "import",
    "segment",
    "run",
    "save",
    "--json",
    "--limit",
    "--offset",
    "--where",
    "--first-name",
    "--packs",
    "--since",
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "Ada",
    "engagement",
    "17hats",
    "contact.score > 3",
    "'; DROP TABLE contacts; --",
    "--tenant",
    "other",
    "--",
    "-",
    "explain",
    "tag",
    "facet",
    "set",
    "status",
    "hot",
    "note",
    "--help",
]


@DB_EXAMPLES
@given(argv=st.lists(st.sampled_from(CLI_WORDS) | any_text, max_size=6))
def test_cli_arguments(
    shop: tuple[CRM, Tenant], argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    crm, _ = shop
    monkeypatch.setenv("CRMKIT_DATABASE_URL", crm.db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CRMKIT_TENANT", "shop")
    before = snapshot(crm)
    result = CliRunner().invoke(cli, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        argv,
        result.output,
    )
    assert result.exit_code in (0, 1, 2), (argv, result.output)
    if result.exit_code != 0:
        assert result.stderr.strip() or result.stdout.strip(), argv
        assert snapshot(crm) == before, argv
