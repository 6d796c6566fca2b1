"""The hooks through which packs own tables, migrations, condition macros, and what
archiving and erasing a contact does to their data."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import FrozenClock

from crmkit import CRM, hookimpl
from crmkit.editing import erase_contact
from crmkit.errors import ConditionError, ConfigError, PluginError, ValidationError
from crmkit.plugin_api import TransferColumn

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "notes_0001"
down_revision = None
branch_labels = ("notes",)
depends_on = "0001"


def upgrade():
    op.create_table(
        "sticky_notes",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
    )


def downgrade():
    op.drop_table("sticky_notes")
"""


class StickyNotes:
    """A plugin owning a table, migrated by its own Alembic branch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def crmkit_register_migrations(self, register: Callable[[Any], None]) -> None:
        register(self.folder)


def test_a_plugin_migrates_its_own_tables_on_its_own_branch(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "notes_0001_sticky_notes.py").write_text(REVISION)
    crm = CRM(db_url, plugins=[StickyNotes(folder)])
    crm.migrate()
    assert "sticky_notes" in sa.inspect(crm.db).get_table_names()
    crm.migrate()  # twice is harmless
    crm.configure_tenant("t", ["17hats"])
    crm.close()
    # Without the plugin, the database records a revision nobody knows: said, not guessed.
    other = CRM(db_url)
    with pytest.raises(ConfigError, match="revision 'notes_0001', which neither crmkit nor"):
        other.tenant("t")
    other.close()


def test_a_migration_folder_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="registered migrations in .*not a folder"):
        CRM("sqlite://", plugins=[StickyNotes(tmp_path / "nowhere")])


class Replies:
    @hookimpl
    def crmkit_register_condition_macros(self, register: Callable[[str, str], None]) -> None:
        register("replied", "event.kind == reply")


def test_a_condition_macro_adds_a_history_function(db_url: str, clock: FrozenClock) -> None:
    crm = CRM(db_url, plugins=[Replies()], clock=clock)
    crm.migrate()
    tenant = crm.configure_tenant("t", ["17hats"])
    ada = tenant.add_contact({"first_name": "Ada"}).id
    bob = tenant.add_contact({"first_name": "Bob"}).id
    tenant.record_event(ada, "reply", {"channel": "sms"}, id="r1")
    tenant.record_event(bob, "note", {"channel": "sms"}, id="n1")
    found = tenant.list_contacts("replied(event.data.channel == sms) within 3 days")
    assert [c.first_name for c in found] == ["Ada"]
    assert [c.first_name for c in tenant.list_contacts("had_event within 3 days")] == [
        "Ada",
        "Bob",
    ]
    crm.close()


def test_without_leadklozer_engaged_is_an_unknown_function(tmp_path: Path) -> None:
    crm = CRM(f"sqlite:///{tmp_path / 'c.db'}", load_entry_points=False, plugins=[Replies()])
    crm.migrate()
    tenant = crm.configure_tenant("t", [])
    with pytest.raises(ConditionError, match="unknown function 'engaged'.*had_event.*replied"):
        tenant.list_contacts("engaged(event.data.channel == sms) within 14 days")
    crm.close()


def test_a_condition_macro_is_checked_when_registered() -> None:
    class Twice:
        @hookimpl
        def crmkit_register_condition_macros(self, register: Callable[[str, str], None]) -> None:
            register("replied", "event.kind == answer")

    class Contact:
        @hookimpl
        def crmkit_register_condition_macros(self, register: Callable[[str, str], None]) -> None:
            register("vip", "contact.score > 10")

    with pytest.raises(PluginError, match="'replied' is registered by both"):
        CRM("sqlite://", plugins=[Replies(), Twice()], load_entry_points=False)
    with pytest.raises(PluginError, match="may only test event.kind and event.data"):
        CRM("sqlite://", plugins=[Contact()], load_entry_points=False)


class Watcher:
    def __init__(self) -> None:
        self.archived: list[int] = []
        self.erased: list[tuple[int, str | None]] = []

    @hookimpl
    def crmkit_on_contact_archived(
        self, tenant: str, contact_id: int, connection: sa.Connection, scope: Any
    ) -> None:
        assert connection.in_transaction()
        self.archived.append(contact_id)

    @hookimpl
    def crmkit_erase_contact(
        self, contact_id: int, contact: Mapping[str, Any], connection: sa.Connection, scope: Any
    ) -> dict[str, int]:
        self.erased.append((contact_id, contact["email"]))
        return {"watch_notes": 2}


def test_archive_and_erase_run_the_plugins_hooks(db_url: str) -> None:
    watcher = Watcher()
    crm = CRM(db_url, plugins=[watcher])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["17hats"])
    ada = tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"}).id
    assert tenant.delete_contact(ada) == "archived"
    assert tenant.restore_contact(ada)
    assert watcher.archived == [ada]  # restoring is not archiving
    assert tenant.delete_contact(ada) == "archived"
    assert watcher.archived == [ada, ada]
    removed = erase_contact(tenant.context, ada)
    assert watcher.erased == [(ada, "ada@example.com")]
    assert removed["watch_notes"] == 2 and removed["contacts"] == 1
    crm.close()


# ------------------------------------------------------------ import/export columns
# What the test column "wrote": (tenant id, contact id) to labels, as a plugin's table.
LABELS: dict[tuple[int, int], list[str]] = {}


def clean_label(text: str) -> str:
    label = text.strip().lower()
    if label == "bad":
        raise ValueError(f"{text!r} is not a label")
    return label


def write_labels(connection: sa.Connection, scope: Any, wanted: Any, now: Any) -> set[int]:
    assert connection.in_transaction()
    changed = set()
    for contact_id, labels in wanted:
        have = LABELS.setdefault((scope.tenant_id, contact_id), [])
        for label in labels:
            if label not in have:
                have.append(label)
                changed.add(contact_id)
    return changed


def read_labels(connection: sa.Connection, scope: Any, ids: Any) -> dict[int, list[str]]:
    return {
        contact_id: sorted(labels)
        for (tenant_id, contact_id), labels in LABELS.items()
        if tenant_id == scope.tenant_id and contact_id in ids
    }


class Labels:
    @hookimpl
    def crmkit_register_transfer_columns(self, register: Callable[[Any], None]) -> None:
        register(
            TransferColumn(
                "badges", clean_label, write_labels, read_labels, synonyms=("badge", "marks")
            )
        )


def test_a_transfer_column_is_imported_and_exported(tmp_path: Path) -> None:
    LABELS.clear()
    crm = CRM(f"sqlite:///{tmp_path / 'c.db'}", load_entry_points=False, plugins=[Labels()])
    crm.migrate()
    tenant = crm.configure_tenant("t", [])
    source = tmp_path / "people.csv"
    source.write_text(
        "First name,Email,Marks,Badge\n"
        'Ada,ada@example.com,"VIP; Blue",blue\n'
        "Bob,bob@example.com,bad,\n",
        encoding="utf-8",
    )
    summary = tenant.import_contacts(source, strict=True)
    assert (summary.created, summary.failed) == (1, 1)  # strict: a bad cell refuses its row
    (ada,) = (c.id for c in tenant.list_contacts())
    assert [(contact_id, labels) for (_, contact_id), labels in LABELS.items()] == [
        (ada, ["vip", "blue"])
    ]
    assert [(e.row, e.column, e.value) for e in summary.errors] == [(3, "Marks", "bad")]
    # Again, with one more label: Ada counts as updated, though nothing else changed.
    source.write_text("Email,badges\nada@example.com,green\n", encoding="utf-8")
    again = tenant.import_contacts(source, match="email")
    assert (again.created, again.updated) == (0, 1)
    out = tmp_path / "out.csv"
    assert tenant.export_contacts(out) == 1
    header, row = csv.reader(out.read_text(encoding="utf-8").splitlines())
    assert header[header.index("tags") + 1] == "badges"
    assert row[header.index("badges")] == "blue, green, vip"
    crm.close()


def test_without_its_plugin_a_transfer_column_is_no_target(tmp_path: Path) -> None:
    crm = CRM(f"sqlite:///{tmp_path / 'c.db'}", load_entry_points=False)
    crm.migrate()
    tenant = crm.configure_tenant("t", [])
    source = tmp_path / "people.csv"
    source.write_text("First name,Groups\nAda,VIP\n", encoding="utf-8")
    summary = tenant.import_contacts(source)
    assert summary.created == 1 and summary.unmapped == ["Groups"]
    with pytest.raises(ValidationError, match="column 'Groups': unknown target 'groups'"):
        tenant.import_contacts(source, mapping={"Groups": "groups"}, again=True)
    out = tmp_path / "out.csv"
    tenant.export_contacts(out)
    assert "groups" not in out.read_text(encoding="utf-8").splitlines()[0].split(",")
    crm.close()


def test_a_transfer_column_is_checked_when_registered() -> None:
    def plugin(name: str) -> object:
        class Column:
            @hookimpl
            def crmkit_register_transfer_columns(self, register: Callable[[Any], None]) -> None:
                register(TransferColumn(name, clean_label, write_labels, read_labels))

        return Column()

    with pytest.raises(PluginError, match="'badges' is registered by both"):
        CRM("sqlite://", plugins=[Labels(), plugin("badges")], load_entry_points=False)
    for bad in ("tags", "first_name", "Badges", "facets"):
        with pytest.raises(PluginError, match=f"transfer column named '{bad}'"):
            CRM("sqlite://", plugins=[plugin(bad)], load_entry_points=False)
