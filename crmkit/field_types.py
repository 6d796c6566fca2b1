"""Typed profile fields: what a pack or a tenant declares, and how values are checked.

A value is cleaned into its stored JSON form (numbers, booleans, ISO dates, normalised
emails, E.164 phones, URLs); a bad value raises ``ValueError`` with the reason, which
callers prefix with the field's name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import HttpUrl, TypeAdapter
from pydantic import ValidationError as PydanticError

from crmkit.emails import check_email
from crmkit.errors import ConfigError
from crmkit.phones import parse_phone

FIELD_TYPES = (
    "text",
    "integer",
    "number",
    "percent",
    "bool",
    "date",
    "email",
    "phone",
    "url",
    "choice",
)
# Where a field shows on the profile.
SECTIONS = ("header", "info", "expanded", "opportunity", "custom")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,59}")
TEXT_LIMIT = 2000
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})
_URL = TypeAdapter(HttpUrl)


def field_name(label: str) -> str:
    """The field name a label gives: lower case, words joined by ``_``."""
    name = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    if name and not name[0].isalpha():
        name = f"field_{name}"
    if not FIELD_NAME.fullmatch(name):
        raise ValueError(f"{label!r} does not make a field name (use letters and digits)")
    return name


@dataclass(frozen=True)
class FieldSpec:
    """One profile field. ``type`` is one of :data:`FIELD_TYPES`; ``choices`` lists the
    values of a ``choice`` field; ``section`` is where the profile shows it."""

    name: str
    label: str
    type: str = "text"
    section: str = "custom"
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not FIELD_NAME.fullmatch(self.name):
            raise ConfigError(
                f"field name {self.name!r}: use lower-case letters, digits and _ "
                "(starting with a letter, at most 60)"
            )
        if self.type not in FIELD_TYPES:
            raise ConfigError(
                f"field {self.name!r}: unknown type {self.type!r} (one of {', '.join(FIELD_TYPES)})"
            )
        if self.section not in SECTIONS:
            raise ConfigError(
                f"field {self.name!r}: unknown section {self.section!r} "
                f"(one of {', '.join(SECTIONS)})"
            )
        if (self.type == "choice") != bool(self.choices):
            raise ConfigError(f"field {self.name!r}: choices go with type choice, and only it")

    def clean(self, value: Any, region: str) -> Any:
        """The stored form of ``value`` (None clears the field)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _CLEANERS[self.type](self, value, region)


def _text(spec: FieldSpec, value: Any, region: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > TEXT_LIMIT:
        raise ValueError(f"is longer than {TEXT_LIMIT} characters")
    return text


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", "").strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _plain(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _integer(spec: FieldSpec, value: Any, region: str) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _decimal(spec: FieldSpec, value: Any, region: str) -> int | float:
    return _plain(_number(value))


def _percent(spec: FieldSpec, value: Any, region: str) -> int | float:
    text = value.strip().removesuffix("%") if isinstance(value, str) else value
    number = _number(text)
    if not 0 <= number <= 100:
        raise ValueError(f"{value!r} is not a percentage from 0 to 100")
    return _plain(number)


def _bool(spec: FieldSpec, value: Any, region: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not yes or no")


def _date(spec: FieldSpec, value: Any, region: str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD)") from None
    raise ValueError(f"expected a date, got {type(value).__name__}")


def _email(spec: FieldSpec, value: Any, region: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an email address, got {type(value).__name__}")
    return check_email(value.strip())


def _phone(spec: FieldSpec, value: Any, region: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a phone number, got {type(value).__name__}")
    return parse_phone(value, region)


def _url(spec: FieldSpec, value: Any, region: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a URL, got {type(value).__name__}")
    try:
        return str(_URL.validate_python(value.strip()))
    except PydanticError:
        raise ValueError(f"{value!r} is not an http(s) URL") from None


def _choice(spec: FieldSpec, value: Any, region: str) -> str:
    text = str(value).strip()
    for choice in spec.choices:
        if choice.lower() == text.lower():
            return choice
    raise ValueError(f"{value!r} is not one of {', '.join(spec.choices)}")


_CLEANERS = {
    "text": _text,
    "integer": _integer,
    "number": _decimal,
    "percent": _percent,
    "bool": _bool,
    "date": _date,
    "email": _email,
    "phone": _phone,
    "url": _url,
    "choice": _choice,
}


def infer_type(value: Any) -> str:
    """The type a new custom field gets from its first value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    raise ValueError(
        f"a custom field holds text, a number or yes/no, not {type(value).__name__} "
        "(declare its type to store dates, emails, phones or URLs)"
    )
