"""The contact's built-in attributes, in one place for storage, schemas and conditions."""

from __future__ import annotations

# Optional text columns of a contact, stored as they are given (after validation).
PROFILE_FIELDS: tuple[str, ...] = (
    "email",
    "phone",
    "city",
    "state",
    "country",
    "industry",
    "lead_source",
)

# Attributes a condition may read, with their type. "time" and "number" attributes
# marked computed are worked out in SQL when a search runs (not available to rules).
CONTACT_ATTRIBUTES: dict[str, str] = {
    "id": "number",
    "first_name": "text",
    "last_name": "text",
    **{name: "text" for name in PROFILE_FIELDS},
    "account": "text",
    "archived": "bool",
    "ok_to_sms": "bool",
    "score": "number",
    "created_at": "time",
    "last_interaction": "time",
    "engagement": "number",
}

# Worked out by SQL at search time; rules cannot use them.
COMPUTED_ATTRIBUTES = frozenset({"created_at", "last_interaction", "engagement"})

# The window ``contact.engagement`` counts events over.
ENGAGEMENT_DAYS = 30
