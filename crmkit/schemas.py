"""What crosses the API boundary: pydantic v2 schemas, apart from the storage models.

Input schemas reject unknown fields; their names end in ``In``. Output schemas end in
``Out`` and are what ``--json`` prints.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crmkit.clock import as_utc

_NAME = Field(min_length=1, max_length=200)
EVENT_KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_PLAIN = frozenset({str, int, bool, type(None)})


def json_problem(value: Any, path: str = "data") -> str | None:
    """Why ``value`` is not plain JSON (objects with string keys, arrays, strings,
    finite numbers, booleans, null), or None when it is."""
    kind = type(value)
    if kind in _PLAIN:
        return None
    if kind is float:
        return None if math.isfinite(value) else f"{path} is not a finite number"
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{path} has a non-string key {key!r}"
            if type(item) not in _PLAIN:
                found = json_problem(item, f"{path}.{key}")
                if found:
                    return found
        return None
    if kind is list:
        for index, item in enumerate(value):
            found = json_problem(item, f"{path}[{index}]")
            if found:
                return found
        return None
    # Subclasses (enums, custom strings...) would not read back as what was written.
    return f"{path} holds a {kind.__name__}, which is not JSON"


class ContactIn(_In):
    first_name: str = _NAME
    last_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    account: str | None = Field(default=None, min_length=1, max_length=300)
    city: str | None = Field(default=None, max_length=200)
    state: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=200)
    industry: str | None = Field(default=None, max_length=200)
    lead_source: str | None = Field(default=None, max_length=200)
    facets: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"{value!r} is not a valid email address: {exc}") from None

    @field_validator("tags")
    @classmethod
    def _tags_not_blank(cls, value: list[str]) -> list[str]:
        cleaned = [tag.strip() for tag in value]
        if any(not tag or len(tag) > 100 for tag in cleaned):
            raise ValueError("tags must be 1 to 100 characters")
        return cleaned


class EventIn(_In):
    """One event for a contact. ``id`` defaults to a random id; ``at`` to now."""

    contact: int = Field(gt=0)
    kind: str = Field(min_length=1, max_length=100, pattern=EVENT_KIND_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1, max_length=200)
    at: datetime | None = None

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("data")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = json_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ContactOut(BaseModel):
    id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    account: str | None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    industry: str | None = None
    lead_source: str | None = None
    facets: dict[str, str]
    score: float
    tags: list[str]
    fields: dict[str, Any]
    archived: bool
    created_at: datetime


class TransitionOut(BaseModel):
    contact_id: int
    version: int
    target: Literal["facet", "tag", "score", "field"]
    name: str
    old: str | None
    new: str | None
    cause_type: Literal["rule", "manual", "import"]
    cause: str
    pack: str | None = None
    pack_version: str | None = None
    rule: str | None = None
    actor: str | None = None
    event_id: str | None = None
    at: datetime


class EventOut(BaseModel):
    id: str
    contact_id: int
    kind: str
    data: dict[str, Any]
    occurred_at: datetime
    status: Literal["applied", "failed"]
    error: str | None = None
    changes: list[TransitionOut] = Field(default_factory=list)


class IngestSummary(BaseModel):
    total: int = 0
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    changes: int = 0
    errors: list[str] = Field(default_factory=list)
