"""``crmkit import`` and ``crmkit export``: contacts from and to CSV or XLSX files."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_tenant, pairs
from crmkit.cli.output import console, errors, line, print_json
from crmkit.runtime import TenantRuntime
from crmkit.tenant import Tenant
from crmkit.transfer import importer
from crmkit.transfer.cells import shorten
from crmkit.transfer.files import TableFile
from crmkit.transfer.mapping import ColumnMapping
from crmkit.transfer.report import ImportSummary


def default_errors_path(file: Path) -> Path:
    """Where the error report goes unless ``--errors`` says: beside the file."""
    return file.with_name(f"{file.stem}.errors.csv")


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preview rows with long values cut short: a cell can hold megabytes."""
    return [
        {
            key: (
                [shorten(problem) for problem in value]
                if key == "errors"
                else shorten(value)
                if isinstance(value, str)
                else value
            )
            for key, value in row.items()
        }
        for row in rows
    ]


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        errors.print(f"Warning: {warning}", style="yellow", markup=False, highlight=False)


def _print_source(table: TableFile, mapping: ColumnMapping) -> None:
    """What the file looks like: the product it came from, how it was read."""
    if mapping.product:
        console.print(f"{table.path.name} looks like a {mapping.product} export.", highlight=False)
    if table.encoding:
        sample = f" (accented text: {', '.join(table.accented)})" if table.accented else ""
        console.print(
            f"Read as {table.encoding}{sample}; give --encoding if that looks wrong.",
            highlight=False,
        )
    if table.skipped_rows:
        console.print(
            f"The first {table.skipped_rows} rows come before the header and are skipped "
            "(--skip-rows to say otherwise).",
            highlight=False,
        )


def _print_mapping(mapping: ColumnMapping, shown: list[dict[str, Any]]) -> None:
    table = Table(title="Mapping", title_justify="left")
    table.add_column("column")
    table.add_column("imported as")
    table.add_column("first value", overflow="fold")
    first = shown[0] if shown else {}
    for column in mapping.columns:
        table.add_row(column.name, column.target.label, str(first.get(column.target.label, "")))
    for name in mapping.unmapped:
        table.add_row(name, line(("not mapped", "yellow")), "")
    for name in mapping.skipped:
        table.add_row(name, line(("left out (-)", "dim")), "")
    console.print(table)
    if mapping.unmapped:
        console.print(
            "Columns not mapped are not imported; map one with --map 'COLUMN=TARGET' "
            "(e.g. fields.NAME to keep it as a custom field).",
            highlight=False,
        )


def _print_preview(mapping: ColumnMapping, shown: list[dict[str, Any]]) -> None:
    table = Table(title=f"Preview (first {len(shown)} rows)", title_justify="left")
    table.add_column("row", justify="right")
    for column in mapping.columns:
        table.add_column(column.target.label, overflow="fold")
    for row in shown:
        table.add_row(str(row["row"]), *(str(row.get(c.target.label, "")) for c in mapping.columns))
    console.print(table)
    for row in shown:
        for problem in row.get("errors", []):
            console.print(f"row {row['row']}: {problem}", style="red", highlight=False)


def _print_summary(summary: ImportSummary) -> None:
    if summary.already_imported:
        console.print(
            f"{summary.file} was imported this way before (import run {summary.run}): "
            "nothing changed. Use --again to import it once more.",
            highlight=False,
        )
        return
    if summary.resumed_after_row:
        console.print(
            f"Resumed import run {summary.run} after row {summary.resumed_after_row:,}, "
            "where an earlier run stopped; the counts include its rows.",
            highlight=False,
        )
    what = "would be" if summary.dry_run else ""
    console.print(
        f"{summary.rows} rows: {summary.created} {what} created, {summary.updated} {what} "
        f"updated, {summary.skipped} skipped, {summary.failed} failed "
        f"({summary.rows_per_second:,.0f} rows/s)".replace("  ", " "),
        highlight=False,
    )
    if summary.left_out:
        console.print(
            f"{summary.left_out} bad cells were left out of rows imported without them "
            "(--strict refuses such rows).",
            highlight=False,
        )
    if summary.dry_run:
        console.print("Dry run: nothing was written.")
    _print_warnings(summary.warnings)
    if summary.new_fields:
        console.print(f"New custom fields: {', '.join(summary.new_fields)}", highlight=False)
    if summary.events is not None:
        events = summary.events
        console.print(
            f"Rules: {events.total} contact_imported events, {events.applied} applied, "
            f"{events.failed} failed, {events.changes} changes",
            highlight=False,
        )
    if summary.failed or summary.left_out:
        shown = summary.errors[:10]
        for error in shown:
            errors.print(
                f"  row {error.row}, {error.column}: {error.reason}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if summary.errors_file:
            errors.print(f"Error report: {summary.errors_file}", markup=False, highlight=False)


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=TARGET",
    help="Map a column (repeatable): an attribute, name, id, tags, groups, "
    "facets.NAME, fields.NAME[:TYPE], or - to leave it out.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A YAML or JSON file of COLUMN: TARGET pairs (--map wins).",
)
@click.option(
    "--match",
    default="auto",
    show_default=True,
    help="Update the contact with the same email, phone, id or fields.NAME instead "
    "of adding one; auto: email when mapped; none: always add.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--preview", is_flag=True, help="Show the mapping and first rows, then stop.")
