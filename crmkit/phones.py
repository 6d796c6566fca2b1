"""Phone numbers: parsing to E.164, line types, and what they mean for texting.

Numbers are parsed with ``phonenumbers`` (Google's libphonenumber metadata) in the
tenant's region (setting ``phone_region``, default ``US``) and stored in E.164
(``+14155550123``). Whether a number can receive texts comes from the
``crmkit_phone_line_type`` hook; when no plugin answers, crmkit falls back to the offline
metadata, which tells mobile from landline in most countries but not in North America
(there every valid number is "fixed line or mobile", which crmkit treats as textable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from crmkit.errors import ConfigError

DEFAULT_REGION = "US"
LANDLINE_NOTE = "Landline number, SMS not allowed."

# What ``crmkit_phone_line_type`` may answer.
LINE_TYPES = frozenset(
    {
        "mobile",
        "landline",
        "fixed_line_or_mobile",
        "voip",
        "toll_free",
        "premium_rate",
        "pager",
        "other",
    }
)
# Line types a text can be delivered to.
TEXTABLE = frozenset({"mobile", "fixed_line_or_mobile", "voip"})

_OFFLINE = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.PAGER: "pager",
}


def region_of(settings: Mapping[str, Any]) -> str:
    """The tenant's phone region (ISO 3166 code), checked against the metadata."""
    region = str(settings.get("phone_region") or DEFAULT_REGION).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"setting phone_region {region!r} is not a known region code")
    return region


def parse_phone_type(text: str, region: str) -> tuple[str, str]:
    """``text`` as an E.164 number with its offline line type (one of
    :data:`LINE_TYPES`); ``ValueError`` says why it is not a valid number.

    One parse serves both: phonenumbers' validity check is its type lookup answering
    something other than UNKNOWN, so asking for the type alone does the work once.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number ({exc._msg})") from None
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise ValueError(f"{text!r} is not a valid phone number (region {region})")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, _OFFLINE.get(kind, "other")


def parse_phone(text: str, region: str) -> str:
    """``text`` as an E.164 number; ``ValueError`` says why it is not a valid number."""
    return parse_phone_type(text, region)[0]


def offline_line_type(number: str) -> str:
    """The line type phonenumbers' offline metadata gives an E.164 number."""
    kind = phonenumbers.number_type(phonenumbers.parse(number, None))
    return _OFFLINE.get(kind, "other")


def sms_permission(line_type: str) -> tuple[bool, str | None]:
    """Whether a number of this line type may be texted, and the note when not."""
    if line_type in TEXTABLE:
        return True, None
    if line_type == "landline":
        return False, LANDLINE_NOTE
    label = line_type.replace("_", "-").capitalize()
    return False, f"{label} number, SMS not allowed."
