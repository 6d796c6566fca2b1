"""The hooks through which packs own tables, migrations, condition macros, and what
archiving and erasing a contact does to their data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support import FrozenClock

from crmkit import CRM, hookimpl
from crmkit.editing import erase_contact
from crmkit.errors import ConditionError, ConfigError, PluginError

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
