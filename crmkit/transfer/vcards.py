"""Reading vCards (2.1, 3.0 and 4.0) and writing them (3.0), with vobject.

A vCard file is read as a table whose columns are import targets, one row per card, so
it goes through the same checks, matching and journal as a CSV file: row N is the file's
card N - 1 (row 1 is the header the cards are given). Each card gives its names, first
organisation and title, every email and phone (a cell phone first: it is the contact's
phone), its first address, birthday, anniversary, first URL, note and categories. A card
vobject cannot read is refused as one row, naming the line it starts on; the others
are imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crmkit.errors import ValidationError
from crmkit.schemas import ContactOut
from crmkit.transfer.files import Problem, ProblemRow, TableFile, detect_encoding
from crmkit.transfer.rows import join_list

# The columns a card is read into: each an import target, so the mapping is these.
HEADER = (
    "first_name",
    "last_name",
    "name",
    "account",
    "fields.job_title",
    "phone",
    "phones",
    "emails",
    "fields.street",
    "city",
    "state",
    "fields.postal_code",
    "country",
    "fields.birthday:date",
    "fields.anniversary:date",
    "fields.website:url",
    "notes",
    "tags",
)
SEPARATOR = " ::: "
_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.I)
_END = re.compile(r"^END:VCARD\s*$", re.I)
_MOBILE = frozenset({"cell", "mobile", "iphone"})


def is_vcard(path: Path) -> bool:
    """Whether ``path`` holds vCards: by extension, else by its first line."""
    if path.suffix.lower() in (".vcf", ".vcard"):
        return True
    with path.open("rb") as f:
        start = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:11].upper() == b"BEGIN:VCARD"


def _types(prop: Any) -> set[str]:
    """A property's types, from 2.1's bare parameters (``TEL;CELL``) and ``TYPE=``."""
    found = {str(p).lower() for p in getattr(prop, "singletonparams", [])}
    for value in prop.params.get("TYPE", []):
        found.update(part.strip().strip('"').lower() for part in str(value).split(","))
    return found


def _text(card: Any, name: str) -> str:
    prop = card.contents.get(name)
    if not prop:
        return ""
    value = prop[0].value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v)
    return str(value).strip()


def _date(text: str) -> str:
    """vCard dates (``19850412``, ``1985-04-12``, ``--0412``) as ISO dates."""
    digits = re.sub(r"[^0-9]", "", text.split("T")[0])
    if len(digits) == 8 and not text.startswith("--"):
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return text


def card_row(card: Any) -> list[str]:
    """One card as cells in :data:`HEADER` order."""
    values = dict.fromkeys(HEADER, "")
    if "n" in card.contents:
        name = card.n.value
        values["first_name"] = " ".join(_parts(name.given) + _parts(name.additional))
        values["last_name"] = " ".join(_parts(name.family))
    values["name"] = _text(card, "fn")
    org = card.contents.get("org")
    if org:
        parts = org[0].value if isinstance(org[0].value, list) else [org[0].value]
        values["account"] = str(parts[0]).strip() if parts else ""
    values["fields.job_title"] = _text(card, "title")
    phones = card.contents.get("tel", [])
    cells = [p for p in phones if _types(p) & _MOBILE]
    values["phone"] = _phone(cells[0].value) if cells else ""
    values["phones"] = SEPARATOR.join(_phone(p.value) for p in phones if p not in cells[:1])
    emails = sorted(card.contents.get("email", []), key=lambda e: "pref" not in _types(e))
    values["emails"] = SEPARATOR.join(str(e.value).strip() for e in emails)
    adr = card.contents.get("adr")
    if adr:
        address = adr[0].value
        values["fields.street"] = " ".join(_parts(address.street))
        values["city"] = " ".join(_parts(address.city))
        values["state"] = " ".join(_parts(address.region))
        values["fields.postal_code"] = " ".join(_parts(address.code))
        values["country"] = " ".join(_parts(address.country))
    values["fields.birthday:date"] = _date(_text(card, "bday"))
    values["fields.anniversary:date"] = _date(_text(card, "anniversary"))
    values["fields.website:url"] = _text(card, "url")
    values["notes"] = _text(card, "note")
    categories = card.contents.get("categories")
    if categories:
        names = categories[0].value
        values["tags"] = join_list([str(n).strip() for n in names if str(n).strip()])
    return [values[name] for name in HEADER]


def _parts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value).strip()] if value and str(value).strip() else []


def _phone(value: Any) -> str:
    return str(value).strip().removeprefix("tel:")


def _cards(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each card; nested cards (4.0 ``AGENT``) stay inside."""
    depth, start = 0, 0
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _BEGIN.match(line):
            depth += 1
            if depth == 1:
                start, lines = number, []
        if depth:
            lines.append(line)
        if _END.match(line) and depth:
            depth -= 1
            if depth == 0:
                yield start, "\r\n".join(lines) + "\r\n"


