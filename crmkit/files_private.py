"""Files holding contacts' data are readable and writable by their owner only (0o600):
SQLite databases crmkit creates (SQLite gives its ``-wal`` and ``-shm`` files the
database's mode), exports and error reports. The mode is set when the file is opened,
so no other user can open it in between, whatever the umask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600


def _private_fd(path: Path, flags: int) -> int:
    fd = os.open(path, flags, PRIVATE_MODE)
    if hasattr(os, "fchmod"):
        # An existing file keeps its mode through O_CREAT: tighten it too.
        os.fchmod(fd, PRIVATE_MODE)
    return fd


def open_private(path: str | Path, mode: str = "w", **options: Any) -> IO[Any]:
    """``open(path, mode)`` for writing a new or emptied file only its owner can read."""
    if mode not in ("w", "wb", "w+", "wb+"):
        raise ValueError(f"open_private writes a file from scratch, not mode {mode!r}")
    flags = os.O_CREAT | os.O_TRUNC | (os.O_RDWR if "+" in mode else os.O_WRONLY)
    return os.fdopen(_private_fd(Path(path), flags | getattr(os, "O_BINARY", 0)), mode, **options)


def make_private(path: str | Path) -> Path:
    """Create ``path`` empty with the owner-only mode (or tighten an existing one), for
    a library that then writes it by name (openpyxl's ``save``); return it."""
    os.close(_private_fd(Path(path), os.O_CREAT | os.O_WRONLY))
    return Path(path)


def create_private_database(database: str | None) -> None:
    """Create a SQLite database file that does not exist yet as an empty file with the
    owner-only mode (SQLite takes an empty file as an empty database). An existing
    database keeps the mode its owner gave it; a path SQLite cannot open either is left
    for SQLite to report."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
    except OSError:
        return
