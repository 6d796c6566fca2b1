"""Importing contacts from real CSV and XLSX files, and exporting them back."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from support import FrozenClock, PackPlugin, invoker, snapshot

from crmkit import CRM
from crmkit.errors import ValidationError
from crmkit.tenant import Tenant

HEADER = ["First Name", "Last Name", "E-mail", "Mobile", "Company", "Tags", "Lead Status"]
ROWS = [
    ["Ann", "Lee", "ann@example.com", "+1 415 555 2671", "Acme", "vip, newsletter", "Contacted"],
    ["Zoë", "Müller", "zoe@example.com", "(201) 555-0123", "Bäckerei", "", "qualified"],
    ["Cara", "", "cara@example.com", "", "", "vip", ""],
]


def write_csv(
    path: Path, rows: list[list[str]], *, header: list[str] = HEADER, **kwargs: Any
) -> Path:
    encoding = kwargs.pop("encoding", "utf-8")
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, **kwargs)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def shop(crm: CRM) -> Tenant:
    """A tenant with the contacts module (lead statuses) and 17hats contact types."""
    return crm.configure_tenant("shop", ["contacts", "17hats"])


def by_email(tenant: Tenant) -> dict[str | None, Any]:
    return {c.email: c for c in tenant.list_contacts(archived=None)}


# ---------------------------------------------------------------- reading files
@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ";"), ("cp1252", "\t"), ("utf-16", "|"), ("latin-1", ",")],
)
def test_csv_encodings_and_delimiters_are_detected(
    shop: Tenant, tmp_path: Path, encoding: str, delimiter: str
) -> None:
    file = write_csv(tmp_path / "people.csv", ROWS, encoding=encoding, delimiter=delimiter)
    summary = shop.import_contacts(file)
    assert (summary.delimiter, summary.failed, summary.created) == (delimiter, 0, 3)
    contacts = by_email(shop)
    zoe = contacts["zoe@example.com"]
    assert (zoe.first_name, zoe.last_name, zoe.account) == ("Zoë", "Müller", "Bäckerei")
    assert zoe.phone == "+12015550123"
    assert contacts["ann@example.com"].tags == ["newsletter", "vip"]
    assert contacts["ann@example.com"].facets["lead_status"] == "contacted"
    # Labels and names of facet values, in any case; empty cells leave the default.
    assert zoe.facets["lead_status"] == "qualified"
    assert contacts["cara@example.com"].facets == {"contact_type": "other", "lead_status": "new"}


def test_xlsx_made_by_openpyxl(shop: Tenant, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "People"
    sheet.append(["Name", "Email", "Phone", "Deal size", "Signed"])
    # A phone typed as a number, a full name to split, typed cells for typed fields.
    sheet.append(["Ann Marie Lee", "ann@example.com", 4155552671, 1250.5, True])
    sheet.append(["Lee, Bob", "bob@example.com", "+44 20 7183 8750", 300, False])
    sheet.append([None, None, None, None, None])
    file = tmp_path / "people.xlsx"
    book.save(file)
    summary = shop.import_contacts(
        file, mapping={"Deal size": "fields.deal_size:number", "Signed": "fields.signed:bool"}
    )
    assert (summary.format, summary.sheet, summary.created, summary.skipped) == (
        "xlsx",
        "People",
        2,
        1,
    )
    assert summary.new_fields == ["deal_size", "signed"]
    ann, bob = by_email(shop)["ann@example.com"], by_email(shop)["bob@example.com"]
    assert (ann.first_name, ann.last_name, ann.phone) == ("Ann Marie", "Lee", "+14155552671")
    assert ann.fields == {"deal_size": 1250.5, "signed": True}
    assert (bob.first_name, bob.last_name, bob.phone) == ("Bob", "Lee", "+442071838750")
    # A landline: OK to SMS off, with the same note a manual add gives.
    assert (bob.ok_to_sms, bob.sms_note) == (False, "Landline number, SMS not allowed.")
    assert {f.name: f.type for f in shop.fields()}["deal_size"] == "number"


def test_unreadable_files_get_clear_errors(shop: Tenant, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValidationError, match="empty.csv is empty"):
        shop.import_contacts(empty)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(ValidationError, match="fake.xlsx is not an XLSX workbook"):
        shop.import_contacts(fake)
    with pytest.raises(ValidationError, match="no such file"):
        shop.import_contacts(tmp_path / "missing.csv")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValidationError, match=r"\.xls \(Excel 97-2003\)"):
        shop.import_contacts(old)


# ---------------------------------------------------------------- mapping
def test_mapping_is_suggested_overridden_and_reported(shop: Tenant, tmp_path: Path) -> None:
    header = ["Given name", "SurName", "E-mail address", "Favourite colour", "Notes", "Groups"]
    file = write_csv(
        tmp_path / "m.csv",
        [["Ann", "Lee", "ann@example.com", "blue", "x", "VIP; Trade show"]],
        header=header,
    )
    summary = shop.import_contacts(
        file, mapping={"favourite colour": "fields.colour", "Notes": "-"}
    )
    assert summary.mapping == {
        "Given name": "first_name",
        "SurName": "last_name",
        "E-mail address": "email",
        "Favourite colour": "fields.colour",
        "Groups": "groups",
        "Notes": "-",
    }
    assert summary.unmapped == []
    ann = by_email(shop)["ann@example.com"]
    assert ann.fields == {"colour": "blue"}
    from crmkit_contacts.groups import Groups

    assert {g["name"]: g["members"] for g in Groups(shop).all()} == {"Trade show": 1, "VIP": 1}

    unmapped = shop.import_contacts(
        write_csv(tmp_path / "u.csv", [["Bo", "x"]], header=["First", "Shoe size"])
    )
    assert unmapped.unmapped == ["Shoe size"]


def test_mapping_file_and_mapping_errors_change_nothing(
    crm: CRM, shop: Tenant, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "p.csv", ROWS)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("Mobile: '-'\nLead Status: facets.lead_status\n", encoding="utf-8")
    summary = shop.import_contacts(file, mapping_file=mapping)
    assert summary.mapping["Mobile"] == "-"
    assert by_email(shop)["ann@example.com"].phone is None
    before = snapshot(crm)
    bad = [
        ({"Nope": "email"}, "--map 'Nope': the file has no such column"),
        ({"Mobile": "telephone"}, "column 'Mobile': unknown target 'telephone'"),
        ({"Mobile": "facets.mood"}, "column 'Mobile': tenant 'shop' has no facet 'mood'"),
        ({"Mobile": "email", "E-mail": "email"}, "columns 'E-mail' and 'Mobile' both map to"),
        ({"Mobile": "fields.size:colour"}, "unknown field type 'colour'"),
    ]
    for given, message in bad:
        with pytest.raises(ValidationError, match=message):
            shop.import_contacts(file, mapping=given)
    broken = tmp_path / "broken.yaml"
    broken.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="mapping file broken.yaml: expected COLUMN"):
        shop.import_contacts(file, mapping_file=broken)
    with pytest.raises(ValidationError, match="--match phone: no column maps to phone"):
        shop.import_contacts(file, mapping={"Mobile": "-"}, match="phone")
    assert snapshot(crm) == before


# ---------------------------------------------------------------- bad rows
BAD_ROWS = [
    ROWS[0],
    ["Bob", "Stone", "bob@example", "12", "Acme", "", "Nope"],
    ["", "", "", "", "", "", ""],
    ["", "NoFirst", "nofirst@example.com", "", "", "", ""],
    ["Dan", "Diaz", "dan@example.com", "", "", "x" * 101, "converted"],
    ["", "", "oops", "", "", "", ""],
    ROWS[1],
]


def test_a_bad_cell_is_left_out_and_reported_and_its_row_imported(
    shop: Tenant, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "bad.csv", BAD_ROWS)
    report = tmp_path / "bad.errors.csv"
    summary = shop.import_contacts(file, errors_path=report)
    assert (summary.rows, summary.created, summary.skipped, summary.failed) == (7, 5, 1, 1)
    assert summary.left_out == 5
    with report.open(encoding="utf-8", newline="") as f:
        found = [(int(r["row"]), r["column"], r["value"]) for r in csv.DictReader(f)]
    # In row order: the cells left out, then the row with no one to import.
    assert found == [
        (3, "E-mail", "bob@example"),
        (3, "Mobile", "12"),
        (3, "Lead Status", "Nope"),
        (6, "Tags", "x" * 101),
        (6, "Lead Status", "converted"),
        (7, "E-mail", "oops"),
        (7, "'-", ""),  # quoted in the report file, as cells that look like formulas are
    ]
    reasons = {(e.row, e.column): e.reason for e in summary.errors}
    assert "not a valid email address" in reasons[(3, "E-mail")]
    assert "set by rules only" in reasons[(6, "Lead Status")]
    assert "no name, email, phone or company" in reasons[(7, "-")]
    contacts = {(c.first_name, c.last_name): c for c in shop.list_contacts()}
    bob = contacts[("Bob", "Stone")]
    # Bob is in without the three bad cells; a row with only a last name is a person.
    assert (bob.email, bob.phone, bob.account) == (None, None, "Acme")
    assert bob.facets["lead_status"] != "Nope"
    assert contacts[("", "NoFirst")].email == "nofirst@example.com"
    assert contacts[("Dan", "Diaz")].tags == []
    assert summary.errors_file == str(report)


def test_strict_refuses_a_row_with_any_bad_cell(shop: Tenant, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "bad.csv", BAD_ROWS)
    summary = shop.import_contacts(file, strict=True)
    assert (summary.created, summary.failed, summary.left_out) == (3, 3, 0)
    assert {c.email for c in shop.list_contacts()} == {
        "ann@example.com",
        "nofirst@example.com",
        "zoe@example.com",
    }


def test_facet_values_pass_the_policies_with_cause_import(crm: CRM, tmp_path: Path) -> None:
    tenant = crm.configure_tenant("funnel", ["funnel", "contacts"])
    first = write_csv(
        tmp_path / "a.csv",
        [["Ann", "ann@example.com", "client", "qualified"]],
        header=["First", "Email", "Role", "Lead status"],
    )
    assert tenant.import_contacts(first).created == 1
    ann = by_email(tenant)["ann@example.com"]
    history = [(t.name, t.new, t.cause_type, t.cause) for t in tenant.explain(ann.id)]
    assert ("role", "client", "import", "import (a.csv)") in history
    # Role only moves forward; converted is set by rules only: both values are left
    # out (reported), the rest of their rows imported.
    again = write_csv(
        tmp_path / "b.csv",
        [
            ["Ann", "ann@example.com", "lead", "contacted"],
            ["Ann", "ann@example.com", "", "converted"],
        ],
        header=["First", "Email", "Role", "Lead status"],
    )
    summary = tenant.import_contacts(again)
    assert (summary.updated, summary.failed, summary.left_out) == (1, 0, 2)
    assert "only moves forward" in summary.errors[0].reason
    assert summary.errors[0].column == "Role"
    assert "set by rules only" in summary.errors[1].reason
    ann = by_email(tenant)["ann@example.com"]
    assert (ann.facets["role"], ann.facets["lead_status"]) == ("client", "contacted")
    # --strict refuses such rows whole, leaving the contact exactly as it was.
    strict = write_csv(
        tmp_path / "c.csv",
        [["Ann", "ann@example.com", "lead", "qualified"]],
        header=["First", "Email", "Role", "Lead status"],
    )
    before = snapshot(crm)
    assert tenant.import_contacts(strict, strict=True).failed == 1
    assert snapshot(crm) == before


# ---------------------------------------------------------------- matching
def test_importing_the_same_file_twice_creates_no_duplicates(
    crm: CRM, shop: Tenant, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "p.csv", [*ROWS, ROWS[0]])
    first = shop.import_contacts(file)
    # The repeated row in the file updates the contact its first row created.
    assert (first.created, first.updated, first.skipped) == (3, 0, 1)
    before = snapshot(crm)
    second = shop.import_contacts(file)
    assert (second.created, second.updated, second.skipped, second.failed) == (0, 0, 4, 0)
    assert snapshot(crm) == before
    assert len(shop.list_contacts()) == 3


def test_match_updates_values_with_transitions(shop: Tenant, tmp_path: Path) -> None:
    shop.import_contacts(write_csv(tmp_path / "a.csv", ROWS))
    ann = by_email(shop)["ann@example.com"]
    changed = write_csv(
        tmp_path / "b.csv",
        [["", "Leigh", "ann@example.com", "(201) 555-0199", "Beta", "vip, gold", ""]],
    )
    summary = shop.import_contacts(changed, match="email")
    assert (summary.created, summary.updated) == (0, 1)
    after = shop.get_contact(ann.id)
    # Empty cells leave values alone; given ones replace them; tags are added.
    assert (after.first_name, after.last_name, after.account) == ("Ann", "Leigh", "Beta")
    assert after.phone == "+12015550199"
    assert after.tags == ["gold", "newsletter", "vip"]
    changes = {(t.name, t.old, t.new) for t in shop.explain(ann.id) if t.cause_type == "import"}
    assert ("last_name", "Lee", "Leigh") in changes
    assert ("account", "Acme", "Beta") in changes
    assert ("phone", "+14155552671", "+12015550199") in changes


@pytest.mark.parametrize("key", ["phone", "id", "fields.customer_no"])
def test_match_on_phone_id_or_a_custom_field(shop: Tenant, tmp_path: Path, key: str) -> None:
    header = ["id", "First", "Phone", "Customer no", "City"]
    rows = [["", "Ann", "(415) 555-2671", "C-1", "Austin"], ["", "Bob", "", "C-2", "Reno"]]
    shop.import_contacts(
        write_csv(tmp_path / "a.csv", rows, header=header),
        mapping={"Customer no": "fields.customer_no"},
    )
    ann = next(c for c in shop.list_contacts() if c.first_name == "Ann")
    update = [[str(ann.id), "Ann", "+1 415 555 2671", "C-1", "Boston"]]
    summary = shop.import_contacts(write_csv(tmp_path / "b.csv", update, header=header), match=key)
    assert (summary.created, summary.updated) == (0, 1)
    assert shop.get_contact(ann.id).city == "Boston"
    if key == "id":
        missing = [["999", "Zed", "", "", ""]]
        summary = shop.import_contacts(
            write_csv(tmp_path / "c.csv", missing, header=header), match="id"
        )
        assert (summary.created, summary.failed) == (0, 1)
        assert summary.errors[0].reason == "contact 999 does not exist"


def test_dry_run_reports_and_writes_nothing(crm: CRM, shop: Tenant, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "p.csv", [*ROWS, ["", "", "bob@", "", "", "", ""]])
    before = snapshot(crm)
    summary = shop.import_contacts(file, dry_run=True, mapping={"Company": "account"})
    assert (summary.dry_run, summary.created, summary.failed) == (True, 3, 1)
    assert snapshot(crm) == before


def test_fire_rules_gives_each_imported_contact_an_event(db_url: str, tmp_path: Path) -> None:
    rules = (
        "rules:\n  - name: welcome imports\n    when: event.kind == contact_imported "
        "and event.data.created == true\n    then: [{tag: imported}]\n"
    )
    crm = CRM(db_url, clock=FrozenClock(), plugins=[PackPlugin(tmp_path, {"onboard": rules})])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["onboard"])
    file = write_csv(tmp_path / "p.csv", ROWS)
    summary = tenant.import_contacts(file, fire_rules=True)
    assert summary.events is not None
    assert (summary.events.applied, summary.events.failed) == (3, 0)
    assert all("imported" in c.tags for c in tenant.list_contacts())
    again = tenant.import_contacts(file, fire_rules=True)
    assert again.events is None  # nothing changed, so no events
    crm.close()


def test_progress_is_reported_per_batch(shop: Tenant, tmp_path: Path) -> None:
    rows = [[f"P{i}", "", f"p{i}@example.com", "", "", "", ""] for i in range(25)]
    seen: list[tuple[int, float | None]] = []
    shop.import_contacts(
        write_csv(tmp_path / "p.csv", rows),
        batch_size=10,
        progress=lambda n, fraction: seen.append((n, fraction)),
    )
    assert [n for n, _ in seen] == [10, 10, 5]
    assert seen[-1][1] == 1.0


def test_worker_processes_give_the_same_result(shop: Tenant, tmp_path: Path) -> None:
    rows = [*ROWS, ["", "", "bob@", "", "", "", ""]] * 3
    file = write_csv(tmp_path / "p.csv", rows)
    summary = shop.import_contacts(file, workers=2, batch_size=4)
    assert (summary.created, summary.skipped, summary.failed) == (3, 6, 3)
    assert set(by_email(shop)) == {"ann@example.com", "zoe@example.com", "cara@example.com"}


# ---------------------------------------------------------------- export
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_is_lossless(crm: CRM, tmp_path: Path, fmt: str) -> None:
    source = crm.configure_tenant("source", ["contacts", "17hats"])
    source.add_custom_field("Deal size", "number")
    source.import_contacts(
        write_csv(
            tmp_path / "p.csv",
            [
                [*ROWS[0], "1200.5", 'trade, "show"; vip'],
                [*ROWS[1], "", ""],
                [*ROWS[2], "7", "=SUM(A1)"],
            ],
            header=[*HEADER, "Deal size", "Groups"],
        )
    )
    source.set_facet(by_email(source)["cara@example.com"].id, "contact_type", "client")
    out = tmp_path / f"export.{fmt}"
    assert source.export_contacts(out) == 3
    copy = crm.configure_tenant("copy", ["contacts", "17hats"])
    copy.add_custom_field("Deal size", "number")
    summary = copy.import_contacts(out)
    assert (summary.created, summary.failed, summary.unmapped) == (3, 0, [])

    def comparable(tenant: Tenant) -> list[dict[str, Any]]:
        return [
            c.model_dump(exclude={"id", "created_at", "score"})
            for c in sorted(tenant.list_contacts(), key=lambda c: c.email or "")
        ]

    assert comparable(copy) == comparable(source)
    from crmkit_contacts.groups import Groups

    assert Groups(copy).all() == Groups(source).all()
    # With --match id the export updates the same contacts (nothing changed: all skipped).
    again = source.import_contacts(out, match="id")
    assert (again.created, again.updated, again.skipped) == (0, 0, 3)


def test_export_filters_and_refuses_bad_input(shop: Tenant, tmp_path: Path) -> None:
    shop.import_contacts(write_csv(tmp_path / "p.csv", ROWS))
    out = tmp_path / "vip.csv"
    assert shop.export_contacts(out, where='contact.tags has "vip"') == 2
    with out.open(encoding="utf-8") as f:
        assert [r["email"] for r in csv.DictReader(f)] == ["ann@example.com", "cara@example.com"]
    with pytest.raises(ValidationError, match="unknown export format 'pdf'"):
        shop.export_contacts(tmp_path / "x.pdf")
    from crmkit.errors import CRMError

    with pytest.raises(CRMError):
        shop.export_contacts(out, where="contact.nope ==")


# ---------------------------------------------------------------- CLI
def test_cli_import_preview_dry_run_and_export(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = invoker(db_url, monkeypatch, "cli")
    run("init", "--packs", "contacts,17hats")
    file = write_csv(tmp_path / "people.csv", [*ROWS, ["", "", "bob@", "", "", "", ""]])
    shown = json.loads(run("import", str(file), "--preview", "--json"))
    assert shown["mapping"]["Mobile"] == "phone"
    assert [r["row"] for r in shown["rows"]] == [2, 3, 4, 5]
    assert "errors" in shown["rows"][3]
    checked = json.loads(run("import", str(file), "--dry-run", "--json", code=1, stdout=True))
    assert (checked["created"], checked["failed"]) == (3, 1)
    assert json.loads(run("contact", "list", "--json")) == []
    out = run("import", str(file), "--map", "Mobile=-", "--no-progress", code=1)
    assert "row 5, E-mail:" in out
    report = tmp_path / "people.errors.csv"
    assert report.is_file()
    done = run("import", str(file), "--match", "email", "--json", code=1, stdout=True)
    # The phones left out the first time are added now; Cara has none: unchanged.
    counts = json.loads(done)
    assert (counts["created"], counts["updated"], counts["skipped"]) == (0, 2, 1)
    exported = run("export", "--where", "contact.lead_status == contacted")
    assert exported.splitlines()[1].split(",")[3] == "ann@example.com"
    assert "3 contacts written" in run("export", "-o", str(tmp_path / "all.xlsx"))
    assert "unknown --match 'nope'" in run("import", str(file), "--match", "nope", code=1)
