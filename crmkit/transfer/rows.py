"""Checking one file row with the schemas of a manual add, before anything is written.

A bad cell never loses a good row: the cell is left out and reported, and the row is
imported when what is left has a name (full, first or last), an email, a phone or a
company. A strict cleaner refuses the whole row instead, as earlier releases did.

A :class:`RowCleaner` holds only plain data (the mapping, the tenant's facets and field
types, the phone region), so batches of rows can be cleaned in worker processes. What
needs the database (matching, facet policies against the current value, OK to SMS for a
phone a provider looks up) is decided by the importer afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pydantic

from crmkit.emails import check_email
from crmkit.facets import Facet
from crmkit.field_types import FieldSpec
from crmkit.phones import parse_phone_type
from crmkit.schemas import ContactIn, ContactPatch, clean_tag
from crmkit.storage.types import INT64_MAX
from crmkit.transfer.files import Cell, ProblemRow
from crmkit.transfer.mapping import PLUGIN_LIST, ColumnMapping
from crmkit.transfer.matching import name_key, row_keys
from crmkit.transfer.regions import region_of_country

if TYPE_CHECKING:
    from crmkit.transfer.columns import TransferColumn

# An item of a list cell: a double-quoted name ("" is a quote inside it) or plain text,
# with spaces around either, then a separator or the end. A quote that does not close
# right before a separator is plain text (`5" screen`), as a spreadsheet user means it.
_LIST_ITEM = re.compile(r'\s*(?:"((?:[^"]|"")*)"\s*(?=[,;]|\Z)|([^,;]*))([,;]?)')
_NEEDS_QUOTES = re.compile(r'[,;"]|^\s|\s$')
MATCH_KEYS = ("email", "phone", "id")
# How a cell holding several emails or phones separates them (Google writes " ::: ").
_MULTI_SEPARATOR = re.compile(r"\s*(?::::|;|,|\n)\s*")
# What a value's type label says when the phone is a mobile.
_MOBILE_LABEL = re.compile(r"mobil|cell|handy|iphone|portable|m[oó]vil|cellulare|celular", re.I)
# The attributes a new contact needs one of (or an email or phone).
_IDENTIFYING = ("first_name", "last_name", "email", "account")
# Google's system groups that hold every contact: no tag.
_EVERYONE = frozenset({"myContacts", "starred"})
NO_IDENTITY = "the row has no name, email, phone or company: there is no one to import"


def split_list(text: str) -> list[str]:
    """The names in a ``tags`` or ``groups`` cell, in order, without repeats."""
    items: list[str] = []
    position = 0
    while True:
        found = _LIST_ITEM.match(text, position)
        assert found is not None  # every alternative can match the empty string
        quoted, plain, separator = found.groups()
        item = quoted.replace('""', '"') if quoted is not None else plain.strip()
        if item and item not in items:
            items.append(item)
        if not separator:
            return items
        position = found.end()


def join_list(items: Sequence[str]) -> str:
    """The cell :func:`split_list` reads back as ``items``."""
    return ", ".join(
        f'"{item.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(item) else item
        for item in items
    )


def cell_text(cell: Cell) -> str:
    """A cell as text: spreadsheet numbers lose a ``.0`` (phone numbers typed as
    numbers), dates become ISO dates, booleans yes/no."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def contact_id(text: str) -> int | None:
    """The contact id ``text`` names: ASCII digits only (``str.isdigit`` takes other
    scripts' digits and ``²`` too), 1 to the largest id the database holds; else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(INT64_MAX)):
        return None
    number = int(text)
    return number if 0 < number <= INT64_MAX else None


def split_name(text: str) -> tuple[str, str]:
    """A full name as (first, last): ``Last, First`` or the last word as the last name."""
    last, comma, first = text.partition(",")
    if comma and first.strip() and last.strip():
        return first.strip(), last.strip()
    words = text.split()
    if len(words) < 2:
        return text.strip(), ""
    return " ".join(words[:-1]), words[-1]


@dataclass
class CleanRow:
    """A checked row. ``errors`` holds (column, value, reason) for each bad cell, left
    out of the row; ``refused``: the row is not imported at all. ``key`` is the value
    it is matched on (None: no match possible). ``emails`` and ``phones`` (E.164, line
    type) are the person's other values, besides the contact's own."""

    row: int
    attributes: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None
    refused: bool = False
    # Match "auto": the row's keys in the order they are tried, and the names as
    # written that pick the contacts compared (see crmkit.transfer.matching).
    keys: list[Any] = field(default_factory=list)
    names: tuple[str, ...] = ()
    line_type: str | None = None
    ok_to_sms: bool | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    facets: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # A plugin list column's name to the row's names for it (in order, no repeats).
    columns: dict[str, list[str]] = field(default_factory=dict)
    key: Any = None
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    blank: bool = False


class RowCleaner:
    """Cleans rows for one mapping, tenant set-up and match key."""

    def __init__(
        self,
        mapping: ColumnMapping,
        facets: dict[str, Facet],
        region: str,
        match: str | None,
        columns: Mapping[str, TransferColumn] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        columns = columns or {}
        self.region = region
        self.match = match
        self.strict = strict
        # Each distinct phone number is parsed once per import (phonenumbers is the
        # costliest step of a row): (text, region) to (E.164, line type) or the error.
        self._parsed: dict[tuple[str, str], tuple[str, str] | str] = {}
        self.multi: list[tuple[int, str, str]] = []  # (index, column, emails|phones)
        self.labels: dict[int, int] = {}  # value column index to its type column's
        self.notes_column: tuple[int, str] | None = None
        self.country_index: int | None = None
        self.attributes: list[tuple[int, str, str]] = []  # (index, column, attribute)
        self.name_column: tuple[int, str] | None = None
        self.id_column: tuple[int, str] | None = None
        self.lists: list[tuple[int, str, str]] = []
        # (index, column, plugin column name, its clean function)
        self.plugin_lists: list[tuple[int, str, str, Callable[[str], str]]] = []
        self.facets: list[tuple[int, str, str, dict[str, str], Facet]] = []
        self.fields: list[tuple[int, str, FieldSpec]] = []
        # Which column holds an attribute, for pydantic's errors.
        self.column_of: dict[str, str] = {}
        for column in mapping.columns:
            target = column.target
            self.column_of[target.label] = column.name
            if target.kind == "attribute":
                self.attributes.append((column.index, column.name, target.name))
            elif target.kind == "name":
                self.name_column = (column.index, column.name)
                self.column_of["first_name"] = self.column_of["last_name"] = column.name
            elif target.kind == "id":
                self.id_column = (column.index, column.name)
            elif target.kind in ("emails", "phones"):
                self.multi.append((column.index, column.name, target.kind))
            elif target.kind == "notes":
                self.notes_column = (column.index, column.name)
            elif target.kind == "tags":
                self.lists.append((column.index, column.name, target.kind))
            elif target.kind == PLUGIN_LIST:
                clean = columns[target.name].clean
                self.plugin_lists.append((column.index, column.name, target.name, clean))
            elif target.kind == "facet":
                facet = facets[target.name]
                lookup = {v.name.lower(): v.name for v in facet.values}
                lookup.update({v.label.lower(): v.name for v in facet.values})
                self.facets.append((column.index, column.name, target.name, lookup, facet))
            elif target.kind == "field" and target.spec is not None:
                self.fields.append((column.index, column.name, target.spec))
        by_name = {c.name.casefold(): c.index for c in mapping.columns}
        for column in mapping.columns:
            if column.target.kind == "value_labels":
                value = re.sub(r"(?i)\b(label|type)\b", "Value", column.name).casefold()
                if value in by_name:
                    self.labels[by_name[value]] = column.index
            elif column.target.kind == "attribute" and column.target.name == "country":
                self.country_index = column.index
        self.width = max((c.index for c in mapping.columns), default=-1) + 1
        self.indexes = frozenset(c.index for c in mapping.columns)

    def clean(self, number: int, cells: Sequence[Cell], header_width: int) -> CleanRow:
        out = CleanRow(number)
        if type(cells) is ProblemRow:
            cells = self._unreadable(out, cells)
            if out.refused:
                return out
        if len(cells) > header_width and any(cell_text(c) for c in cells[header_width:]):
            out.errors.append(
                (
                    "-",
                    "",
                    f"the row has {len(cells)} cells but the header names {header_width} "
                    "columns (check the delimiter and quotes)",
                )
            )
            out.refused = True
            return out
        if not any(cell_text(c) for c in cells):
            out.blank = True
            return out
        if len(cells) < self.width:
            cells = [*cells, *([None] * (self.width - len(cells)))]
        region = self.region
        if self.country_index is not None:
            country = cell_text(cells[self.country_index])
            region = (region_of_country(country) if country else None) or region
        self._attributes(out, cells, region)
        self._multi(out, cells, region)
        if self.notes_column is not None:
            out.note = cell_text(cells[self.notes_column[0]]) or None
        for index, column, _kind in self.lists:
            _names(out, column, _tag_cell(cell_text(cells[index])), clean_tag, out.tags)
        for index, column, name, clean in self.plugin_lists:
            _names(out, column, cell_text(cells[index]), clean, out.columns.setdefault(name, []))
        for index, column, facet_name, lookup, facet in self.facets:
            text = cell_text(cells[index])
            if not text:
                continue
            value = lookup.get(text.lower())
            if value is None:
                out.errors.append(
                    (
                        column,
                        text,
                        f"{text!r} is not a value of facet {facet_name!r} "
                        f"(allowed: {', '.join(facet.value_names)})",
                    )
                )
            else:
                out.facets[facet_name] = value
        for index, column, spec in self.fields:
            cell = cells[index]
            value = cell_text(cell) if spec.type == "text" or isinstance(cell, str) else cell
            if value is None or value == "":
                continue
            try:
                out.fields[spec.name] = spec.clean(value, region)
            except ValueError as exc:
                out.errors.append((column, cell_text(cell), str(exc)))
        self._key(out, cells)
        if out.refused:
            return out
        if out.errors and self.strict:
            out.refused = True
        elif out.key is not None and self.match not in (None, "email", "phone"):
            pass  # a row naming its contact by id or a field needs nothing else
        elif out.phone is None and not any(out.attributes.get(a) for a in _IDENTIFYING):
            out.errors.append(("-", "", NO_IDENTITY))
            out.refused = True
        return out

    def _key(self, out: CleanRow, cells: Sequence[Cell]) -> None:
        if self.id_column is not None and self.match == "id":
            index, column = self.id_column
            text = cell_text(cells[index])
            if text:
                key = contact_id(text)
                if key is None:
                    out.errors.append((column, text, f"{text!r} is not a contact id"))
                    out.refused = True
                else:
                    out.key = key
        elif self.match == "auto":
            values = out.attributes
            first, last = values.get("first_name"), values.get("last_name")
            name = name_key(first, last, values.get("account"))
            emails = [values.get("email"), *out.emails]
            out.keys = row_keys(emails, [out.phone, *(p for p, _ in out.phones)], name)
            out.names = tuple(v for v in (first, last) if v)
        elif self.match == "email":
            out.key = out.attributes.get("email")
        elif self.match == "phone":
            out.key = out.phone
        elif self.match is not None and self.match.startswith("fields."):
            out.key = out.fields.get(self.match.removeprefix("fields."))

    def _phone(self, text: str, region: str) -> tuple[str, str]:
        """``text`` parsed as a phone (once per distinct text and region)."""
        found = self._parsed.get((text, region))
        if found is None:
            try:
                found = parse_phone_type(text, region)
            except ValueError as exc:
                found = str(exc)
            self._parsed[(text, region)] = found
        if isinstance(found, str):
            raise ValueError(found)
        return found

    def _multi(self, out: CleanRow, cells: Sequence[Cell], region: str) -> None:
        """The person's other emails and phones; the first becomes the contact's own
        when no column gave one, a mobile first among phones."""
        mobiles: list[tuple[str, str]] = []
        for index, column, kind in self.multi:
            text = cell_text(cells[index])
            if not text:
                continue
            label_index = self.labels.get(index)
            label = cell_text(cells[label_index]) if label_index is not None else ""
            for value in _MULTI_SEPARATOR.split(text):
                if not value:
                    continue
                try:
                    if kind == "emails":
                        email = check_email(value)
                        if email not in out.emails:
                            out.emails.append(email)
                        continue
                    phone = self._phone(value, region)
                except ValueError as exc:
                    out.errors.append((column, value, str(exc)))
                    continue
                wanted = mobiles if _MOBILE_LABEL.search(label) else out.phones
                if phone not in wanted:
                    wanted.append(phone)
        out.phones[:0] = mobiles
        if out.emails and not out.attributes.get("email"):
            out.attributes["email"] = out.emails.pop(0)
        elif out.attributes.get("email") in out.emails:
            out.emails.remove(out.attributes["email"])
        if out.phones and out.phone is None:
            # A mobile (by its label, else by its number) is the cell phone.
            first = next((p for p in out.phones if p[1] == "mobile"), out.phones[0])
            if first not in mobiles and mobiles:
                first = mobiles[0]
            out.phones.remove(first)
            out.phone, out.line_type = first
        out.phones = [p for p in out.phones if p[0] != out.phone]

    def _unreadable(self, out: CleanRow, cells: ProblemRow) -> list[Cell]:
        """The cells of a row the file could not give whole: the imported cells it
        could not read are left out (the whole row is refused when part of it was not
        read at all)."""
        kept = list(cells)
        for problem in cells.problems:
            if problem.whole_row or problem.index in self.indexes:
                out.errors.append((problem.column, problem.value, problem.reason))
                kept[problem.index] = None
                out.refused = out.refused or problem.whole_row or self.strict
        return kept

    def _attributes(self, out: CleanRow, cells: Sequence[Cell], region: str) -> None:
        given: dict[str, str] = {}
        for index, _column, name in self.attributes:
            text = cell_text(cells[index])
            if text:
                given[name] = text
        if self.name_column is not None and not (given.get("first_name") or given.get("last_name")):
            text = cell_text(cells[self.name_column[0]])
            if text:
                first, last = split_name(text)
                if first:
                    given["first_name"] = first
                if last:
                    given["last_name"] = last
        schema = ContactIn if "first_name" in given else ContactPatch
        try:
            checked = schema.model_validate(given)
        except pydantic.ValidationError as exc:
            bad = set()
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "-"
                bad.add(name)
                out.errors.append(
                    (self.column_of.get(name, name), given.get(name, ""), _reason(error))
                )
            given = {k: v for k, v in given.items() if k not in bad}
            try:
                checked = ContactPatch.model_validate(given)
            except pydantic.ValidationError:
                checked = None
        values: dict[str, Any] = (
            checked.model_dump(include=set(given)) if checked is not None else dict(given)
        )
        phone = values.pop("phone", None)
        ok = values.pop("ok_to_sms", None)
        out.ok_to_sms = ok if isinstance(ok, bool) else None
        out.attributes = values
        if phone:
            try:
                out.phone, out.line_type = self._phone(phone, region)
            except ValueError as exc:
                out.errors.append((self.column_of["phone"], phone, str(exc)))


def _tag_cell(text: str) -> str:
    """A tags cell as :func:`split_list` reads it: Google's `` ::: `` between labels,
    its ``* `` before system groups, and the groups every contact is in, undone."""
    if ":::" not in text and not text.startswith("* "):
        return text
    names = [name.strip().removeprefix("* ") for name in text.split(":::")]
    return ", ".join(name for name in names if name and name not in _EVERYONE)


def _reason(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _names(
    out: CleanRow, column: str, text: str, clean: Callable[[str], str], target: list[str]
) -> None:
    """Add the names of a list cell to ``target``, each cleaned; a bad one is an error
    of the cell (and left out)."""
    for item in split_list(text):
        try:
            name = clean(item)
        except ValueError as exc:
            out.errors.append((column, item, str(exc)))
            continue
        if name not in target:
            target.append(name)


def clean_batch(
    cleaner: RowCleaner, rows: Sequence[tuple[int, Sequence[Cell]]], header_width: int
) -> list[CleanRow]:
    """Clean a batch of (row number, cells); module level so a process pool can run it."""
    return [cleaner.clean(number, cells, header_width) for number, cells in rows]
