"""Which column of a file goes where: targets, suggestions from headers, mapping files.

A target is one of:

* a contact attribute: ``first_name``, ``last_name``, ``email``, ``phone``, ``account``,
  ``city``, ``state``, ``country``, ``industry``, ``lead_source``, ``ok_to_sms``;
* ``name``: a full name, split at its last space into first and last name (a row's
  first or last name, when it has one, wins);
* ``emails``, ``phones``: more emails or phones of the person (several columns may map
  to them; a cell may hold several, separated by `` ::: ``, ``;`` or ``,``); the first
  becomes the contact's email or phone when no ``email`` or ``phone`` column gives one;
* ``value_labels``: the type of the value in the column of the same name with ``Value`` for
  ``Label`` or ``Type`` (Google's ``Phone 1 - Type``): a ``Mobile`` phone is the cell phone;
* ``notes``: a note added to the contact (once: the same note is not added again);
* ``id``: the contact's id, used only to match (``--match id``);
* ``tags``, or a list column a plugin adds (:mod:`crmkit.transfer.columns`): names
  separated by ``,`` or ``;`` (a name holding either is written in double quotes);
  several columns may map to them;
* ``facets.NAME`` (or just the facet's name): a facet value, by name or label;
* ``fields.NAME``: a profile field; an unknown name adds a custom field, of type text
  unless written ``fields.NAME:TYPE``;
* ``-``: leave the column out.

Suggestions compare each header with the target names, the tenant's list columns,
facet and field names and labels, then the header vocabulary of other products'
exports (:mod:`crmkit.transfer.vocabulary`: the product the file is recognised as
first), then common synonyms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.errors import ValidationError
from crmkit.field_types import FIELD_TYPES, FieldSpec, field_name
from crmkit.runtime import TenantRuntime
from crmkit.transfer import vocabulary

SKIP: Literal["-"] = "-"
ATTRIBUTES = ("first_name", "last_name", *PROFILE_FIELDS, "account", "ok_to_sms")
LISTS = ("tags",)
# Several columns may map to these: the person's other values, and their types.
MULTI = ("emails", "phones", "value_labels")
SPECIAL = ("name", "id")
# A note added to the contact; a profile field may be called "notes" too (fields.notes).
NOTES = "notes"
SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": ("first", "firstname", "given_name", "fname", "forename"),
    "last_name": ("last", "lastname", "surname", "family_name", "lname"),
    "name": ("full_name", "fullname", "contact_name", "contact"),
    "email": ("e_mail", "email_address", "mail", "emailaddress"),
    "phone": (
        "cell",
        "cell_phone",
        "cellphone",
        "mobile",
        "mobile_phone",
        "phone_number",
        "telephone",
        "tel",
    ),
    "account": ("company", "company_name", "account_name", "organization", "organisation"),
    "city": ("town",),
    "state": ("province", "region", "state_province"),
    "lead_source": ("source",),
    "ok_to_sms": ("sms_ok", "sms_opt_in", "sms_consent", "ok_to_text"),
    "tags": ("tag", "labels"),
}
# The kind of a target that is a plugin's list column (its name is the column's).
PLUGIN_LIST = "column"
# Kinds that take names from many columns.
LIST_KINDS = (*LISTS, PLUGIN_LIST, *MULTI)
# A single-valued target met again goes to its multi-valued sibling, not dropped.
_SECOND = {"email": "emails", "phone": "phones"}


def header_key(text: str) -> str:
    """A header as suggestions compare it: lower case, punctuation and spaces as ``_``."""
    return re.sub(r"[^a-z0-9.]+", "_", text.strip().lower()).strip("_")


@dataclass(frozen=True)
class Target:
    """Where one column goes. ``kind`` is attribute, name, id, tags, column (a
    plugin's list column), facet, field; ``name`` the attribute, plugin column, facet
    or field name; ``spec`` a field's spec."""

    kind: str
    name: str
    spec: FieldSpec | None = None

    @property
    def label(self) -> str:
        if self.kind == "facet":
            return f"facets.{self.name}"
        if self.kind == "field":
            return f"fields.{self.name}"
        return self.name


@dataclass(frozen=True)
class Column:
    index: int
    name: str
    target: Target


@dataclass(frozen=True)
class ColumnMapping:
    """The columns that are imported, in file order, and those that are not.
    ``product``: the product the header was recognised as coming from."""

    columns: tuple[Column, ...]
    unmapped: tuple[str, ...]
    skipped: tuple[str, ...]
    product: str | None = None

    def target_of(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.target.label == name), None)

    def has(self, kind: str, name: str | None = None) -> bool:
        return any(
            c.target.kind == kind and (name is None or c.target.name == name) for c in self.columns
        )

    @property
    def new_fields(self) -> list[FieldSpec]:
        """Custom fields the mapping adds (first column wins)."""
        found: dict[str, FieldSpec] = {}
        for column in self.columns:
            spec = column.target.spec
            if column.target.kind == "field" and spec is not None and spec.section == "custom":
                found.setdefault(spec.name, spec)
        return list(found.values())

    def as_dict(self) -> dict[str, str]:
        """Column name to target label, unmapped and skipped columns as ``-``."""
        out = {c.name: c.target.label for c in self.columns}
        out.update({name: SKIP for name in (*self.unmapped, *self.skipped)})
        return out


