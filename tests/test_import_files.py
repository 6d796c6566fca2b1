"""Reading import files whatever they hold, and exports a spreadsheet and an import
read back unchanged: list cells, cells too long or with bad bytes, ids, CSV formulas."""

from __future__ import annotations

import csv
import itertools
import json
import weakref
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import invoker

from crmkit import CRM
from crmkit.tenant import Tenant
from crmkit.testing.properties import examples
from crmkit.transfer.cells import FORMULA_START, escape_formula, unescape_formula
from crmkit.transfer.files import MAX_CELL, ROW_CHARACTERS
from crmkit.transfer.rows import join_list, split_list

DB_EXAMPLES = settings(
    max_examples=examples(50),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER = ["first_name", "email", "notes"]
_names = itertools.count()


def write_rows(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def fresh(crm: CRM) -> Tenant:
    return crm.configure_tenant(f"t{next(_names)}", ["contacts"])


# Hypothesis runs every example of a test on one CRM: the examples share a source and a
# copy tenant (setting up tenants costs more than the rest), each with its own contacts.
_pairs: weakref.WeakKeyDictionary[CRM, tuple[Tenant, Tenant]] = weakref.WeakKeyDictionary()


def source_and_copy(crm: CRM) -> tuple[Tenant, Tenant]:
    if crm not in _pairs:
        source = fresh(crm)
        source.add_custom_field("Note", "text")
        _pairs[crm] = (source, fresh(crm))
    return _pairs[crm]


def round_trip(source: Tenant, copy: Tenant, out: Path, emails: list[str]) -> None:
    """Export the contacts with ``emails`` from ``source`` and import them into ``copy``."""
    listed = ", ".join(json.dumps(e) for e in emails)
    assert source.export_contacts(out, where=f"contact.email in [{listed}]") == len(emails)
    summary = copy.import_contacts(out)
    assert (summary.created, summary.failed) == (len(emails), 0), summary.errors


def groups_of(tenant: Tenant, emails: list[str]) -> dict[str, list[str]]:
    from crmkit_contacts.groups import Groups

    groups = Groups(tenant)
    return {
        c.email or "": sorted(groups.of(c.id)) for c in tenant.list_contacts() if c.email in emails
    }


def tags_of(tenant: Tenant, emails: list[str]) -> dict[str, list[str]]:
    return {c.email or "": sorted(c.tags) for c in tenant.list_contacts() if c.email in emails}


# ---------------------------------------------------------------- tags and groups
# Names as a tenant stores them (stripped, 1 to 100 characters), with the characters a
# list cell uses for itself, spreadsheet formula starts and spaces made likely.
_SPECIAL = st.sampled_from(list(",;\"' =+-@\t\r\nx"))
# Control characters come only from _SPECIAL: XML 1.0 (a workbook) cannot hold most.
_ANY = st.characters(blacklist_categories=("Cs", "Cc"))
names = st.text(_SPECIAL | _ANY, min_size=1, max_size=30).map(str.strip).filter(bool)


@settings(max_examples=examples(200), deadline=None)
@given(items=st.lists(names, unique=True, max_size=6))
def test_a_list_cell_reads_back_as_written(items: list[str]) -> None:
    assert split_list(join_list(items)) == items


def test_list_cells_typed_by_hand() -> None:
    assert split_list("vip, newsletter") == ["vip", "newsletter"]
    assert split_list('trade, "show; fair" ; vip') == ["trade", "show; fair", "vip"]
    # The item after a quoted one, and a quote that closes nothing, stay whole.
    assert split_list('a, "west, referral", b') == ["a", "west, referral", "b"]
    assert split_list('5" screen, x') == ['5" screen', "x"]


@DB_EXAMPLES
@given(
    tags=st.lists(names, unique=True, max_size=5), groups=st.lists(names, unique=True, max_size=4)
)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_keeps_tags_and_groups(
    crm: CRM, tmp_path: Path, fmt: str, tags: list[str], groups: list[str]
) -> None:
    from crmkit_contacts.groups import Groups

    if fmt == "xlsx":
        # XML reads a carriage return back as a line feed: a workbook cannot keep one.
        tags = [t for t in tags if "\r" not in t]
        groups = [g for g in groups if "\r" not in g]
    source, copy = source_and_copy(crm)
    number = next(_names)
    emails = [f"ann{number}@example.com", f"bob{number}@example.com"]
    ann = source.add_contact({"first_name": "Ann", "email": emails[0]})
    source.add_contact({"first_name": "Bob", "email": emails[1]})
    if tags:
        source.tag_contact(ann.id, tags)
    known = {g["name"] for g in Groups(source).all()}
    for name in groups:
        if name not in known:
            Groups(source).create(name)
        Groups(source).add(name, [ann.id])
    round_trip(source, copy, tmp_path / f"export.{fmt}", emails)
    assert tags_of(copy, emails) == tags_of(source, emails)
    assert groups_of(copy, emails) == groups_of(source, emails)


# ---------------------------------------------------------------- CSV formulas
@settings(max_examples=examples(300), deadline=None)
@given(text=st.text(st.sampled_from(list("'=+-@\t\rab")) | _ANY, max_size=12))
def test_formula_quotes_round_trip_and_leave_no_formula(text: str) -> None:
    escaped = escape_formula(text)
    assert unescape_formula(escaped) == text
    assert not escaped or escaped[0] not in FORMULA_START


FORMULAS = ['=HYPERLINK("http://x.test","click")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3"]


@DB_EXAMPLES
@given(
    values=st.lists(
        st.text(st.sampled_from(list("'=+-@ab(),")) | _ANY, min_size=1, max_size=20)
        .map(str.strip)
        .filter(bool),
        min_size=1,
        max_size=4,
    )
)
def test_csv_export_quotes_formulas_and_import_removes_the_quote(
    crm: CRM, tmp_path: Path, values: list[str]
) -> None:
    source, copy = source_and_copy(crm)
    number = next(_names)
    emails = []
    for index, value in enumerate([*values, *FORMULAS, "'=already quoted"]):
        emails.append(f"c{number}.{index}@example.com")
        source.add_contact({"first_name": value, "email": emails[-1], "fields": {"note": value}})
    out = tmp_path / "export.csv"
    round_trip(source, copy, out, emails)
    with out.open(encoding="utf-8", newline="") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [cell for cell in cells if cell[:1] and cell[0] in FORMULA_START]

    def people(tenant: Tenant) -> list[tuple[str, Any]]:
        return sorted(
            (c.first_name, c.fields.get("note"))
            for c in tenant.list_contacts()
            if c.email in emails
        )

    assert people(copy) == people(source)


def test_xlsx_export_writes_formulas_as_text(crm: CRM, tmp_path: Path) -> None:
    source = fresh(crm)
    for number, value in enumerate(FORMULAS):
        source.add_contact({"first_name": value, "email": f"c{number}@example.com"})
    out = tmp_path / "export.xlsx"
    source.export_contacts(out)
    with zipfile.ZipFile(out) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    book = openpyxl.load_workbook(out)
    names = [row[1].value for row in book.active.iter_rows(min_row=2)]  # type: ignore[union-attr]
    assert sorted(names) == sorted(FORMULAS)
    assert {row[1].data_type for row in book.active.iter_rows(min_row=2)} == {"s"}  # type: ignore[union-attr]


def test_error_report_quotes_formulas(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    file = write_rows(tmp_path / "f.csv", [["Ann", '=HYPERLINK("http://x.test")', ""]])
    report = tmp_path / "f.errors.csv"
    summary = tenant.import_contacts(file, errors_path=report)
    # The bad email is left out, Ann imported without it.
    assert (summary.created, summary.left_out, summary.failed) == (1, 1, 0)
    text = report.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text
    assert not [c for r in csv.reader(text.splitlines()) for c in r if c[:1] in ("=", "+", "@")]


# ---------------------------------------------------------------- long cells
def test_a_cell_over_the_csv_modules_limit_refuses_only_its_row(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    long = "x" * 200_000
    file = write_rows(
        tmp_path / "long.csv",
        [
            ["Ann", "ann@example.com", "short"],
            ["Bob", "bob@example.com", long],
            ["Cy", "cy@example.com", "fine"],
        ],
        header=["first_name", "email", "fields.notes"],
    )
    report = tmp_path / "long.errors.csv"
    summary = tenant.import_contacts(file, errors_path=report, strict=True)
    assert (summary.created, summary.failed) == (2, 1)
    [error] = read_report(report)
    assert (error["row"], error["column"]) == ("3", "fields.notes")
    assert "200,000 characters" in error["reason"]
    assert len(error["value"]) < 300
    assert report.stat().st_size < 2000
    assert sorted(c.first_name for c in tenant.list_contacts()) == ["Ann", "Cy"]


def test_a_long_cell_in_a_column_not_imported_is_no_error(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    file = write_rows(
        tmp_path / "long.csv",
        [["Ann", "ann@example.com", "y" * 150_000]],
        header=["first_name", "email", "whatever"],
    )
    summary = tenant.import_contacts(file)
    assert (summary.created, summary.failed, summary.unmapped) == (1, 0, ["whatever"])


@pytest.mark.parametrize("quoted", [True, False])
def test_a_row_over_the_row_limit_is_cut_and_the_next_rows_read(
    crm: CRM, tmp_path: Path, quoted: bool
) -> None:
    tenant = fresh(crm)
    # Over the limit on one line, or (quoted) over many lines holding delimiters and
    # quotes, which the reader must follow to find where the next row starts.
    huge = ('a, "b"\n' * (ROW_CHARACTERS // 7 + 10)) if quoted else "z" * (ROW_CHARACTERS + 10)
    file = write_rows(
        tmp_path / "huge.csv",
        [
            ["Ann", "ann@example.com", "1"],
            ["Bob", "bob@example.com", huge],
            ["Cy", "cy@x.com", "3"],
        ],
        header=["first_name", "email", "fields.notes"],
    )
    summary = tenant.import_contacts(file)
    assert (summary.rows, summary.created, summary.failed) == (3, 2, 1)
    [error] = summary.errors
    assert (error.row, error.column) == (3, "fields.notes")
    assert "longer than 1,048,576 characters" in error.reason
    assert {c.first_name: c.fields["notes"] for c in tenant.list_contacts()} == {
        "Ann": "1",
        "Cy": "3",
    }


# ---------------------------------------------------------------- encodings
def test_a_bad_byte_after_the_sample_refuses_only_its_row(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    good = [f"José{n},j{n}@example.com,\r\n".encode() for n in range(3000)]  # ~80 KB
    assert sum(map(len, good)) > 64 * 1024
    file = tmp_path / "late.csv"
    file.write_bytes(
        b"first_name,email,notes\r\n"
        + b"".join(good)
        + b"Bad\xff,bad@example.com,\r\n"
        + b"Last,last@example.com,\r\n"
    )
    summary = tenant.import_contacts(file, strict=True)
    assert (summary.encoding, summary.created, summary.failed) == ("utf-8", 3001, 1)
    [error] = summary.errors
    assert (error.row, error.column, error.value) == (3002, "first_name", "Bad\\xff")
    assert "byte 0xff is not utf-8 text" in error.reason
    assert summary.warnings == []


def test_one_bad_byte_does_not_turn_a_utf8_file_into_cp1252(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    file = tmp_path / "small.csv"
    file.write_bytes(
        "first_name,email\nJosé,jose@example.com\nZoë,zoe@example.com\n".encode()
        + b"B\x92b,bob@example.com\n"
    )
    summary = tenant.import_contacts(file, strict=True)
    assert (summary.encoding, summary.created, summary.failed) == ("utf-8", 2, 1)
    assert sorted(c.first_name for c in tenant.list_contacts()) == ["José", "Zoë"]
    assert summary.errors[0].row == 4


def test_a_cp1252_file_is_read_with_a_warning(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    file = tmp_path / "windows.csv"
    file.write_bytes(
        "first_name,email\nJosé,jose@example.com\nRenée,r@example.com\n".encode("cp1252")
    )
    summary = tenant.import_contacts(file)
    assert (summary.created, summary.failed) == (2, 0)
    assert sorted(c.first_name for c in tenant.list_contacts()) == ["José", "Renée"]
    [warning] = summary.warnings
    assert "windows.csv is not UTF-8 text: it was read as" in warning


# ---------------------------------------------------------------- ids
def test_match_id_refuses_ids_that_are_not_ascii_or_too_big(crm: CRM, tmp_path: Path) -> None:
    tenant = fresh(crm)
    ann = tenant.add_contact({"first_name": "Ann", "email": "ann@example.com"})
    assert ann.id == 1
    file = write_rows(
        tmp_path / "ids.csv",
        [
            ["1", "Ann B"],
            ["12345678901234567890", "Huge"],
            ["\u0661", "Arabic one"],
            ["\u00b9", "Superscript one"],
            ["9223372036854775808", "Just over"],
        ],
        header=["id", "first_name"],
    )
    report = tmp_path / "ids.errors.csv"
    summary = tenant.import_contacts(file, match="id", errors_path=report)
    assert (summary.updated, summary.failed) == (1, 4)
    assert [(e["row"], e["column"]) for e in read_report(report)] == [
        ("3", "id"),
        ("4", "id"),
        ("5", "id"),
        ("6", "id"),
    ]
    assert all("is not a contact id" in e["reason"] for e in read_report(report))
    assert [(c.id, c.first_name) for c in tenant.list_contacts()] == [(1, "Ann B")]


# ---------------------------------------------------------------- the CLI preview
def test_cli_preview_and_summary_cut_long_values(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = invoker(db_url, monkeypatch, "cli")
    run("init", "--packs", "contacts")
    long = "q" * (MAX_CELL + 1)
    file = write_rows(
        tmp_path / "p.csv",
        [["Ann", "ann@example.com", long], ["Bob", long, "x"]],
        header=["first_name", "email", "fields.notes"],
    )
    shown = run("import", str(file), "--preview")
    assert len(shown) < 10_000
    assert "32,768 characters" in shown
    data = json.loads(run("import", str(file), "--preview", "--json"))
    assert max(len(str(v)) for row in data["rows"] for v in row.values()) < 1_000
    out = run("import", str(file), "--no-progress", "--strict", code=1)
    assert "row 2, fields.notes:" in out and "row 3, email:" in out
    assert len(out) < 10_000
    assert (tmp_path / "p.errors.csv").stat().st_size < 5_000
