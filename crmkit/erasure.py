"""What erasing a contact does beyond deleting its rows: nothing of it may linger.

* Plugins wipe what they keep of it outside rows that refer to the contact
  (``crmkit_erase_contact``): for example the contacts pack replaces the erased
  contact's email and phone in its saved searches by :data:`ERASED`, using
  :func:`erased_literals` and :func:`literal_pattern`, and the funnel pack drops
  failed-login counts kept under its portal username or its email.
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

ERASED = "[erased]"
# A value counts only whole: not inside a longer email, number or word.
_BEFORE = r"(?<![\w.+@-])"
_AFTER = r"(?![\w@-]|\.\w)"


def erased_literals(email: str | None, phone: str | None) -> list[str]:
    """The spellings of a contact's email and phone that stored text is cleaned of."""
    found = [email] if email else []
    if phone:
        found += [phone, phone.lstrip("+")] if phone.startswith("+") else [phone]
    return found


def literal_pattern(literals: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern matching any of ``literals`` whole (not inside a longer email, number or
    word), in any case; None when there is none."""
    words = sorted({w for w in literals if w}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.IGNORECASE)


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