def open_vcards(path: Path, encoding: str | None) -> TableFile:
    """Open a vCard file as a table of :data:`HEADER` columns."""
    import vobject  # only vCard files need it

    data = path.read_bytes()
    if encoding is None:
        encoding = detect_encoding(data, at_end=True)
    try:
        text = data.decode(encoding, errors="replace")
    except LookupError:
        raise ValidationError(f"unknown encoding {encoding!r}") from None
    cards = list(_cards(text.lstrip("\ufeff")))
    if not cards:
        raise ValidationError(f"{path.name} holds no vCard (no BEGIN:VCARD ... END:VCARD)")

    def rows() -> Iterator[list[Any]]:
        for line, card_text in cards:
            try:
                card = vobject.readOne(card_text, ignoreUnreadable=True)
                yield card_row(card)
            except Exception as exc:  # vobject raises many kinds for a bad card
                reason = f"the vCard starting on line {line} cannot be read: {exc}"
                problem = Problem(0, "-", card_text[:80], reason, whole_row=True)
                yield ProblemRow([""] * len(HEADER), [problem])

    done = [0]

    def counted() -> Iterator[list[Any]]:
        for row in rows():
            done[0] += 1
            yield row

    return TableFile(
        path=path,
        format="vcf",
        header=list(HEADER),
        encoding=encoding,
        _position=lambda: done[0] / len(cards),
        _rows=counted(),
    )


def contact_card(contact: ContactOut) -> str:
    """A contact as a vCard 3.0 (what address books read most widely), serialised by
    vobject: names, company, title, email, cell phone, address, birthday, website,
    categories (the tags). Importing it reads the same values back."""
    import vobject  # only vCard exports need it

    card = vobject.vCard()
    given, family = contact.first_name, contact.last_name
    card.add("n").value = vobject.vcard.Name(family=family, given=given)
    shown = " ".join(part for part in (given, family) if part)
    card.add("fn").value = shown or contact.account or contact.email or f"contact {contact.id}"
    if contact.account:
        card.add("org").value = [contact.account]
    fields = contact.fields
    if fields.get("job_title"):
        card.add("title").value = str(fields["job_title"])
    if contact.email:
        email = card.add("email")
        email.value, email.type_param = contact.email, "INTERNET"
    if contact.phone:
        tel = card.add("tel")
        tel.value, tel.type_param = contact.phone, "CELL"
    place = (fields.get("street"), contact.city, contact.state, fields.get("postal_code"))
    if any(place) or contact.country:
        street, city, region, code = (str(part or "") for part in place)
        card.add("adr").value = vobject.vcard.Address(
            street=street, city=city, region=region, code=code, country=contact.country or ""
        )
    for name, prop in (("birthday", "bday"), ("anniversary", "anniversary")):
        if fields.get(name):
            card.add(prop).value = str(fields[name])
    if fields.get("website"):
        card.add("url").value = str(fields["website"])
    if contact.tags:
        card.add("categories").value = list(contact.tags)
    return str(card.serialize())
