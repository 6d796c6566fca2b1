"""Reading contacts for display: a page of :class:`ContactOut` in one query.

Searches and listings return contacts with their facets and tags. Rather than loading
the page's ids and then three more queries with the ids bound as parameters, one
statement selects each contact's row with its facets and tags aggregated as JSON by
correlated subqueries: the database does the per-row work, and a search costs one round
trip whatever its page size.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Select

from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.schemas import ContactOut
from crmkit.storage.models import AccountRow, ContactFacetRow, ContactRow, ContactTagRow
from crmkit.storage.scope import TenantScope
from crmkit.storage.types import json_as_text


@lru_cache(maxsize=256)
def page_query(dialect: str, tenant_id: int) -> Select[Any]:
    """SELECT of everything a :class:`ContactOut` needs, for one tenant.

    Add WHERE, ORDER BY, LIMIT as needed (statements are immutable, so the cached one is
    never changed); turn the rows into contacts with :func:`contacts_from_rows`.
    """
    scope = TenantScope(tenant_id)
    c = ContactRow.__table__.c
    f = ContactFacetRow.__table__.c
    t = ContactTagRow.__table__.c
    a = AccountRow.__table__.c
    if dialect == "sqlite":
        facets_agg = sa.func.json_group_object(f.facet, f.value)
        tags_agg = sa.func.json_group_array(t.tag)
    else:
        facets_agg = sa.func.json_object_agg(f.facet, f.value)
        tags_agg = sa.func.json_agg(t.tag)
    facets = (
        sa.select(json_as_text(dialect, facets_agg))
        .where(f.tenant_id == scope.tenant_id, f.contact_id == c.id)
        .scalar_subquery()
    )
    tags = (
        sa.select(json_as_text(dialect, tags_agg))
        .where(t.tenant_id == scope.tenant_id, t.contact_id == c.id)
        .scalar_subquery()
    )
    account = (
        sa.select(a.name)
        .where(a.tenant_id == scope.tenant_id, a.id == c.account_id)
        .scalar_subquery()
    )
    return scope.select(
        c.id,
        c.first_name,
        c.last_name,
        *(c[name] for name in PROFILE_FIELDS),
        account,
        facets,
        c.score,
        tags,
        json_as_text(dialect, c.fields),
        c.archived,
        c.created_at,
        c.ok_to_sms,
        c.sms_note,
    )


_NAMES = (
    "id",
    "first_name",
    "last_name",
    *PROFILE_FIELDS,
    "account",
    "facets",
    "score",
    "tags",
    "fields",
    "archived",
    "created_at",
    "ok_to_sms",
    "sms_note",
)


def contacts_from_rows(rows: Sequence[Any]) -> list[ContactOut]:
    """:class:`ContactOut` for each row of :func:`page_query`, in order."""
    found = []
    for row in rows:
        values = dict(zip(_NAMES, row, strict=True))
        facets = orjson.loads(values["facets"]) if values["facets"] else {}
        values["facets"] = dict(sorted(facets.items()))
        values["tags"] = sorted(orjson.loads(values["tags"])) if values["tags"] else []
        fields = orjson.loads(values["fields"]) if values["fields"] else {}
        values["fields"] = fields if isinstance(fields, dict) else {}
        found.append(ContactOut.model_validate(values))
    return found
