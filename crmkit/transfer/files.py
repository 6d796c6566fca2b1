"""Reading a table from a CSV or XLSX file, one row at a time.

CSV: a byte-order mark picks its encoding; otherwise UTF-8 if the start of the file
decodes as UTF-8, else charset-normalizer's best guess (Windows exports are often
cp1252). The delimiter is sniffed among ``, ; TAB |``. XLSX is read with openpyxl in
read-only mode, so a large workbook streams instead of loading whole. In both, the first
row is the header, and rows are numbered as a spreadsheet shows them (the header is
row 1), whatever line breaks sit inside quoted cells.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from crmkit.errors import ValidationError

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
Format = Literal["csv", "xlsx"]
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Cells read back from a row: text from CSV; text, numbers, booleans, dates from XLSX.
Cell = Any


def file_format(path: Path) -> Format:
    """``xlsx`` for a workbook (by extension, else by its zip signature), else ``csv``."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".xls":
        raise ValidationError(
            f"{path.name}: .xls (Excel 97-2003) files are not read; save it as .xlsx or .csv"
        )
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    with path.open("rb") as f:
        return "xlsx" if f.read(4) == b"PK\x03\x04" else "csv"


def detect_encoding(sample: bytes, at_end: bool) -> str:
    """The encoding of a file that starts with ``sample`` (``at_end``: the whole file)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    try:
        # final=at_end: a sample may cut a multi-byte character in two.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_end)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise ValidationError("the file is not text in any encoding crmkit can recognise")
    return str(best.encoding)


def detect_delimiter(text: str) -> str:
    """The delimiter of CSV ``text`` (its first lines), ``,`` when nothing else fits."""
    lines = text.splitlines()[:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column, or too few lines to tell: the header alone decides.
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _header(cells: list[Cell]) -> list[str]:
    """Column names: blank ones are called ``column N``, repeats get `` (2)``..."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, cell in enumerate(cells, start=1):
        name = str(cell).strip() if cell is not None else ""
        name = name or f"column {number}"
        count = seen.get(name.lower(), 0) + 1
        seen[name.lower()] = count
        names.append(name if count == 1 else f"{name} ({count})")
    return names


@dataclass
class TableFile:
    """An open CSV or XLSX table: its header, then :meth:`rows`.

    Use as a context manager (or call :meth:`close`).
    """

    path: Path
    format: Format
    header: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    # How far through the file reading is, 0 to 1 (None: unknown).
    _position: Any = None
    _rows: Iterator[list[Cell]] = field(default_factory=lambda: iter(()))
    _closers: list[Any] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells) for each row after the header; the header is row 1."""
        yield from enumerate(self._rows, start=2)

    def fraction(self) -> float | None:
        return self._position() if self._position is not None else None

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()

    def __enter__(self) -> TableFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_table(
    path: Path | str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> TableFile:
    """Open ``path`` and read its header; a clear :class:`ValidationError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    if file_format(path) == "xlsx":
        if encoding or delimiter:
            raise ValidationError(f"{path.name}: --encoding and --delimiter are for CSV files")
        return _open_xlsx(path, sheet)
    if sheet:
        raise ValidationError(f"{path.name}: --sheet is for XLSX workbooks")
    return _open_csv(path, encoding, delimiter)


def _open_csv(path: Path, encoding: str | None, delimiter: str | None) -> TableFile:
    raw: BinaryIO = path.open("rb")
    try:
        sample = raw.read(SAMPLE_BYTES)
        size = path.stat().st_size
        if not sample.strip():
            raise ValidationError(f"{path.name} is empty: the first row must name the columns")
        if encoding is None:
            encoding = detect_encoding(sample, at_end=len(sample) >= size)
        else:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValidationError(f"unknown encoding {encoding!r}") from None
        try:
            text = sample.decode(encoding, errors="ignore")
        except UnicodeError as exc:
            raise ValidationError(f"{path.name} is not {encoding} text: {exc}") from None
        if delimiter is None:
            delimiter = detect_delimiter(text.lstrip("\ufeff"))
        elif len(delimiter) != 1:
            raise ValidationError(f"the delimiter must be one character, not {delimiter!r}")
        raw.seek(0)
        reader_file = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(reader_file, delimiter=delimiter)
        try:
            first = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValidationError(f"{path.name}, row 1: {exc}") from None
        if first is None:
            raise ValidationError(f"{path.name} is empty: the first row must name the columns")
        header = _header([cell.lstrip("\ufeff") for cell in first])
    except BaseException:
        raw.close()
        raise

    def rows() -> Iterator[list[Cell]]:
        number = 1
        try:
            for number, cells in enumerate(reader, start=2):  # noqa: B007
                yield cells
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValidationError(
                f"{path.name}, row {number + 1}: cannot be read as {encoding} "
                f"with delimiter {delimiter!r}: {exc}"
            ) from None

    return TableFile(
        path=path,
        format="csv",
        header=header,
        encoding=encoding,
        delimiter=delimiter,
        _position=lambda: raw.tell() / size if size else 1.0,
        _rows=rows(),
        _closers=[reader_file.close],
    )


def _open_xlsx(path: Path, sheet: str | None) -> TableFile:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationError(f"{path.name} is not an XLSX workbook: {exc}") from None
    try:
        if sheet is None:
            worksheet = book.worksheets[0]
        elif sheet in book.sheetnames:
            worksheet = book[sheet]
        else:
            raise ValidationError(
                f"{path.name} has no sheet {sheet!r} (its sheets: {', '.join(book.sheetnames)})"
            )
        values = worksheet.iter_rows(values_only=True)
        first = next(values, None)
        if first is None or all(cell is None for cell in first):
            raise ValidationError(f"{path.name} is empty: the first row must name the columns")
        header = _header(list(first))
        total = worksheet.max_row or 0
        done = [1]
    except BaseException:
        book.close()
        raise

    def rows() -> Iterator[list[Cell]]:
        for cells in values:
            done[0] += 1
            yield list(cells)

    return TableFile(
        path=path,
        format="xlsx",
        header=header,
        sheet=worksheet.title,
        _position=lambda: min(done[0] / total, 1.0) if total > 1 else None,
        _rows=rows(),
        _closers=[book.close],
    )