def parse_target(text: str, runtime: TenantRuntime, column: str) -> Target | None:
    """The target ``text`` names for ``column`` (None for ``-``); a clear error if none."""
    raw = text.strip()
    if raw in (SKIP, ""):
        return None
    lowered = raw.lower()
    if lowered in ATTRIBUTES:
        return Target("attribute", lowered)
    if lowered in SPECIAL or lowered == NOTES:
        return Target(lowered, lowered)
    if lowered in LISTS or lowered in MULTI:
        return Target(lowered, lowered)
    if lowered in runtime.columns:
        return Target(PLUGIN_LIST, lowered)
    prefix, dot, rest = raw.partition(".")
    if (dot and prefix.lower() == "facets") or raw in runtime.facets:
        facet = rest if dot else raw
        if facet not in runtime.facets:
            raise ValidationError(
                f"column {column!r}: tenant {runtime.name!r} has no facet {facet!r} "
                f"(its facets: {', '.join(runtime.facets) or 'none'})"
            )
        return Target("facet", facet)
    if dot and prefix.lower() == "fields":
        return Target("field", *_field(rest, runtime, column))
    raise ValidationError(
        f"column {column!r}: unknown target {raw!r} (use one of "
        f"{', '.join((*ATTRIBUTES, *SPECIAL, NOTES, *LISTS, *MULTI, *runtime.columns))}, "
        "facets.NAME, "
        "fields.NAME[:TYPE] or -)"
    )


def _field(text: str, runtime: TenantRuntime, column: str) -> tuple[str, FieldSpec]:
    key, colon, kind = text.partition(":")
    known = runtime.fields.get(key.strip())
    try:
        name = known.name if known else field_name(key)
    except ValueError as exc:
        raise ValidationError(f"column {column!r}: fields.{key}: {exc}") from None
    known = known or runtime.fields.get(name)
    kind = kind.strip().lower()
    if known is not None:
        if colon and kind != known.type:
            raise ValidationError(
                f"column {column!r}: field {name!r} already exists with type {known.type}"
            )
        return name, known
    if name in ATTRIBUTES or name in (
        *SPECIAL,
        *LISTS,
        *MULTI,
        *runtime.columns,
        "facets",
        "fields",
    ):
        raise ValidationError(
            f"column {column!r}: {name!r} is a built-in attribute; map it as {name}, not a field"
        )
    if (colon and kind not in FIELD_TYPES) or kind == "choice":
        raise ValidationError(
            f"column {column!r}: unknown field type {kind!r} for a new field "
            f"(one of {', '.join(t for t in FIELD_TYPES if t != 'choice')})"
        )
    return name, FieldSpec(name, key.strip(), kind or "text", "custom")


# What a suggestion may be besides a target: a column the vocabulary knows and leaves out.
Suggestion = Target | Literal["-"] | None


