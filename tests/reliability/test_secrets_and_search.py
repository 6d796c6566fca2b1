"""Secrets are stored only as salted scrypt hashes; search expressions compile to SQL
with every value a bound parameter (the token flows of the portal, single use and
expiry, are tests in test_funnel.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from crmkit_funnel.portal import PASSWORD_COST, hash_secret, verify_secret
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import Tenant
from crmkit.errors import ValidationError
from crmkit.filters import quote
from crmkit.storage.models import ContactRow
from crmkit.testing.properties import examples

INJECTIONS = [
    "x' OR '1'='1",
    'x"; DROP TABLE contacts; --',
    "') UNION SELECT name FROM tenants --",
    "%' OR 1=1 --",
    "\\'; DELETE FROM events; --",
]


def test_the_same_secret_hashes_differently_each_time_and_verifies() -> None:
    first, second = hash_secret("correct horse"), hash_secret("correct horse")
    assert first != second  # a fresh salt each time
    assert first.startswith(f"scrypt${PASSWORD_COST}$8$1$") and "correct horse" not in first
    assert verify_secret("correct horse", first) and verify_secret("correct horse", second)
    assert not verify_secret("correct horsf", first)
    assert not verify_secret("correct horse", "scrypt$broken") and not verify_secret("x", None)


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.sampled_from([*INJECTIONS, "\U0001f600", "\\ud83d"])
    | st.text(min_size=1, max_size=30),
    template=st.sampled_from(
        [
            "contact.first_name == {v}",
            "contact.fields.city != {v}",
            "contact.tags has {v}",
            "contact.fields.city in [{v}, Leeds]",
            "engaged(event.data.channel == {v}) within 30 days",
        ]
    ),
)
def test_search_values_are_bound_parameters_never_sql_text(
    acme: Tenant, value: str, template: str
) -> None:
    marked = f"Zq{value}"
    expression = template.format(v=quote(marked))
    with acme.crm.db.connect() as conn:
        condition = acme.contact_filter(conn, expression)
        compiled = sa.select(ContactRow.id).where(condition).compile(dialect=conn.dialect)
        assert marked not in str(compiled)
        # (names compare without case: the parameter may be lowercased)
        bound = [
            str(item).lower()
            for param in compiled.params.values()
            for item in (param if isinstance(param, list | tuple) else [param])
        ]
        assert any(marked.lower() in item for item in bound)
        if "\x00" in value and conn.dialect.name == "postgresql":
            with pytest.raises(ValidationError, match="NUL character"):
                conn.execute(sa.select(ContactRow.id).where(condition))
        else:
            assert conn.execute(sa.select(ContactRow.id).where(condition)).all() == []
