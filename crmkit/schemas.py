"""What crosses the API boundary: pydantic v2 schemas, apart from the storage models.

Input schemas reject unknown fields; their names end in ``In``. Output schemas end in
``Out`` and are what ``--json`` prints.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from crmkit.clock import as_utc
from crmkit.emails import check_email
from crmkit.storage.types import INT64_MAX

_NAME = Field(min_length=1, max_length=200)
_AsGiven = Annotated[str, StringConstraints(strip_whitespace=False)]
EVENT_KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
EVENT_KIND_MAX = 100
EVENT_ID_MAX = 200


def nul_problem(value: Any, path: str) -> str | None:
    """Where ``value`` (nested in lists and mappings, keys included) holds text that no
    database stores: a NUL character (PostgreSQL keeps it in neither text nor JSON) or a
    lone surrogate (not UTF-8, so neither driver can send it); None when it holds none."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path} contains a NUL character (\\x00)"
        return None if value.isascii() else _surrogate_problem(value, path)
    if isinstance(value, dict):
        for key, item in value.items():
            found = nul_problem(key, f"{path} key {key!r}") or nul_problem(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_problem(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _surrogate_problem(value: str, path: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        return f"{path} contains a lone surrogate (\\u{code:04x}), which is not UTF-8"
    return None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for name, value in values.items():
                problem = nul_problem(value, str(name))
                if problem:
                    raise ValueError(problem)
        return values


_PLAIN = frozenset({str, int, bool, type(None)})


# Deeper data is refused: no CRM event needs it, and walking it (here, in the drivers
# and in orjson, whose own limit is 255) must stay far from Python's recursion limit.
JSON_DEPTH_MAX = 64


def json_problem(value: Any, path: str = "data", depth: int = 0) -> str | None:
    """Why ``value`` is not plain JSON that both databases store (objects with string
    keys, arrays, strings without NUL characters or lone surrogates, 64-bit integers,
    finite numbers, booleans, null; at most ``JSON_DEPTH_MAX`` levels), or None when it
    is."""
    kind = type(value)
    if kind is str:
        return nul_problem(value, path)
    if kind is int:
        if -INT64_MAX - 1 <= value <= INT64_MAX:
            return None
        return f"{path} is an integer beyond 64 bits"
    if kind in _PLAIN:
        return None
    if kind is float:
        return None if math.isfinite(value) else f"{path} is not a finite number"
    if kind is dict or kind is list:
        if depth >= JSON_DEPTH_MAX:
            return f"{path} is nested deeper than {JSON_DEPTH_MAX} levels"
        depth += 1
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"{path} has a non-string key {key!r}"
            if "\x00" in key or not key.isascii():
                found = nul_problem(key, f"{path} key {key!r}")
                if found:
                    return found
            if type(item) is str or type(item) not in _PLAIN or type(item) is int:
                found = json_problem(item, f"{path}.{key}", depth)
                if found:
                    return found
        return None
    if kind is list:
        for index, item in enumerate(value):
            found = json_problem(item, f"{path}[{index}]", depth)
            if found:
                return found
        return None
    # Subclasses (enums, custom strings...) would not read back as what was written.
    return f"{path} holds a {kind.__name__}, which is not JSON"


def _email_address(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    return check_email(value)


def clean_tag(tag: object) -> str:
    """A tag as stored: stripped, 1 to 100 characters (ValueError otherwise)."""
    cleaned = tag.strip() if isinstance(tag, str) else ""
    if not cleaned or len(cleaned) > 100:
        raise ValueError(f"invalid tag {tag!r}: tags are 1 to 100 characters")
    return cleaned


def _clean_tags(value: list[str]) -> list[str]:
    return [clean_tag(tag) for tag in value]


class ContactIn(_In):
    """A new contact. ``phone`` is the cell phone (stored in E.164); ``ok_to_sms``
    records express permission to text it, and is otherwise decided by the phone check.
    ``fields`` holds profile fields by name; an unknown name adds a custom field."""

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
    ok_to_sms: bool | None = None

    _email = field_validator("email")(_email_address)
    _tags = field_validator("tags")(_clean_tags)


class ContactPatch(_In):
    """Changes to a contact: only the given keys change; None or "" clears a value
    (except the first name). ``fields`` changes only the fields it names."""

    first_name: str | None = Field(default=None, min_length=1, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    account: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=200)
    state: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=200)
    industry: str | None = Field(default=None, max_length=200)
    lead_source: str | None = Field(default=None, max_length=200)
    ok_to_sms: bool | None = None
    fields: dict[str, Any] = Field(default_factory=dict)

    _email = field_validator("email")(_email_address)

    @field_validator("first_name")
    @classmethod
    def _name_kept(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("the first name cannot be cleared")
        return value


class EventIn(_In):
    """One event for a contact. ``id`` defaults to a random id; ``at`` to now."""

    contact: int = Field(gt=0, le=INT64_MAX)  # a larger id can name nothing
    kind: str = Field(min_length=1, max_length=EVENT_KIND_MAX, pattern=EVENT_KIND_PATTERN)
    # Event data is the sender's JSON, kept as given: keys are not stripped like names.
    data: dict[_AsGiven, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, min_length=1, max_length=EVENT_ID_MAX)
    at: datetime | None = None

    @field_validator("contact", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # JSON's true is no contact id, though Python counts it as 1.
        if isinstance(value, bool):
            raise ValueError("a contact id is an integer, not true or false")
        return value

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, values: Any) -> Any:
        """Replaces the deep walk of ``_In`` (events are ingest's hot path): ``data`` is
        walked once, by ``json_problem``, which finds NUL characters too; the top-level
        text is checked here."""
        if isinstance(values, dict):
            for name, value in values.items():
                if type(value) is str:
                    problem = nul_problem(value, str(name))
                    if problem:
                        raise ValueError(problem)
        return values

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
    ok_to_sms: bool = False
    sms_note: str | None = None


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


class FieldOut(BaseModel):
    """A profile field as the tenant has it: declared by a pack or a custom field."""

    name: str
    label: str
    type: str
    section: str
    choices: list[str] = Field(default_factory=list)
    source: str


class ActionOut(BaseModel):
    id: int
    contact_id: int
    kind: Literal["step", "text", "email", "appointment", "reminder"]
    title: str
    due_at: datetime
    status: Literal["pending", "running", "done", "failed", "cancelled"]
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    result: str | None = None
    message_id: int | None = None
    cause: str
    done_at: datetime | None = None


class MessageOut(BaseModel):
    id: int
    contact_id: int
    channel: Literal["sms", "email"]
    direction: Literal["in", "out"]
    address: str
    subject: str | None = None
    body: str
    status: Literal["sending", "sent", "failed", "received"]
    error: str | None = None
    reference: str | None = None
    action_id: int | None = None
    at: datetime
