"""The import journal: a rerun of the same import resumes or changes nothing; an
interrupted import finished by a rerun equals an uninterrupted one, events included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import FrozenClock, PackPlugin, invoker, snapshot
from test_import import write_csv

from crmkit import CRM
from crmkit.errors import ValidationError
from crmkit.tenant import Tenant
from crmkit.transfer import importer, journal

WELCOME = (
    "rules:\n  - name: welcome imports\n    when: event.kind == contact_imported "
    "and event.data.created == true\n    then: [{tag: imported}]\n"
)
HEADER = ["First name", "Last name", "Email", "Tags"]


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, no handler catches it."""


def mixed_rows(count: int) -> list[list[str]]:
    """Rows with and without an email (the match key), repeats, two bad rows and a blank."""
    rows = []
    for n in range(count):
        email = f"p{n % 9}@example.com" if n % 3 == 0 else ""
        rows.append([f"P{n}", f"L{n % 4}", email, "vip" if n % 5 == 0 else ""])
    rows[7] = ["", "", "not-an-email", ""]
    # A refused value that looks like a formula: the report quotes it once, also when a
    # resumed run carries the line over.
    rows[9] = ["", "", "=HYPERLINK(1)", ""]
    rows[12] = ["", "", "", ""]
    return rows


def state(tenant: Tenant, crm: CRM) -> dict[str, Any]:
    """What an import leaves: contacts with their values, and the events it recorded."""
    contacts = [
        (c.id, c.first_name, c.last_name, c.email, c.tags, c.facets)
        for c in sorted(tenant.list_contacts(archived=None), key=lambda c: c.id)
    ]
    with crm.db.connect() as conn:
        tenant_id = conn.execute(
            sa.text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant.name}
        ).scalar_one()
        events = [
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT id, seq, contact_id, kind, status FROM events "
                    "WHERE tenant_id = :t ORDER BY seq"
                ),
                {"t": tenant_id},
            )
        ]
    return {"contacts": contacts, "events": events}


def counts(summary: Any) -> tuple[int, ...]:
    return (summary.rows, summary.created, summary.updated, summary.skipped, summary.failed)


@pytest.fixture
def rules_crm(db_url: str, tmp_path: Path) -> Any:
    crm = CRM(db_url, clock=FrozenClock(), plugins=[PackPlugin(tmp_path, {"onboard": WELCOME})])
    crm.migrate()
    yield crm
    crm.close()


def test_rerunning_an_import_adds_no_rows_without_a_match_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The reproduction of the issue: two rows without an email were added twice.
    run = invoker(db_url, monkeypatch, "cli")
    run("init", "--packs", "contacts,17hats")
    file = tmp_path / "t.csv"
    file.write_text("First name,Email\nAda,ada@example.com\nBob,\nCy,\n", encoding="utf-8")
    first = json.loads(run("import", str(file), "--json"))
    assert (first["created"], first["already_imported"]) == (3, False)
    out = run("import", str(file), "--no-progress")
    assert "t.csv was imported this way before" in out and "--again" in out
    assert len(json.loads(run("contact", "list", "--json"))) == 3
    # A dry run tells the same, and --again imports the file once more on purpose.
    assert json.loads(run("import", str(file), "--dry-run", "--json"))["already_imported"]
    again = json.loads(run("import", str(file), "--again", "--json"))
    assert (again["created"], again["skipped"], again["already_imported"]) == (2, 1, False)
    assert len(json.loads(run("contact", "list", "--json"))) == 5
    assert json.loads(run("import", str(file), "--json"))["already_imported"]
    assert len(json.loads(run("contact", "list", "--json"))) == 5


def test_another_mapping_of_the_same_file_is_another_import(crm: CRM, tmp_path: Path) -> None:
    tenant = crm.configure_tenant("t", ["contacts", "17hats"])
    file = write_csv(tmp_path / "p.csv", [["Ann", "Lee", "ann@example.com", "vip"]], header=HEADER)
    assert tenant.import_contacts(file, mapping={"Tags": "-"}).created == 1
    summary = tenant.import_contacts(file)
    assert (summary.already_imported, summary.updated) == (False, 1)
    assert tenant.list_contacts()[0].tags == ["vip"]


