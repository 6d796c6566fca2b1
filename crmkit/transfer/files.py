"""Reading a table from a CSV or XLSX file, one row at a time.

CSV: a byte-order mark picks its encoding; otherwise UTF-8 if the start of the file
decodes as UTF-8, else charset-normalizer's best guess, except that Windows-1252 wins
over the other single-byte Western and Central European code pages when both read the
file as letters (charset-normalizer often says cp1250 for French or German text, and
``è`` then reads as ``č``). The delimiter is sniffed among ``, ; TAB |``. XLSX is read
with openpyxl in read-only mode, so a large workbook streams instead of loading whole.

In both, the header is the first row with two cells or more: lines before it (a
preamble such as LinkedIn's "Notes:") are skipped, or as many rows as ``skip_rows``
says. Rows are numbered as a spreadsheet shows them (the first row of the file is
row 1), whatever line breaks sit inside quoted cells.

What cannot be read stays with its row: a cell longer than :data:`MAX_CELL`, a byte
that is not text in the file's encoding, a CSV row longer than :data:`ROW_CHARACTERS`
(cut there, the rest of it skipped) come as a :class:`ProblemRow` naming the cell, so
the import refuses that row and goes on. A workbook is checked before openpyxl opens
it: what its members unpack to (declared, and counted while unpacking) is capped, and
so is how much a member may be compressed, since a small file could otherwise unpack to
gigabytes (a decompression bomb).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO

from crmkit.errors import ValidationError
from crmkit.transfer.cells import shorten, unescape_formula

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
Format = Literal["csv", "xlsx", "vcf"]
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Cells read back from a row: text from CSV; text, numbers, booleans, dates from XLSX.
Cell = Any
# Excel's own limit on the characters of a cell: no spreadsheet holds a longer one.
MAX_CELL = 32_767
# A CSV row (all its lines) longer than this is cut: memory stays bounded whatever the
# file holds. The csv module refuses fields over 131,072 characters and then loses its
# place in the file, so its limit is raised above what a cut row can hold.
ROW_CHARACTERS = 1_048_576
csv.field_size_limit(max(csv.field_size_limit(), 2 * ROW_CHARACTERS))
# Spreadsheets stop at row 1,048,576; a workbook naming a later row is not one.
MAX_ROWS = 1_048_576
# What a workbook may unpack to in all, and how much more than its compressed size a
# member over RATIO_FROM_BYTES may unpack to (deflate gives 1,032 at most; real
# sheets 5 to 50).
XLSX_MAX_BYTES = 1024 * 1024 * 1024
XLSX_MAX_RATIO = 200
RATIO_FROM_BYTES = 16 * 1024 * 1024
_UNPACK_CHUNK = 1024 * 1024
# Column names are cut to this in errors and previews (a header can be a whole question).
HEADER_CHARACTERS = 1000
_UTF8_FAMILY = ("utf-8", "utf-8-sig", "utf-16", "utf-32")
# Bytes the file's encoding does not define, kept by the surrogateescape error handler.
_BAD_BYTE = re.compile("[\udc80-\udcff]")
# What makes a CSV line worth a second look: a formula quote or a bad byte.
_NOTABLE = re.compile("['\udc80-\udcff]")
# Single-byte code pages charset-normalizer confuses with Windows-1252 on Western text.
_WESTERN_RIVALS = frozenset(
    {"cp1250", "iso8859-2", "iso8859-1", "iso8859-15", "mac-latin2", "cp1257", "iso8859-4"}
)
# How many leading rows are looked at for a preamble.
PREAMBLE_ROWS = 30
# Words with accents shown in a preview, for the user to see the encoding is right.
ACCENTED_WORDS = 6
_WORD = re.compile(r"\w*[^\x00-\x7f\W]\w*")


@dataclass(frozen=True)
class Problem:
    """A cell that could not be read as it is: its index and column, the value as it
    is shown (cut short), why. ``whole_row``: the row is refused even if the column is
    not imported (part of the row was not read)."""

    index: int
    column: str
    value: str
    reason: str
    whole_row: bool = False


class ProblemRow(list[Cell]):
    """The cells of a row with :class:`Problem` cells (shown cut short in the list)."""

    problems: list[Problem]

    def __init__(self, cells: list[Cell], problems: list[Problem]) -> None:
        super().__init__(cells)
        self.problems = problems


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
    if _mostly_utf8(sample, at_end):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise ValidationError("the file is not text in any encoding crmkit can recognise")
    return _western(sample, str(best.encoding))


def _western(sample: bytes, guess: str) -> str:
    """Windows-1252 rather than ``guess`` when the choice is ambiguous: both read the
    sample, and ``guess`` finds no more letters in it (Polish ``ł`` is a letter in
    cp1250 and ``³`` in cp1252, so Polish text stays cp1250; ``è`` is a letter in both)."""
    if codecs.lookup(guess).name not in _WESTERN_RIVALS:
        return guess
    try:
        western = sample.decode("cp1252")
    except UnicodeDecodeError:
        return guess
    other = sample.decode(guess, errors="replace")
    return guess if _letters(other) > _letters(western) else "cp1252"


def _letters(text: str) -> int:
    return sum(1 for char in text if char > "\x7f" and char.isalpha())


def accented_words(text: str, limit: int = ACCENTED_WORDS) -> list[str]:
    """The first distinct words of ``text`` with letters outside ASCII."""
    found: list[str] = []
    for match in _WORD.finditer(text):
        if match.group() not in found:
            found.append(match.group())
            if len(found) >= limit:
                break
    return found


def preamble_rows(records: list[list[Any]]) -> int:
    """How many leading records come before the header: the header is the first
    record with two non-empty cells, when any of the first records has two."""
    for number, record in enumerate(records):
        if sum(1 for cell in record if cell is not None and str(cell).strip()) >= 2:
            return number
    return 0


def _mostly_utf8(sample: bytes, at_end: bool) -> bool:
    """Whether ``sample`` is UTF-8 text, maybe with a few bad bytes: those go to the
    rows holding them, rather than the whole file being read in another encoding
    (``José`` as ``JosÃ©``). Text in a legacy encoding rarely forms valid UTF-8
    sequences, so UTF-8 needs as many of them as bad bytes."""
    # final=at_end: a sample may cut a multi-byte character in two.
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    text = decoder.decode(sample, final=at_end)
    bad = len(_BAD_BYTE.findall(text))
    if not bad:
        return True
    return sum(1 for char in text if char > "\x7f") - bad >= bad


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
    # What the reader guessed and the user should know (an encoding fallen back to).
    warnings: list[str] = field(default_factory=list)
    # Rows before the header (a preamble), and words with accents from the start of
    # the file, shown in a preview so a wrong encoding is seen.
    skipped_rows: int = 0
    accented: list[str] = field(default_factory=list)
    # How far through the file reading is, 0 to 1 (None: unknown).
    _position: Any = None
    _rows: Iterator[list[Cell]] = field(default_factory=lambda: iter(()))
    _closers: list[Any] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells) for each row after the header; the file's first row
        is row 1."""
        yield from enumerate(self._rows, start=self.skipped_rows + 2)

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
    skip_rows: int | None = None,
) -> TableFile:
    """Open ``path`` and read its header; a clear :class:`ValidationError` otherwise.
    ``skip_rows``: the rows before the header (None: found as a preamble)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path}: no such file")
    if skip_rows is not None and skip_rows < 0:
        raise ValidationError(f"--skip-rows must be 0 or more, not {skip_rows}")
    if file_format(path) == "xlsx":
        if encoding or delimiter:
            raise ValidationError(f"{path.name}: --encoding and --delimiter are for CSV files")
        return _open_xlsx(path, sheet, skip_rows)
    if sheet:
        raise ValidationError(f"{path.name}: --sheet is for XLSX workbooks")
    return _open_csv(path, encoding, delimiter, skip_rows)


def _find_preamble(text: str, delimiter: str | None) -> tuple[int, str]:
    """The records before the header in the sample ``text``, and the text from the
    header on (for sniffing the delimiter without the preamble)."""
    lines = text.splitlines(keepends=True)
    used = [0]

    def counted() -> Iterator[str]:
        for line in lines:
            used[0] += 1
            yield line

    reader = csv.reader(counted(), delimiter=delimiter or detect_delimiter(text))
    records: list[list[str]] = []
    ends: list[int] = []
    try:
        for record in reader:
            records.append(record)
            ends.append(used[0])
            if len(records) >= PREAMBLE_ROWS:
                break
    except csv.Error:
        pass  # a cut sample: the records read so far decide
    skip = preamble_rows(records)
    return skip, "".join(lines[ends[skip - 1] :]) if skip else text


def _open_csv(
    path: Path, encoding: str | None, delimiter: str | None, skip_rows: int | None
) -> TableFile:
    raw: BinaryIO = path.open("rb")
    try:
        sample = raw.read(SAMPLE_BYTES)
        size = path.stat().st_size
        if not sample.strip():
            raise ValidationError(f"{path.name} is empty: the first row must name the columns")
        warnings: list[str] = []
        if encoding is None:
            encoding = detect_encoding(sample, at_end=len(sample) >= size)
            if codecs.lookup(encoding).name not in _UTF8_FAMILY:
                warnings.append(
                    f"{path.name} is not UTF-8 text: it was read as {encoding} "
                    "(give --encoding if that is wrong)"
                )
        else:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValidationError(f"unknown encoding {encoding!r}") from None
        try:
            text = sample.decode(encoding, errors="ignore")
        except UnicodeError as exc:
            raise ValidationError(f"{path.name} is not {encoding} text: {exc}") from None
        text = text.lstrip("\ufeff")
        if delimiter is not None and len(delimiter) != 1:
            raise ValidationError(f"the delimiter must be one character, not {delimiter!r}")
        if skip_rows is None:
            skip_rows, rest = _find_preamble(text, delimiter)
        else:
            rest = "".join(text.splitlines(keepends=True)[skip_rows:])
        if delimiter is None:
            delimiter = detect_delimiter(rest)
        raw.seek(0)
        # Bytes the encoding does not define are kept (as surrogates) for the row that
        # holds them to be refused, instead of stopping the whole import.
        reader_file = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
        lines = _Lines(reader_file, delimiter)
        reader = csv.reader(lines, delimiter=delimiter)
        for number in range(1, skip_rows + 1):
            if _next_record(reader, lines, path, number, encoding, delimiter) is None:
                raise ValidationError(
                    f"{path.name} has only {number - 1} rows: nothing is left after "
                    f"skipping {skip_rows}"
                )
        first = _next_record(reader, lines, path, skip_rows + 1, encoding, delimiter)
        if first is None:
            raise ValidationError(f"{path.name} is empty: the first row must name the columns")
        if lines.cut:
            raise ValidationError(
                f"{path.name}, row {skip_rows + 1}: the header is longer than "
                f"{ROW_CHARACTERS:,} characters"
            )
        header = _header(
            [shorten(_shown_bytes(cell.lstrip("\ufeff")), HEADER_CHARACTERS) for cell in first]
        )
    except BaseException:
        raw.close()
        raise

    def rows() -> Iterator[list[Cell]]:
        # Inlined: this loop runs once per row of files of millions.
        number = skip_rows + 1
        try:
            while True:
                number += 1
                lines.chars = 0
                lines.cut = lines.bad_bytes = lines.quote = False
                cells = next(reader)
                # Most records have nothing to look at: no call for them.
                if lines.quote or lines.cut or lines.bad_bytes or lines.chars > MAX_CELL:
                    cells = _csv_row(cells, lines, header, encoding)
                yield cells
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _unreadable(path, number, encoding, delimiter, exc) from None

    return TableFile(
        path=path,
        format="csv",
        header=header,
        encoding=encoding,
        delimiter=delimiter,
        warnings=warnings,
        skipped_rows=skip_rows,
        accented=accented_words(text),
        _position=lambda: raw.tell() / size if size else 1.0,
        _rows=rows(),
        _closers=[reader_file.close],
    )


def _next_record(
    reader: Iterator[list[str]],
    lines: _Lines,
    path: Path,
    number: int,
    encoding: str,
    delimiter: str,
) -> list[str] | None:
    lines.new_record()
    try:
        return next(reader, None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(path, number, encoding, delimiter, exc) from None


def _unreadable(
    path: Path, number: int, encoding: str, delimiter: str, exc: Exception
) -> ValidationError:
    return ValidationError(
        f"{path.name}, row {number}: cannot be read as {encoding} "
        f"with delimiter {delimiter!r}: {exc}"
    )


def _shown_bytes(text: str) -> str:
    r"""``text`` with each byte its encoding does not define written as ``\xNN``."""
    return _BAD_BYTE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def _column(header: list[str], index: int) -> str:
    return header[index] if index < len(header) else f"column {index + 1}"


def _csv_row(cells: list[str], lines: _Lines, header: list[str], encoding: str) -> list[Cell]:
    """The cells of a record as imported: formula quotes removed (see
    :mod:`crmkit.transfer.cells`), cells that cannot be imported as problems. Only
    records whose lines showed a reason are looked at cell by cell."""
    if lines.quote:
        cells = [unescape_formula(cell) for cell in cells]
    if not (lines.cut or lines.bad_bytes or lines.chars > MAX_CELL):
        return cells
    problems: list[Problem] = []
    for index, cell in enumerate(cells):
        cut = lines.cut and index == len(cells) - 1
        if cut:
            reason = (
                f"the row is longer than {ROW_CHARACTERS:,} characters: the rest of it was not read"
            )
        elif len(cell) > MAX_CELL:
            reason = _too_long(cell)
        elif lines.bad_bytes and _BAD_BYTE.search(cell):
            byte = ord(_BAD_BYTE.findall(cell)[0]) - 0xDC00
            reason = (
                f"byte 0x{byte:02x} is not {encoding} text "
                "(give --encoding if the file is in another encoding)"
            )
        else:
            continue
        shown = shorten(_shown_bytes(cell))
        problems.append(Problem(index, _column(header, index), shown, reason, whole_row=cut))
        cells[index] = shown
    return ProblemRow(cells, problems) if problems else cells


def _too_long(cell: str) -> str:
    return f"the cell holds {len(cell):,} characters, more than the {MAX_CELL:,} a cell may hold"


# Where a CSV parser is, for following a record the csv module is not given whole.
_START, _FIELD, _QUOTED, _QUOTE_IN_QUOTED = range(4)


def _scan(text: str, state: int, delimiter: str) -> int:
    """The csv module's state (default dialect) after ``text``, a line without its
    line break, read from ``state``."""
    position, end = 0, len(text)
    while position < end:
        if state == _START:
            if text[position] == '"':
                state, position = _QUOTED, position + 1
            else:
                state = _FIELD
        elif state == _FIELD:
            found = text.find(delimiter, position)
            state, position = (_START, found + 1) if found >= 0 else (_FIELD, end)
        elif state == _QUOTED:
            found = text.find('"', position)
            state, position = (_QUOTE_IN_QUOTED, found + 1) if found >= 0 else (_QUOTED, end)
        else:
            char = text[position]
            state = _QUOTED if char == '"' else _START if char == delimiter else _FIELD
            position += 1
    return state


class _Lines:
    """The lines of a CSV stream for a csv.reader, which takes one record's lines at a
    time: :meth:`new_record` is called before each record. A record longer than
    :data:`ROW_CHARACTERS` is cut there, closed as the csv module needs, and the rest of
    it skipped (followed to its end by :func:`_scan`), so memory stays bounded and the
    next record is read from its start. What the lines held is noted for the caller."""

    def __init__(self, stream: TextIO, delimiter: str) -> None:
        self.stream = stream
        self.delimiter = delimiter
        self.new_record()

    def new_record(self) -> None:
        self.chars = 0
        self.cut = self.bad_bytes = self.quote = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        budget = ROW_CHARACTERS - self.chars
        line = self.stream.readline(budget + 1)
        if not line:
            raise StopIteration
        if len(line) > budget:
            # The csv module asks for a second line only when the first ended in quotes.
            state = _QUOTED if self.chars else _START
            line = self._cut(line[:budget], state, line[budget:])
        self.chars += len(line)
        if _NOTABLE.search(line):
            self.quote = self.quote or "'" in line
            self.bad_bytes = self.bad_bytes or _BAD_BYTE.search(line) is not None
        return line

    def _cut(self, head: str, state: int, rest: str) -> str:
        self.cut = True
        state = _scan(head, state, self.delimiter)
        self._skip(rest, state)
        return head + ('"' if state == _QUOTED else "") + "\n"

    def _skip(self, text: str, state: int) -> None:
        """Read on to the end of the record ``text`` continues, from ``state``."""
        while text:
            body = text.rstrip("\r\n")
            state = _scan(body, state, self.delimiter)
            if len(body) < len(text) and state != _QUOTED:
                return
            text = self.stream.readline(_UNPACK_CHUNK)


def _check_workbook(path: Path) -> None:
    """Refuse a workbook that unpacks to more than openpyxl should read, before it does:
    by the sizes its members declare, then by counting what they unpack to (zipfile
    stops a member at its declared size and checks its CRC, so a member lying about
    its size is found here too)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for member in members:
                _check_member(path, member)
            declared = sum(member.file_size for member in members)
            if declared > XLSX_MAX_BYTES:
                raise ValidationError(
                    f"{path.name} unpacks to {declared:,} bytes, more than the "
                    f"{XLSX_MAX_BYTES:,} read from a workbook (save it as CSV)"
                )
            for member in members:
                _unpack(path, archive, member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ValidationError(f"{path.name} is not an XLSX workbook: {exc}") from None


def _check_member(path: Path, member: zipfile.ZipInfo) -> None:
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValidationError(
            f"{path.name} is not an XLSX workbook: {member.filename} is compressed "
            f"with method {member.compress_type}, which workbooks do not use"
        )
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > RATIO_FROM_BYTES and ratio > XLSX_MAX_RATIO:
        raise ValidationError(
            f"{path.name}: {member.filename} unpacks to {member.file_size:,} bytes, "
            f"{ratio:,.0f} times its packed size (at most {XLSX_MAX_RATIO} is read: "
            "this looks like a decompression bomb)"
        )


def _unpack(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    count = 0
    with archive.open(member) as stream:
        while chunk := stream.read(_UNPACK_CHUNK):
            count += len(chunk)
            if count > member.file_size:
                raise ValidationError(
                    f"{path.name}: {member.filename} unpacks to more than the "
                    f"{member.file_size:,} bytes it declares"
                )


def _open_xlsx(path: Path, sheet: str | None, skip_rows: int | None) -> TableFile:
    import openpyxl

    _check_workbook(path)
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
        total = min(worksheet.max_row or 0, MAX_ROWS)
        # The size a sheet declares is only used for progress: rows are as wide as
        # their cells (a declared A1:XFD1048576 would pad every row to 16,384 cells).
        worksheet.reset_dimensions()
        values: Iterator[tuple[Any, ...]] = worksheet.iter_rows(values_only=True)
        leading = list(itertools.islice(values, PREAMBLE_ROWS if skip_rows is None else 0))
        skip = preamble_rows([list(r) for r in leading]) if skip_rows is None else skip_rows
        if skip_rows:
            leading = list(itertools.islice(values, skip_rows))
            if len(leading) < skip_rows:
                raise ValidationError(
                    f"{path.name} has only {len(leading)} rows: nothing is left after "
                    f"skipping {skip_rows}"
                )
            leading = []
        else:
            leading = leading[skip:]
        values = itertools.chain(leading, values)
        first = list(next(values, ()))
        while first and first[-1] is None:
            first.pop()
        if not first:
            raise ValidationError(f"{path.name} is empty: the first row must name the columns")
        header = _header(
            [shorten(c, HEADER_CHARACTERS) if isinstance(c, str) else c for c in first]
        )
        done = [skip + 1]
    except BaseException:
        book.close()
        raise

    def rows() -> Iterator[list[Cell]]:
        for cells in values:
            done[0] += 1
            if done[0] > MAX_ROWS:
                raise ValidationError(
                    f"{path.name}: sheet {worksheet.title!r} goes on past row {MAX_ROWS:,}, "
                    "the last a spreadsheet has"
                )
            yield _xlsx_row(list(cells), header)

    return TableFile(
        path=path,
        format="xlsx",
        header=header,
        sheet=worksheet.title,
        skipped_rows=skip,
        _position=lambda: min(done[0] / total, 1.0) if total > 1 else None,
        _rows=rows(),
        _closers=[book.close],
    )


def _xlsx_row(cells: list[Cell], header: list[str]) -> list[Cell]:
    width = len(header)
    # Empty (styled) cells past the header are dropped; the row checks report others.
    if len(cells) > width and cells[width:].count(None) == len(cells) - width:
        del cells[width:]
    problems = [
        Problem(index, _column(header, index), shorten(cell), _too_long(cell))
        for index, cell in enumerate(cells)
        if isinstance(cell, str) and len(cell) > MAX_CELL
    ]
    if not problems:
        return cells
    for problem in problems:
        cells[problem.index] = problem.value
    return ProblemRow(cells, problems)
