"""The phone region of a row from its country cell: an ISO code (``DE``, ``GBR`` is not
one) or a country's name in English or a language Outlook exports in, as phonenumbers'
own locale data names it (``Germany``, ``Deutschland``, ``Allemagne``...)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import phonenumbers

# The languages of the exports crmkit's vocabulary knows.
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
# Names people write that the locale data spells otherwise.
_ALSO = {
    "usa": "US",
    "unitedstatesofamerica": "US",
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "greatbritain": "GB",
    "holland": "NL",
}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    from phonenumbers.geodata.locale import LOCALE_DATA

    found: dict[str, str] = dict(_ALSO)
    for region, names in LOCALE_DATA.items():
        if region not in phonenumbers.SUPPORTED_REGIONS:
            continue
        for language in LANGUAGES:
            name = names.get(language)
            # "*xx": the same name as language xx's.
            while name is not None and name.startswith("*"):
                name = names.get(name[1:])
            if name:
                found.setdefault(_key(name), region)
    return found


def region_of_country(text: str) -> str | None:
    """The phone region (ISO 3166 code) ``text`` names, or None."""
    plain = text.strip()
    if len(plain) == 2 and plain.upper() in phonenumbers.SUPPORTED_REGIONS:
        return plain.upper()
    return _names().get(_key(plain))
