"""What an import reports: its summary, and the error report of its bad rows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

from pydantic import BaseModel, Field, computed_field

from crmkit.files_private import open_private
from crmkit.schemas import IngestSummary
from crmkit.transfer.cells import escape_formula, shorten

# Bad rows kept in the summary itself; all of them go to the error report file.
ERRORS_IN_SUMMARY = 100
# Reasons are longer than values (a facet lists its values), but still bounded.
REASON_CHARACTERS = 1000


class RowError(BaseModel):
    """One bad cell (or a whole bad row, column ``-``): the row number as a spreadsheet
    shows it (the header is row 1), the column, its value and why it was refused."""

    row: int
    column: str
    value: str
    reason: str


class ImportSummary(BaseModel):
    """The outcome of an import. ``skipped`` counts blank rows and rows that matched a
    contact without changing it; ``failed`` counts rows refused, ``left_out`` bad cells
    left out of rows that were imported (both in ``errors``). ``product``: the product
    the file looks like an export of."""

    file: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    mapping: dict[str, str]
    unmapped: list[str]
    match: str | None
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    left_out: int = 0
    product: str | None = None
    errors: list[RowError] = Field(default_factory=list)
    # What reading the file guessed (an encoding it fell back to): worth a look.
    warnings: list[str] = Field(default_factory=list)
    errors_file: str | None = None
    new_fields: list[str] = Field(default_factory=list)
    events: IngestSummary | None = None
    seconds: float = 0.0
    # The import journal's run; the row an interrupted run had committed up to (the
    # counts then include its rows); True when the same import had finished before.
    run: int | None = None
    resumed_after_row: int | None = None
    already_imported: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class ErrorReport:
    """Writes bad cells to a CSV file (created on the first one; a report left by an
    earlier run is removed first) and keeps the first :data:`ERRORS_IN_SUMMARY` for
    the summary. Values and reasons are cut short (a refused cell can be megabytes),
    and the file's cells are quoted as an export's are, not run as formulas."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.unlink(missing_ok=True)
        self.kept: list[RowError] = []
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def add(self, row: int, column: str, value: str, reason: str) -> None:
        self.count += 1
        reason = shorten(reason, REASON_CHARACTERS)
        error = RowError(row=row, column=column, value=shorten(value), reason=reason)
        if len(self.kept) < ERRORS_IN_SUMMARY:
            self.kept.append(error)
        if self.path is None:
            return
        if self._writer is None:
            self._file = open_private(self.path, "w", encoding="utf-8", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=list(RowError.model_fields))
            self._writer.writeheader()
        self._writer.writerow({k: escape_formula(v) for k, v in error.model_dump().items()})

    def flush(self) -> None:
        """Hand the lines written so far to the OS: they survive the process."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