@click.option(
    "--fire-rules", is_flag=True, help="Record a contact_imported event per imported row."
)
@click.option(
    "--errors",
    "errors_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where the error report goes [default: FILE.errors.csv beside the file].",
)
@click.option("--encoding", help="CSV encoding [default: detected].")
@click.option("--delimiter", help="CSV delimiter [default: detected].")
@click.option("--sheet", help="XLSX sheet [default: the first].")
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Processes that check rows [default: 2 for files over 8 MB, else 0].",
)
@click.option(
    "--again",
    is_flag=True,
    help="Import a file imported the same way before once more (rows without a "
    "match are added again); without it a rerun resumes or changes nothing.",
)
@click.option(
    "--strict", is_flag=True, help="Refuse a row with any bad cell (default: leave the cell out)."
)
@click.option(
    "--skip-rows",
    type=click.IntRange(min=0),
    help="Rows before the header [default: a preamble is found by itself].",
)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@JSON_OPTION
def import_command(
    file: Path,
    maps: tuple[str, ...],
    mapping_file: Path | None,
    match: str,
    dry_run: bool,
    preview: bool,
    fire_rules: bool,
    errors_file: Path | None,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    batch_size: int,
    workers: int | None,
    again: bool,
    strict: bool,
    skip_rows: int | None,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Import contacts from a CSV, XLSX or vCard file (in a table, the first row of
    two cells or more names the columns).

    Columns are mapped from their names, knowing the exports of the usual products
    (the preview names the one the file looks like), unless --map or --mapping says
    otherwise. A bad cell is left out of its row and goes to the error report with
    the rows refused; the rest are imported. Exits with status 1 when any row
    failed. Running the same import again resumes it after the last
    row it wrote, or changes nothing once it finished (see --again).
    """
    tenant = current_tenant()
    opening = functools.partial(
        importer.prepare,
        tenant.context,
        file,
        mapping=pairs(maps, "--map", allow_empty=False),
        mapping_file=mapping_file,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        skip_rows=skip_rows,
    )
    table, mapping, runtime = opening()
    with table:
        _show_mapping(table, mapping, runtime, preview=preview, dry_run=dry_run, as_json=as_json)
    if preview:
        return
    options = importer.ImportOptions(
        match=match,
        dry_run=dry_run,
        fire_rules=fire_rules,
        errors_path=errors_file or default_errors_path(file),
        batch_size=batch_size,
        workers=workers,
        again=again,
        strict=strict,
    )
    # The preview read the first rows: open the file again for the import.
    table, mapping, _ = opening()
    summary = _import_with_progress(tenant, table, mapping, options, quiet=no_progress or as_json)
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
    if summary.failed:
        sys.exit(1)


def _show_mapping(
    table: TableFile,
    mapping: ColumnMapping,
    runtime: TenantRuntime,
    *,
    preview: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Before an import, as text: the mapping (and the first rows on a dry run). With
    --preview, only the mapping and the first rows, as text or JSON."""
    if not preview and as_json:
        return
    shown = _shown(importer.preview(table, mapping, runtime))
    if preview:
        if as_json:
            print_json(
                {
                    "product": mapping.product,
                    "encoding": table.encoding,
                    "accented": table.accented,
                    "skipped_rows": table.skipped_rows,
                    "mapping": mapping.as_dict(),
                    "unmapped": list(mapping.unmapped),
                    "warnings": table.warnings,
                    "rows": shown,
                }
            )
        else:
            _print_source(table, mapping)
            _print_warnings(table.warnings)
            _print_mapping(mapping, shown)
            _print_preview(mapping, shown)
        return
    _print_mapping(mapping, shown)
    if dry_run:
        _print_preview(mapping, shown)


def _import_with_progress(
    tenant: Tenant,
    table: TableFile,
    mapping: ColumnMapping,
    options: importer.ImportOptions,
    *,
    quiet: bool,
) -> ImportSummary:
    """Import the opened table with a progress bar on stderr (none when ``quiet``)."""
    with (
        table,
        Progress(
            TextColumn("checking" if options.dry_run else "importing"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            console=errors,
            disable=quiet,
        ) as bar,
    ):
        task = bar.add_task("import", total=1.0, rows=0, rate=0.0)
        done = [0]

        def advance(rows: int, fraction: float | None) -> None:
            done[0] += rows
            elapsed = bar.tasks[0].elapsed or 0.0
            bar.update(
                task,
                completed=fraction if fraction is not None else 0.0,
                rows=done[0],
                rate=done[0] / elapsed if elapsed else 0.0,
            )

        summary = importer.import_file(tenant.context, table, mapping, options, advance)
        bar.update(task, completed=1.0)
    return summary


@click.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The file to write [default: CSV on standard output].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "vcf"]),
    help="[default: from the file's extension, else csv]",
)
@click.option("--where", help='Only contacts matching a condition, e.g. "contact.score > 10".')
@click.option("--archived", "archived", flag_value="only", help="Only archived contacts.")
@click.option("--all", "archived", flag_value="all", help="Archived contacts too.")
def export_command(
    output: Path | None,
    fmt: str | None,
    where: str | None,
    archived: str | None,
) -> None:
    """Export contacts to CSV or XLSX, with a header crmkit import maps by itself, or
    to vCards (vcf)."""
    tenant = current_tenant()
    which = {"only": True, "all": None}.get(archived or "", False)
    count = tenant.export_contacts(output, format=fmt, where=where, archived=which)
    if output is not None:
        console.print(f"{count} contacts written to {output}", highlight=False)
