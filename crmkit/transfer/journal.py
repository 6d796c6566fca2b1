"""The import journal: which file was imported how, and how far each run got.

A run is identified by the sha256 of the file's bytes and a fingerprint of how the
file was read and mapped. Running the same import again resumes its latest run after
the last committed row, or, when that run finished, changes nothing. Each batch moves
the journal forward in the transaction that writes the batch's contacts, so a crash
anywhere leaves the journal exactly where the stored contacts are.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from crmkit.errors import ValidationError
from crmkit.storage import counters
from crmkit.storage.models import ImportRunRow
from crmkit.transfer.files import TableFile
from crmkit.transfer.mapping import ColumnMapping

RUNNING = "running"
DONE = "done"
COUNTS = ("rows", "created", "updated", "skipped", "failed")
_R = ImportRunRow.__table__.c
_CHUNK = 1024 * 1024


def file_checksum(path: Path) -> str:
    """The sha256 of the file's bytes, read in chunks (files can be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(table: TableFile, mapping: ColumnMapping, match: str | None) -> str:
    """What makes two imports of the same bytes the same import: how the file is read
    (format, encoding, delimiter, sheet), where each column goes and the match key.
    Options that do not change the outcome (batch size, workers, errors file) are left
    out, so a rerun with other ones still resumes."""
    described = {
        "format": table.format,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "sheet": table.sheet,
        "mapping": mapping.as_dict(),
        "match": match,
    }
    text = json.dumps(described, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Run:
    """A journal entry as the importer keeps it in memory."""

    id: int
    status: str
    last_row: int
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    pending_events: list[tuple[int, int, bool]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status == DONE


def latest(conn: Connection, tenant_id: int, checksum: str, print_: str) -> Run | None:
    """The tenant's latest run of this file with this fingerprint, if any."""
    entry = (
        conn.execute(
            select(ImportRunRow.__table__)
            .where(
                _R.tenant_id == tenant_id,
                _R.checksum == checksum,
                _R.fingerprint == print_,
            )
            .order_by(_R.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if entry is None:
        return None
    return Run(
        id=int(entry["id"]),
        status=entry["status"],
        last_row=int(entry["last_row"]),
        started_at=entry["started_at"],
        finished_at=entry["finished_at"],
        counts={name: int(entry[name]) for name in COUNTS},
        pending_events=[(int(c), int(r), bool(k)) for c, r, k in entry["pending_events"] or []],
    )


def start(
    conn: Connection,
    tenant_id: int,
    file: str,
    checksum: str,
    print_: str,
    now: datetime,
) -> Run:
    """A new run, before its first row."""
    run_id = counters.allocate(conn, tenant_id, "import_run")
    run = Run(id=run_id, status=RUNNING, last_row=0, started_at=now)
    conn.execute(
        insert(ImportRunRow).values(
            tenant_id=tenant_id,
            id=run_id,
            file=file[:300],
            checksum=checksum,
            fingerprint=print_,
            status=RUNNING,
            last_row=0,
            pending_events=None,
            started_at=now,
            **run.counts,
        )
    )
    return run


def advance(
    conn: Connection,
    tenant_id: int,
    run: Run,
    last_row: int,
    counts: dict[str, int],
    pending: list[tuple[int, int, bool]],
) -> None:
    """Record that the rows up to ``last_row`` are written, in the caller's transaction.

    The update only applies if the journal still stands where this run left it: if
    another process resumed the same run meanwhile, the batch is refused (rolled back)
    instead of being written twice.
    """
    moved = conn.execute(
        update(ImportRunRow)
        .where(_R.tenant_id == tenant_id, _R.id == run.id, _R.last_row == run.last_row)
        .values(
            last_row=last_row,
            pending_events=[list(item) for item in pending] or None,
            **counts,
        )
    )
    if moved.rowcount != 1:
        raise ValidationError(
            f"import run {run.id} was moved on by another process (is the same import "
            "running twice?); nothing of this batch was written"
        )
    run.last_row, run.counts, run.pending_events = last_row, dict(counts), pending


def finish(conn: Connection, tenant_id: int, run: Run, now: datetime) -> None:
    """Mark the run done: its rows are written and its events recorded."""
    conn.execute(
        update(ImportRunRow)
        .where(_R.tenant_id == tenant_id, _R.id == run.id)
        .values(status=DONE, pending_events=None, finished_at=now, **run.counts)
    )
    run.status, run.finished_at, run.pending_events = DONE, now, []


def event_id(run: Run, row: int) -> str:
    """The id of a row's ``contact_imported`` event: the same in every attempt of the
    run, so a resumed run records the events a crash lost and skips the others."""
    return f"import-{run.id}-{row}"
