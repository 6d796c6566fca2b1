"""A schema upgrade is all or nothing: one that fails part-way leaves the database as
it was, and says why in one line, including for a database an older crmkit left
between two revisions. (Kills at every statement: tests/reliability.)"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from crmkit_contacts.tables import GroupRow, SegmentRow
from support import invoker

from crmkit import CRM
from crmkit.errors import ConfigError
from crmkit.storage.db import _alembic_config, current_revision, make_engine

# Each test builds an old revision's schema itself: db_url gives an empty database.
pytestmark = pytest.mark.empty_database


def database_at(db_url: str, revision: str) -> sa.Engine:
    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), revision)
    return engine


def state(engine: sa.Engine) -> dict[str, Any]:
    """The revision, every table with its columns, and every row."""
    found = sa.inspect(engine)
    with engine.connect() as conn:
        return {
            "revision": current_revision(engine),
            "tables": {
                name: (
                    [c["name"] for c in found.get_columns(name)],
                    sorted(map(repr, conn.execute(sa.text(f'SELECT * FROM "{name}"')))),
                )
                for name in found.get_table_names()
            },
        }


def add_tenant(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tenants (id, name, settings, config_version, created_at) "
                "VALUES (1, 'old', '{}', 1, '2026-01-05 09:00:00')"
            )
        )


def test_an_upgrade_failing_in_its_last_migration_leaves_the_database_as_it_was(
    db_url: str,
) -> None:
    engine = database_at(db_url, "0001")
    add_tenant(engine)
    # The newest migration creates tick_runs: it fails after all the others ran.
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tick_runs (x INTEGER)"))
    before = state(engine)
    crm = CRM(db_url)
    with pytest.raises(ConfigError, match=r"from revision 0001 .*tick_runs.*nothing was changed"):
        crm.migrate()
    assert state(engine) == before
    assert "contact_groups" not in before["tables"]  # made by 0002, and rolled back
    crm.close()
    engine.dispose()


def test_init_on_a_database_an_old_crash_left_between_revisions_says_so_in_one_line(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = database_at(db_url, "0001")
    add_tenant(engine)
    # What a crmkit without atomic upgrades left when killed early in 0002: its first
    # tables created, the version still 0001.
    with engine.begin() as conn:
        # The contacts pack's tables now (its models register them when imported).
        for table in (GroupRow.__table__, SegmentRow.__table__):
            table.create(conn)
    before = state(engine)
    invoke = invoker(db_url, monkeypatch, "old")
    message = invoke("init", code=1)
    assert message.count("\n") == 1 and "Traceback" not in message
    assert message.startswith("error: cannot upgrade the database from revision 0001 to ")
    assert "It records revision 0001 but already has table contact_groups, table segments:" in (
        message
    )
    assert "interrupted" in message
    assert state(engine) == before
    engine.dispose()


def test_an_upgrade_that_would_break_foreign_keys_changes_nothing(tmp_path: Any) -> None:
    db_url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = database_at(db_url, "0004")
    add_tenant(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.execute(
            sa.text(
                "INSERT INTO contact_facets (tenant_id, contact_id, facet, value) "
                "VALUES (1, 99, 'status', 'new')"
            )
        )
        conn.commit()
    engine.dispose()
    before = state(engine)
    crm = CRM(db_url)
    with pytest.raises(ConfigError, match=r"would break foreign keys, so nothing changed"):
        crm.migrate()
    assert state(engine) == before
    crm.close()


def test_after_an_upgrade_sqlite_enforces_foreign_keys_again(tmp_path: Any) -> None:
    crm = CRM(f"sqlite:///{tmp_path / 'crm.db'}")
    crm.migrate()
    with crm.db.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(
            sa.text(
                "INSERT INTO contact_facets (tenant_id, contact_id, facet, value) "
                "VALUES (1, 99, 'status', 'new')"
            )
        )
        conn.commit()
    crm.close()
