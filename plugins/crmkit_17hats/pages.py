"""The 17hats Contacts and Leads pages.

* Contacts page: contacts (optionally of some types) in alphabetical order by first
  name, grouped under letter headers (``#`` for names that do not start with a letter).
* Leads page: hot leads and cold prospects. The overview shows
  - **new** leads: hot leads that became hot leads (or were added as hot leads) within
    the last ``hats_new_days`` days (tenant setting, default 7);
  - **active** leads: the other hot leads with an interaction (any recorded event)
    within the last ``hats_active_days`` days (default 30).
  The All view lists every hot lead and cold prospect alphabetically.
Archived contacts are left out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crmkit.plugin_api import (
    ContactOut,
    ContactRow,
    PolicyError,
    Setting,
    Tenant,
    TenantScope,
    TransitionRow,
)
from crmkit_17hats.facets import CONTACT_TYPE

LEAD_TYPES = ("hot_lead", "cold_prospect")
DEFAULT_NEW_DAYS = 7
DEFAULT_ACTIVE_DAYS = 30
NEW_DAYS = Setting("hats_new_days", "number", 1, 3650, "days", "a lead is new this long")
ACTIVE_DAYS = Setting("hats_active_days", "number", 1, 3650, "days", "the active leads window")
COLD_AFTER_DAYS = Setting(
    "hats_cold_after_days", "integer", 1, 3650, "days", "a quiet hot lead goes cold after"
)


def _types_condition(types: list[str]) -> str:
    for value in types:
        CONTACT_TYPE.value(value)  # unknown types are an error naming the allowed ones
    return f"contact.contact_type in [{', '.join(types)}] and contact.archived == false"


def letter_of(contact: ContactOut) -> str:
    first = contact.first_name[:1].upper()
    return first if first.isalpha() else "#"


def contacts_page(tenant: Tenant, types: list[str] | None = None) -> list[dict[str, Any]]:
    """``[{"letter": "A", "contacts": [...]}, ...]`` in alphabetical order by first name."""
    chosen = list(types) if types else [v.name for v in CONTACT_TYPE.values]
    contacts = tenant.list_contacts(_types_condition(chosen), order="first_name")
    groups: list[dict[str, Any]] = []
    for contact in contacts:
        letter = letter_of(contact)
        if not groups or groups[-1]["letter"] != letter:
            groups.append({"letter": letter, "contacts": []})
        groups[-1]["contacts"].append(contact)
    return groups


def leads_page(tenant: Tenant, view: str = "overview") -> dict[str, Any]:
    """The Leads page: ``{"new": [...], "active": [...]}`` or ``{"all": [...]}``."""
    if view not in ("overview", "all"):
        raise PolicyError(f"unknown leads view {view!r} (use overview or all)")
    if "contact_type" not in tenant.facet_names():
        raise PolicyError(f"tenant {tenant.name!r} does not use the 17hats pack")
    if view == "all":
        return {"all": tenant.list_contacts(_types_condition(list(LEAD_TYPES)), order="first_name")}
    settings = tenant.settings()
    now = tenant.crm.clock()
    new_since = now - timedelta(days=NEW_DAYS.read(settings, DEFAULT_NEW_DAYS))
    active_days = float(ACTIVE_DAYS.read(settings, DEFAULT_ACTIVE_DAYS))
    hot = tenant.list_contacts(_types_condition(["hot_lead"]), order="first_name")
    with tenant.crm.db.connect() as conn:
        scope = TenantScope(tenant.runtime(conn).tenant_id)
        t = TransitionRow.__table__.c
        c = ContactRow.__table__.c
        ids = [contact.id for contact in hot]
        became_hot = scope.select(t.contact_id).where(
            t.contact_id.in_(ids), t.name == "contact_type", t.new == "hot_lead", t.at >= new_since
        )
        added_lately = scope.select(c.id).where(c.id.in_(ids), c.created_at >= new_since)
        fresh = set(conn.scalars(became_hot)) | set(conn.scalars(added_lately))
    new = [contact for contact in hot if contact.id in fresh]
    recent = {
        contact.id
        for contact in tenant.list_contacts(
            f"contact.contact_type == hot_lead and contact.last_interaction >= "
            f"{active_days:g} days ago"
        )
    }
    active = [contact for contact in hot if contact.id not in fresh and contact.id in recent]
    return {"new": new, "active": active}
