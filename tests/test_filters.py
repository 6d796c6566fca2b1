"""``build_filter`` builds a condition tree: an option's value is one value, whatever it
holds, so no option can widen the ``where=`` an application adds; a malformed value is
an error naming the option."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import invoker, snapshot

from crmkit import CRM, Tenant
from crmkit.conditions.ast import Compare
from crmkit.errors import ConditionError, CRMError, ValidationError
from crmkit.filters import build_filter
from crmkit.testing.properties import examples

ONLY_ADA = "contact.first_name == Ada"


@pytest.fixture
def shop(crm: CRM) -> Tenant:
    tenant = crm.configure_tenant("shop", ["funnel"])
    tenant.add_contact({"first_name": "Ada", "city": "Leeds", "facets": {"role": "client"}})
    tenant.add_contact({"first_name": "Bob", "city": "York"})
    tenant.record_event(1, "engagement")
    return tenant


def names(tenant: Tenant, **filters: Any) -> list[str]:
    return [c.first_name for c in tenant.list_contacts(build_filter(**filters))]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"facets": {"id > 0 or contact.role": "lead"}},
            "--facet 'id > 0 or contact.role=lead': 'id > 0 or contact.role' is not a facet name",
        ),
        (
            {"interacted_since": "1 minutes ago or contact.id > 0"},
            "--interacted-since '1 minutes ago or contact.id > 0': use an ISO date",
        ),
        (
            {"not_interacted_since": "2026-01-01) or (contact.id > 0"},
            "--not-interacted-since '2026-01-01) or (contact.id > 0': use an ISO date",
        ),
        (
            {"interacted_since": "99999999 days ago"},
            "--interacted-since '99999999 days ago': 99999999 days is more than 100 years",
        ),
        (
            {"interacted_since": "1e999 days ago"},
            "--interacted-since '1e999 days ago': 1e999 days is more than 100 years",
        ),
        ({"location": "\ud800"}, "--location '\\ud800': U+D800 is half of a surrogate pair"),
    ],
)
def test_an_option_that_would_widen_the_search_is_an_error_naming_it(
    shop: Tenant, filters: dict[str, Any], message: str
) -> None:
    before = snapshot(shop.crm)
    with pytest.raises(ValidationError) as caught:
        names(shop, where=ONLY_ADA, **filters)
    assert str(caught.value).startswith(message), str(caught.value)
    assert snapshot(shop.crm) == before


def test_text_that_looks_like_a_condition_is_one_value(shop: Tenant) -> None:
    assert names(shop, where=ONLY_ADA, location='x" or contact.id > 0 or contact.city == "y') == []
    assert names(shop, where=ONLY_ADA, industry="x) or (contact.id > 0") == []
    assert names(shop, where=ONLY_ADA, location="Leeds") == ["Ada"]
    assert names(shop, facets={"role": "client"}) == ["Ada"]
    assert names(shop, interacted_since="1 minutes ago") == ["Ada"]
    assert names(shop, interacted_since=" 2026-04-30 ", facets={"city": "Leeds"}) == ["Ada"]
    assert names(shop, not_interacted_since="2026-04-30") == []


def test_a_filter_is_a_tree_checked_against_the_tenant_when_it_runs(shop: Tenant) -> None:
    node = build_filter(facets={"role": "nope"})
    assert node == Compare("contact.role", "==", "nope")
    with pytest.raises(ConditionError, match="'nope' is not a value of facet 'role'"):
        shop.list_contacts(node)
    with pytest.raises(ConditionError, match="unknown path 'contact.nosuch'"):
        shop.list_contacts(Compare("contact.nosuch", "==", "x"))
    with pytest.raises(ConditionError, match="not finite"):
        shop.list_contacts(Compare("contact.score", ">", float("inf")))


def test_the_cli_refuses_a_widening_option_on_one_line(
    shop: Tenant, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = invoker(db_url, monkeypatch, "shop")
    for args, message in [
        (["--facet", "id > 0 or contact.role=lead"], "error: --facet 'id > 0 or contact.role"),
        (["--interacted-since", "1 minutes ago or contact.id > 0"], "error: --interacted-since"),
        (["--facet", "role=nope"], "error: --facet 'role=nope': 'nope' is not a value of facet"),
        (["--where", "contact.id > 0 or", "--facet", "role=lead"], "error: invalid condition"),
    ]:
        error = run("contact", "list", "--where", ONLY_ADA, *args, code=1)
        assert error.startswith(message) and error.count("\n") == 1, error


texts = st.text(max_size=30) | st.sampled_from(
    [
        "id > 0 or contact.role",
        "1 minutes ago or contact.id > 0",
        '" or 1 == 1 or "',
        "30 days ago",
        "2026-04-30",
        "99999999 days ago",
        "role",
        "client",
    ]
)


@settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    option=st.sampled_from(
        ["location", "industry", "lead_source", "facet", "interacted_since", "not_since"]
    ),
    key=texts,
    value=texts,
)
def test_no_option_value_widens_the_where_or_raises_anything_else(
    shop: Tenant, option: str, key: str, value: str
) -> None:
    make: dict[str, Callable[[], dict[str, Any]]] = {
        "facet": lambda: {"facets": {key: value}},
        "not_since": lambda: {"not_interacted_since": value},
    }
    filters = make.get(option, lambda: {option: value})()
    before = snapshot(shop.crm)
    try:
        found = names(shop, where=ONLY_ADA, **filters)
    except CRMError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
    else:
        assert set(found) <= {"Ada"}
    assert snapshot(shop.crm) == before