def suggest(
    header: str, runtime: TenantRuntime, product: vocabulary.Product | None = None
) -> Suggestion:
    """The target a header suggests, ``-`` for a column known and left out, or None."""
    key = header_key(header)
    if not key:
        return None
    for prefix in ("facets.", "fields."):
        if key.startswith(prefix):
            try:
                return parse_target(key, runtime, header)
            except ValidationError:
                return None
    compact = key.replace("_", "")
    for target in (*ATTRIBUTES, *SPECIAL, NOTES, *LISTS, *MULTI):
        if compact == target.replace("_", ""):
            return Target(_kind(target), target)
    # Without separators too: "E-mail address", "FirstName" and "first_name" all match.
    for column in runtime.columns.values():
        names = (column.name, *column.synonyms)
        if key in names or compact in {name.replace("_", "") for name in names}:
            return Target(PLUGIN_LIST, column.name)
    for facet in runtime.facets.values():
        if key in (facet.name, header_key(facet.label)):
            return Target("facet", facet.name)
    for spec in runtime.fields.values():
        if key in (spec.name, header_key(spec.label)):
            return Target("field", spec.name, spec)
    known = vocabulary.target_for(header, product)
    if known == SKIP:
        return SKIP
    if known:
        try:
            return parse_target(known, runtime, header)
        except ValidationError:
            pass  # a tenant field of another type has the name: leave it to the user
    for target in (*ATTRIBUTES, *SPECIAL, *LISTS):
        names = (target, *SYNONYMS.get(target, ()))
        if key in names or compact in {name.replace("_", "") for name in names}:
            return Target(_kind(target), target)
    return None


def _kind(target: str) -> str:
    return "attribute" if target in ATTRIBUTES else target


def read_mapping_file(path: Path | str) -> dict[str, str]:
    """A mapping file: YAML or JSON, an object of column name to target."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"mapping file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(f"mapping file {path.name}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValidationError(
            f"mapping file {path.name}: expected COLUMN: TARGET pairs of text "
            "(e.g. 'E-mail: email')"
        )
    return data


def build_mapping(
    header: Sequence[str],
    runtime: TenantRuntime,
    given: Mapping[str, str] | None = None,
    *,
    suggest_rest: bool = True,
) -> ColumnMapping:
    """Map ``header``: ``given`` (column to target text) first, then suggestions.

    Errors name the column: an unknown column or target, or two columns for one target
    that takes a single value.
    """
    given = dict(given or {})
    product = vocabulary.recognise(header)
    by_lower = {name.lower(): name for name in header}
    chosen: dict[str, str] = {}
    for column, text in given.items():
        found = column if column in header else by_lower.get(column.strip().lower())
        if found is None:
            raise ValidationError(
                f"--map {column!r}: the file has no such column (its columns: {', '.join(header)})"
            )
        chosen[found] = text
    columns: list[Column] = []
    unmapped: list[str] = []
    skipped: list[str] = []
    for index, name in enumerate(header):
        target: Target | None
        if name in chosen:
            target = parse_target(chosen[name], runtime, name)
            if target is None:
                skipped.append(name)
                continue
        else:
            suggested = suggest(name, runtime, product) if suggest_rest else None
            if suggested is None:
                unmapped.append(name)
                continue
            if isinstance(suggested, str):
                skipped.append(name)
                continue
            target = suggested
        if target.kind == "field" and target.spec is None:
            target = Target("field", target.name, runtime.fields[target.name])
        columns.append(Column(index, name, target))
    unmapped.extend(_drop_repeats(columns, chosen))
    return ColumnMapping(
        tuple(columns),
        tuple(unmapped),
        tuple(skipped),
        product.name if product is not None else None,
    )


def _drop_repeats(columns: list[Column], chosen: Mapping[str, str]) -> list[str]:
    """Keep one column per single-valued target, removing the others in place and
    returning their names: a chosen column wins over a suggested one, the first
    suggestion over later ones; two chosen columns for one target are an error. A
    second email or phone column is kept as one of the person's other emails or phones.
    A full name and first/last name columns are all kept: the row's first and last
    name win when it has them, else its full name is split."""

    def pick(first: Column, other: Column, label: str) -> Column:
        if other.name in chosen and first.name in chosen:
            raise ValidationError(
                f"columns {first.name!r} and {other.name!r} both map to {label}; "
                "map one of them elsewhere or to -"
            )
        return other if other.name in chosen else first

    dropped: list[str] = []
    kept: dict[str, Column] = {}
    for position, column in enumerate(columns):
        if column.target.kind in LIST_KINDS:
            continue
        first = kept.get(column.target.label)
        if first is None:
            kept[column.target.label] = column
            continue
        winner = pick(first, column, column.target.label)
        kept[column.target.label] = winner
        loser = column if winner is first else first
        second = _SECOND.get(loser.target.name) if loser.target.kind == "attribute" else None
        if second is not None:
            where = columns.index(loser) if loser is first else position
            columns[where] = Column(loser.index, loser.name, Target(second, second))
        else:
            dropped.append(loser.name)
    columns[:] = [c for c in columns if c.name not in dropped]
    return dropped
