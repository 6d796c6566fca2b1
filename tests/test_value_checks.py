"""The fast paths for emails and phones agree with the libraries they shortcut."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit.emails import normalize_email
from crmkit.phones import offline_line_type, parse_phone_type
from crmkit.testing.properties import examples

_ATEXT = "abcXYZ019_!#$%&'*+-/=?^`{|}~"
local_parts = st.one_of(
    st.text(alphabet=_ATEXT + ".", min_size=0, max_size=70),
    st.text(alphabet=_ATEXT + '."@ <>é\\', min_size=1, max_size=20),
    st.sampled_from(["ann", "a.b", ".ann", "ann.", "a..b", '"quoted"', "Ann <ann", "ünï"]),
)
labels = st.text(alphabet="abcxyz019-", min_size=1, max_size=70)
domains = st.one_of(
    st.lists(labels, min_size=1, max_size=4).map(".".join),
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.COM",
            "mail.example.co.uk",
            "localhost",
            "host.test",
            "host.invalid",
            "x.onion",
            "1.2.3.4",
            "[127.0.0.1]",
            "bücher.de",
            "xn--bcher-kva.de",
            "a@b.com",
            "example.com.",
            "-bad.com",
            "b" * 250 + ".com",
            "",
        ]
    ),
)


def _library(address: str) -> str | None:
    try:
        return str(validate_email(address, check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def _ours(address: str) -> str | None:
    try:
        return normalize_email(address)
    except EmailNotValidError:
        return None


@settings(max_examples=examples(3000), deadline=None)
@given(local=local_parts, domain=domains)
def test_email_fast_path_agrees_with_email_validator(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert _ours(address) == _library(address)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Ann.Lee@Example.COM", "Ann.Lee@example.com"),
        ("ann@bücher.de", "ann@bücher.de"),
        ("ann@xn--bcher-kva.de", "ann@bücher.de"),
        ("ann@localhost", None),
        ("ann@@example.com", None),
        ("a" * 250 + "@example.com", None),
    ],
)
def test_email_examples(address: str, expected: str | None) -> None:
    assert _ours(address) == expected == _library(address)


def _library_phone(text: str, region: str) -> tuple[str, str] | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, offline_line_type(e164)


@settings(max_examples=examples(2000), deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=3, max_size=16),
    prefix=st.sampled_from(["", "+", "+1", "+44", "+33", "0", "00"]),
    region=st.sampled_from(["US", "GB", "FR", "DE", "IN", "BR"]),
)
def test_one_parse_gives_validity_and_line_type(digits: str, prefix: str, region: str) -> None:
    text = prefix + digits
    try:
        ours: tuple[str, str] | None = parse_phone_type(text, region)
    except ValueError:
        ours = None
    assert ours == _library_phone(text, region)


def test_line_types_from_one_parse() -> None:
    assert parse_phone_type("07400 123456", "GB") == ("+447400123456", "mobile")
    assert parse_phone_type("020 7183 8750", "GB") == ("+442071838750", "landline")
    assert parse_phone_type("(415) 555-2671", "US")[1] == "fixed_line_or_mobile"