def test_an_import_that_writes_nothing_leaves_no_journal(crm: CRM, tmp_path: Path) -> None:
    tenant = crm.configure_tenant("t", ["contacts", "17hats"])
    file = write_csv(tmp_path / "p.csv", [["", "", "", "vip"]], header=HEADER)
    assert tenant.import_contacts(file).failed == 1
    after = snapshot(crm)
    assert after["import_runs"] == []
    assert not any("import_run" in counter for counter in after["counters"])
    # Nothing was journaled, so the file is read again (and refused again).
    assert tenant.import_contacts(file).failed == 1


def _crash_on(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, call: int) -> None:
    """Make ``target.name`` crash on its ``call``-th call from now on."""
    original = getattr(target, name)
    calls = [0]

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == call:
            raise Crash(f"{name} call {call}")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, crashing)


def test_an_interrupted_import_rerun_equals_an_uninterrupted_one(
    rules_crm: CRM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write_csv(tmp_path / "p.csv", mixed_rows(40), header=HEADER)
    options: dict[str, Any] = {"fire_rules": True, "batch_size": 6}
    steady = rules_crm.configure_tenant("steady", ["onboard", "contacts"])
    steady_report = tmp_path / "steady.errors.csv"
    expected = steady.import_contacts(file, errors_path=steady_report, **options)
    assert expected.failed == 2 and expected.skipped > 0 and expected.created > 20

    crashy = rules_crm.configure_tenant("crashy", ["onboard", "contacts"])
    report = tmp_path / "crashy.errors.csv"
    with monkeypatch.context() as patch:
        # Killed after the second batch was committed, before its events were recorded.
        _crash_on(patch, importer._ImportRun, "_fire", 2)
        with pytest.raises(Crash):
            crashy.import_contacts(file, errors_path=report, **options)
    with monkeypatch.context() as patch:
        # Then killed inside a batch's transaction, after its error lines were written.
        _crash_on(patch, journal, "advance", 1)
        with pytest.raises(Crash):
            crashy.import_contacts(file, errors_path=report, **options)
    done = crashy.import_contacts(file, errors_path=report, **options)
    assert state(crashy, rules_crm) == state(steady, rules_crm)
    assert counts(done) == counts(expected)
    assert done.resumed_after_row is not None and done.resumed_after_row > 1
    assert report.read_text(encoding="utf-8") == steady_report.read_text(encoding="utf-8")
    assert all("imported" in c.tags for c in crashy.list_contacts() if c.first_name != "Bad")

    before = snapshot(rules_crm)
    finished = crashy.import_contacts(file, errors_path=report, **options)
    assert finished.already_imported and finished.events is None
    assert (finished.created, finished.updated, finished.failed) == (0, 0, 0)
    assert snapshot(rules_crm) == before


def test_a_run_moved_on_by_another_process_refuses_its_batch(
    crm: CRM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = crm.configure_tenant("t", ["contacts", "17hats"])
    file = write_csv(tmp_path / "p.csv", mixed_rows(20), header=HEADER)
    with monkeypatch.context() as patch:
        _crash_on(patch, journal, "advance", 3)
        with pytest.raises(Crash):
            tenant.import_contacts(file, batch_size=5)
    # Another process resumes the run and commits a batch while this one works on it.
    original = journal.advance

    def overtaken(conn: Any, tenant_id: int, run: journal.Run, *args: Any) -> None:
        conn.execute(
            sa.text("UPDATE import_runs SET last_row = last_row + 5 WHERE id = :id"),
            {"id": run.id},
        )
        original(conn, tenant_id, run, *args)

    monkeypatch.setattr(journal, "advance", overtaken)
    before = snapshot(crm)
    with pytest.raises(ValidationError, match="moved on by another process"):
        tenant.import_contacts(file, batch_size=5)
    assert snapshot(crm) == before
