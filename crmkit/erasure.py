"""What erasing a contact does beyond deleting its rows: nothing of it may linger.

* Saved searches: the erased contact's email and phone, where a saved search's
  condition or description spells them out (whole, in any case), are replaced by
  :data:`ERASED`. Names are left alone: a name is shared by other contacts, and a search
  on it is about all of them.
* Failed-login counts kept under its portal username or its email are dropped.
* SQLite: the deletes run with ``secure_delete`` (freed content is overwritten with
  zeros), and the write-ahead log is checkpointed and truncated afterwards, so the
  values are gone from the ``.db`` and ``-wal`` files, not only unreachable. PostgreSQL
  keeps deleted rows as dead tuples until it vacuums them (autovacuum).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from crmkit.portal import forget_username
from crmkit.storage.models import PortalCredentialRow, SegmentRow
from crmkit.storage.scope import TenantScope

ERASED = "[erased]"
_S = SegmentRow.__table__.c
# A value counts only whole: not inside a longer email, number or word.
_BEFORE = r"(?<![\w.+@-])"
_AFTER = r"(?![\w@-]|\.\w)"


def erased_literals(email: str | None, phone: str | None) -> list[str]:
    """The spellings of a contact's values that saved searches are cleaned of."""
    found = [email] if email else []
    if phone:
        found += [phone, phone.lstrip("+")] if phone.startswith("+") else [phone]
    return found


def _pattern(literals: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({w for w in literals if w}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.IGNORECASE)


def scrub_saved_searches(conn: Connection, scope: TenantScope, literals: Iterable[str]) -> int:
    """Replace ``literals`` in the tenant's saved searches; return how many changed."""
    pattern = _pattern(literals)
    if pattern is None:
        return 0
    rows = conn.execute(scope.select(_S.name, _S.condition, _S.description)).all()
    changed = 0
    for name, condition, description in rows:
        clean = pattern.sub(ERASED, condition), pattern.sub(ERASED, description or "")
        if clean == (condition, description or ""):
            continue
        conn.execute(
            scope.update(SegmentRow)
            .where(_S.name == name)
            .values(condition=clean[0], description=clean[1])
        )
        changed += 1
    return changed


def forget_logins(conn: Connection, scope: TenantScope, contact_id: int, email: str | None) -> None:
    """Drop failed-login counts under the contact's username and email."""
    pc = PortalCredentialRow.__table__.c
    username = conn.scalar(scope.select(pc.username).where(pc.contact_id == contact_id))
    for name in (username, email):
        if name:
            forget_username(conn, scope, name)


@contextmanager
def secure_delete(conn: Connection) -> Iterator[None]:
    """On SQLite, overwrite what is deleted inside the block with zeros; the
    connection's setting is put back afterwards (it costs writes elsewhere)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete=ON")
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()
        conn.exec_driver_sql(f"PRAGMA secure_delete={int(before or 0)}")
        conn.commit()


def truncate_wal(conn: Connection) -> bool:
    """On SQLite, copy the write-ahead log into the database and empty it: the log
    still holds the frames written before the erase. False when a reader in another
    process kept it from finishing (within the busy timeout)."""
    if conn.dialect.name != "sqlite":
        return True
    busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    conn.commit()
    return busy is None or not busy[0]
