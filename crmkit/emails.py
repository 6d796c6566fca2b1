"""Email addresses, checked and normalised by email-validator, with a cached domain.

email-validator spends about 40 µs on an address, nearly all of it on the domain
(IDNA and label checks). An import checks a million addresses that share a few thousand
domains, so an address whose local part is a plain RFC 5322 dot-atom (what
email-validator itself accepts as-is) has its domain checked once per domain and its
lengths checked here; anything else (quoted or international local parts, display
names, errors) goes to email-validator whole. A differential test keeps both paths in
agreement.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

# RFC 5322 atext, as email-validator's DOT_ATOM_TEXT has it.
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
# RFC 5321 4.5.3.1.3, counted in UTF-8 bytes like email-validator does.
_MAX_LENGTH = 254


@lru_cache(maxsize=8192)
def _domain(domain: str) -> tuple[str, str] | None:
    """(normalised domain, its ASCII form) when ``domain`` is valid, else None."""
    try:
        checked = validate_email("x@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def _fits(local: str, domain: str) -> bool:
    return len(local.encode()) + 1 + len(domain.encode()) <= _MAX_LENGTH


def normalize_email(address: str) -> str:
    """``address`` in its normalised form; :class:`EmailNotValidError` says why not."""
    local, at, domain = address.partition("@")
    if at and _DOT_ATOM.fullmatch(local):
        found = _domain(domain)
        if found is not None and all(_fits(local, d) for d in (domain, *found)):
            return f"{local}@{found[0]}"
    # Everything else, errors included (for email-validator's own message).
    return str(validate_email(address, check_deliverability=False).normalized)


def check_email(address: str) -> str:
    """:func:`normalize_email` with a ``ValueError`` naming the address, for schemas and
    typed fields."""
    try:
        return normalize_email(address)
    except EmailNotValidError as exc:
        raise ValueError(f"{address!r} is not a valid email address: {exc}") from None
