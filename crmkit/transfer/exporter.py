"""Exporting contacts to CSV or XLSX, in the form an import reads back unchanged.

Cells a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) get a
leading quote in CSV, which the import removes again (:mod:`crmkit.transfer.cells`); in
XLSX every text cell is written as text, never as a formula.

The header row names the import targets (``first_name``, ``tags``, the list columns
plugins add (:mod:`crmkit.transfer.columns`), ``facets.NAME``, ``fields.NAME``...), so
importing an export maps every column by itself; with ``--match id`` it updates the
same contacts. Contacts are read a page at a time in id order, and XLSX is written by
openpyxl's write-only workbook, so memory stays flat.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from crmkit.contact_fields import PROFILE_FIELDS
from crmkit.contact_pages import contacts_from_rows, page_query
from crmkit.contacts_service import contact_filter
from crmkit.context import TenantContext
from crmkit.errors import ValidationError
from crmkit.files_private import make_private, open_private
from crmkit.runtime import TenantRuntime
from crmkit.schemas import ContactOut
from crmkit.storage.models import ContactRow
from crmkit.storage.scope import TenantScope
from crmkit.transfer.cells import escape_formula
from crmkit.transfer.rows import join_list
from crmkit.transfer.vcards import contact_card

ExportFormat = Literal["csv", "xlsx", "vcf"]
PAGE = 5000
_C = ContactRow.__table__.c
# One page: its contacts, and for each plugin list column the names of each contact.
Page = tuple[list[ContactOut], list[Mapping[int, Sequence[str]]]]


def export_format(path: Path | None, given: str | None) -> ExportFormat:
    """The format asked for, else the output file's extension, else CSV."""
    choice = (given or (path.suffix.lstrip(".") if path else "") or "csv").lower()
    choice = "vcf" if choice == "vcard" else choice
    if choice not in ("csv", "xlsx", "vcf"):
        raise ValidationError(f"unknown export format {choice!r} (use csv, xlsx or vcf)")
    return "xlsx" if choice == "xlsx" else "vcf" if choice == "vcf" else "csv"


def _pages(ctx: TenantContext, where: str | None, archived: bool | None) -> Iterator[Page]:
    """Pages of matching contacts with their names in each plugin list column."""
    last = 0
    while True:
        with ctx.db.connect() as conn:
            runtime = ctx.runtime(conn)
            stmt = page_query(conn.dialect.name, runtime.tenant_id).where(_C.id > last)
            if archived is not None:
                stmt = stmt.where(_C.archived == archived)
            if where:
                stmt = stmt.where(contact_filter(ctx, conn, where, runtime))
            contacts = contacts_from_rows(conn.execute(stmt.order_by(_C.id).limit(PAGE)).all())
            if not contacts:
                return
            scope = TenantScope(runtime.tenant_id)
            ids = [c.id for c in contacts]
            lists = [column.read(conn, scope, ids) for column in runtime.columns.values()]
        yield contacts, lists
        last = contacts[-1].id


def _names(lists: Sequence[Mapping[int, Sequence[str]]], contact_id: int) -> list[Sequence[str]]:
    """A contact's names in each plugin list column (none where it has none)."""
    return [names.get(contact_id, ()) for names in lists]


def _header(runtime: TenantRuntime, facets: Sequence[str], fields: Sequence[str]) -> list[str]:
    return [
        "id",
        "first_name",
        "last_name",
        *PROFILE_FIELDS,
        "account",
        "ok_to_sms",
        "tags",
        *runtime.columns,
        *(f"facets.{name}" for name in facets),
        *(f"fields.{name}" for name in fields),
    ]


def _native_cell(value: Any) -> Any:
    return value


def _text_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _row(
    contact: ContactOut,
    lists: Sequence[Sequence[str]],
    facets: Sequence[str],
    fields: Sequence[str],
    native: bool,
) -> list[Any]:
    """One contact's cells: native values for a workbook, text for CSV."""
    cell = _native_cell if native else _text_cell
    return [
        contact.id,
        contact.first_name,
        contact.last_name,
        *(cell(getattr(contact, name)) for name in PROFILE_FIELDS),
        cell(contact.account),
        cell(contact.ok_to_sms),
        join_list(contact.tags),
        *(join_list(names) for names in lists),
        *(cell(contact.facets.get(name)) for name in facets),
        *(cell(contact.fields.get(name)) for name in fields),
    ]


def export_contacts(
    ctx: TenantContext,
    output: Path | IO[str] | None = None,
    *,
    format: str | None = None,
    where: str | None = None,
    archived: bool | None = False,
) -> int:
    """Write the contacts matching ``where`` (all by default; archived ones only with
    ``archived=True`` or None for both) to ``output``: a path, a text stream (CSV only)
    or stdout. Returns how many were written."""
    path = Path(output) if isinstance(output, (str, Path)) else None
    fmt = export_format(path, format)
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
        if where:
            contact_filter(ctx, conn, where, runtime)  # a bad expression fails here
    facets = list(runtime.facets)
    fields = list(runtime.fields)
    header = _header(runtime, facets, fields)
    pages = _pages(ctx, where, archived)
    if fmt == "xlsx":
        if path is None:
            raise ValidationError("an XLSX export needs an output file")
        return _write_xlsx(path, header, pages, facets, fields)
    write = _write_vcf if fmt == "vcf" else _write_csv
    if path is not None:
        with open_private(path, "w", encoding="utf-8", newline="") as stream:
            return write(stream, header, pages, facets, fields)
    return write(output or sys.stdout, header, pages, facets, fields)  # type: ignore[arg-type]


def _write_vcf(
    stream: IO[str],
    header: list[str],
    pages: Iterator[Page],
    facets: Sequence[str],
    fields: Sequence[str],
) -> int:
    """One vCard 3.0 per contact (a vCard has no place for facets or other fields)."""
    count = 0
    for contacts, _ in pages:
        for contact in contacts:
            stream.write(contact_card(contact))
        count += len(contacts)
    return count


def _write_csv(
    stream: IO[str],
    header: list[str],
    pages: Iterator[Page],
    facets: Sequence[str],
    fields: Sequence[str],
) -> int:
    writer = csv.writer(stream)
    writer.writerow(header)
    count = 0
    for contacts, lists in pages:
        writer.writerows(
            [escape_formula(v) for v in _row(c, _names(lists, c.id), facets, fields, False)]
            for c in contacts
        )
        count += len(contacts)
    return count


def _write_xlsx(
    path: Path,
    header: list[str],
    pages: Iterator[Page],
    facets: Sequence[str],
    fields: Sequence[str],
) -> int:
    # Imported here: openpyxl is heavy and only an XLSX export needs it.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Contacts")
    sheet.append(header)
    count = 0
    for contacts, lists in pages:
        for contact in contacts:
            cells = []
            for value in _row(contact, _names(lists, contact.id), facets, fields, native=True):
                cell = WriteOnlyCell(sheet, value)
                if isinstance(value, str):
                    # Text stays text: "=..." must not become a formula in Excel.
                    cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
        count += len(contacts)
    book.save(make_private(path))
    return count
