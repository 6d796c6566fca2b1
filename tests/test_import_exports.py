"""Importing what other products export, with no mapping given: the sample files of
tests/data/exports/build.py, written by the csv module, openpyxl and vobject."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import vobject
from support import invoker

from crmkit import CRM
from crmkit.storage.scope import TenantScope
from crmkit.tenant import Tenant
from crmkit.transfer.extras import values_of
from crmkit.transfer.files import detect_encoding

sys.path.insert(0, str(Path(__file__).parent / "data" / "exports"))
import build


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, build.Sample]:
    return build.build(tmp_path_factory.mktemp("exports"))


def people(tenant: Tenant) -> dict[tuple[str, str], dict[str, object]]:
    return {
        (c.first_name, c.last_name): c.model_dump() for c in tenant.list_contacts(archived=None)
    }


def test_every_sample_is_recognised_and_all_its_people_created(
    crm: CRM, samples: dict[str, build.Sample]
) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    for name, sample in samples.items():
        summary = tenant.import_contacts(sample.path, match="none")
        assert summary.product == sample.product, name
        assert (summary.created, summary.failed) == (sample.people, 0), (name, summary.errors)
    assert len(tenant.list_contacts()) == sum(s.people for s in samples.values())


def test_a_google_export_keeps_the_mobile_labels_notes_and_fields(
    crm: CRM, samples: dict[str, build.Sample]
) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    summary = tenant.import_contacts(samples["google"].path)
    # The bad phone of the company-only row is left out, the row imported.
    assert (summary.created, summary.failed, summary.left_out) == (3, 0, 1)
    assert (summary.errors[0].row, summary.errors[0].column) == (4, "Phone 1 - Value")
    found = people(tenant)
    ann = found[("Ann", "Lee")]
    # Phone 2 is labelled Mobile: it is the cell phone, not the work phone before it.
    assert (ann["phone"], ann["ok_to_sms"], ann["account"]) == ("+14155552671", True, "Acme")
    assert ann["email"] == "ann@acme.example"
    assert ann["tags"] == ["Friends"]  # " ::: " split, Google's system group dropped
    assert ann["fields"] == {"job_title": "CTO", "birthday": "1985-04-12"}
    assert [n["body"] for n in tenant.notes(int(str(ann["id"])))] == ["Met at the fair"]
    jurgen = found[("Jürgen", "Groß")]
    # A German mobile written nationally: its region comes from the row's country.
    assert (jurgen["email"], jurgen["phone"]) == ("j@example.de", "+4915123456789")
    assert found[("", "")]["account"] == "Solo GmbH"
    again = tenant.import_contacts(samples["google"].path)
    assert again.already_imported and len(tenant.list_contacts()) == 3


def test_outlook_title_and_gender_are_not_imported_and_german_headers_map(
    crm: CRM, samples: dict[str, build.Sample]
) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    english = tenant.import_contacts(samples["outlook"].path)
    assert english.mapping["Title"] == "-" and english.mapping["Gender"] == "-"
    assert english.mapping["Job Title"] == "fields.job_title"
    german = tenant.import_contacts(samples["outlook_de"].path)
    assert (german.product, german.encoding, german.created) == ("Outlook", "cp1252", 2)
    assert german.mapping["Mobiltelefon"] == "phone"
    found = people(tenant)
    eve = found[("Eve", "Adams")]
    assert (eve["phone"], eve["fields"]) == (
        "+19175550199",
        {"job_title": "Director"} | {"postal_code": "10001"},
    )
    assert "Unspecified" not in json.dumps(eve, default=str)
    renee = found[("Renée", "Bäcker")]
    assert (renee["account"], renee["city"], renee["phone"]) == (
        "Müller AG",
        "München",
        "+491712345678",
    )
    assert renee["fields"]["street"] == "Hauptstraße 1"
    assert found[("Élodie", "Crète")]["account"] == "Café Noël"


def test_a_linkedin_preamble_is_skipped_and_rows_keep_their_numbers(
    crm: CRM, samples: dict[str, build.Sample], tmp_path: Path
) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    summary = tenant.import_contacts(samples["linkedin"].path, errors_path=tmp_path / "e.csv")
    assert (summary.product, summary.created, summary.failed) == ("LinkedIn", 2, 0)
    gus = people(tenant)[("Gus", "Ortiz")]
    assert gus["fields"] == {
        "job_title": "Founder",
        "linkedin": "https://www.linkedin.com/in/gusortiz",
        "connected_on": "03 Mar 2020",
    }
    # Rows are numbered as in the file: the header is its fourth line.
    bad = tmp_path / "Connections.csv"
    text = samples["linkedin"].path.read_text(encoding="utf-8")
    bad.write_text(text + "Hal,Ng,not a url,,,,\r\n", encoding="utf-8")
    again = tenant.import_contacts(bad)
    assert [(e.row, e.column) for e in again.errors] == [(7, "URL")]


def test_skip_rows_overrides_the_preamble_found(crm: CRM, samples: dict[str, build.Sample]) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    # The workbook's title and blank row are found by themselves...
    found = tenant.import_contacts(samples["sheet"].path, match="none")
    assert found.created == 2
    # ...unless --skip-rows says otherwise: the title is then the header, and every
    # row is wider than it.
    told = tenant.import_contacts(samples["sheet"].path, skip_rows=0, again=True, match="none")
    assert (told.created, told.failed) == (0, 3)
    pat = people(tenant)[("Pat", "Quinn")]
    assert (pat["phone"], pat["fields"]) == (
        "+14155550188",
        {"job_title": "Owner", "postal_code": "94110"},
    )


def test_vcards_of_every_version_are_read_never_as_csv(
    crm: CRM, samples: dict[str, build.Sample], tmp_path: Path
) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    summary = tenant.import_contacts(samples["vcards"].path)
    assert (summary.format, summary.created, summary.failed) == ("vcf", 3, 0)
    found = people(tenant)
    sam = found[("Sam", "Stone")]
    assert (sam["email"], sam["phone"], sam["account"], sam["tags"]) == (
        "sam@cyberdyne.example",
        "+14155550178",  # the CELL, not the WORK number before it
        "Cyberdyne",
        ["Clients", "VIP"],
    )
    assert sam["fields"] == {
        "job_title": "Engineer",
        "street": "2 Elm St",
        "postal_code": "94601",
        "birthday": "1990-07-01",
    }
    # vCard 2.1, quoted-printable UTF-8, bare TEL;CELL types.
    assert found[("Zoë", "Müller")]["phone"] == "+4915123456789"
    # Cards without the extension are still cards; a card vobject cannot read is one
    # refused row naming its line.
    text = samples["vcards"].path.read_text(encoding="utf-8")
    broken = tmp_path / "cards.txt"
    broken.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Vu;Al\r\nFN:Al Vu\r\nBEGIN:VEVENT\r\nEND:VCARD\r\n" + text,
        encoding="utf-8",
    )
    again = tenant.import_contacts(broken, match="none")
    assert (again.format, again.created, again.failed) == ("vcf", 3, 1)
    assert "line 1" in again.errors[0].reason


def test_export_as_vcards_reads_back(crm: CRM, tmp_path: Path) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    tenant.add_contact(
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "phone": "+1 415 555 2671",
            "account": "Acme",
            "city": "Oakland",
            "tags": ["vip"],
        }
    )
    out = tmp_path / "all.vcf"
    assert tenant.export_contacts(out) == 1
    [card] = list(vobject.readComponents(out.read_text(encoding="utf-8")))
    assert (card.fn.value, card.email.value, card.tel.value) == (
        "Ann Lee",
        "ann@example.com",
        "+14155552671",
    )
    copy = crm.configure_tenant("copy", ["contacts"])
    assert copy.import_contacts(out).created == 1
    [ann] = copy.list_contacts()
    assert (ann.email, ann.phone, ann.account, ann.city, ann.tags) == (
        "ann@example.com",
        "+14155552671",
        "Acme",
        "Oakland",
        ["vip"],
    )


def test_western_text_decodes_as_cp1252_and_polish_stays_cp1250() -> None:
    french = "Prénom;Nom\nRenée;Crème\nHélène;Brûlé\nJérôme;Noël\n".encode("cp1252")
    assert detect_encoding(french, at_end=True) == "cp1252"
    polish = "Imię;Nazwisko\nŁukasz;Wąsik\nZażółć;Gęślą\nJaźń;Żółw\n".encode("cp1250")
    assert detect_encoding(polish, at_end=True) == "cp1250"


def test_cli_preview_names_the_product_and_encoding(
    db_url: str, monkeypatch: pytest.MonkeyPatch, samples: dict[str, build.Sample]
) -> None:
    run = invoker(db_url, monkeypatch, "cli")
    run("init", "--packs", "contacts")
    shown = run("import", str(samples["outlook_de"].path), "--preview")
    assert "looks like a Outlook export" in shown.replace("an Outlook", "a Outlook")
    assert "Read as cp1252" in shown and "Renée" in shown
    data = json.loads(run("import", str(samples["linkedin"].path), "--preview", "--json"))
    assert (data["product"], data["skipped_rows"]) == ("LinkedIn", 3)
    assert data["rows"][0]["row"] == 5


def test_reimporting_an_export_with_other_columns_creates_no_duplicates(
    crm: CRM, samples: dict[str, build.Sample], tmp_path: Path
) -> None:
    tenant = crm.configure_tenant("t", ["contacts"])
    assert tenant.import_contacts(samples["google"].path).created == 3
    # The same people from another product: Ann by her second email, Jürgen by his
    # phone only, the company-only row by nothing (it has no name), Groß's name alone.
    other = tmp_path / "other.csv"
    other.write_text(
        "First Name,Last Name,E-mail Address,Mobile Phone,Company\n"
        "Ann,Lee,ann@home.example,,\n"
        "Juergen,G,,+49 151 23456789,\n"
        "jürgen,GROSS,,,\n"
        "Ann ,Lee,,,Acme\n",
        encoding="utf-8",
    )
    summary = tenant.import_contacts(other)
    # Names are looked up as written, then compared folded: "jürgen GROSS" is another.
    assert (summary.created, summary.failed) == (1, 0)
    assert len(tenant.list_contacts()) == 4
    ann = people(tenant)[("Ann", "Lee")]
    with crm.db.connect() as conn:
        tenant_id = conn.execute(sa.text("SELECT id FROM tenants WHERE name = 't'")).scalar_one()
        kept = values_of(conn, TenantScope(tenant_id), int(str(ann["id"])))
    # Every email and phone Google gave is kept; the cell phone is the contact's own.
    assert kept == {"email": ["ann@home.example"], "phone": ["+14155550100"]}
