"""Importing contacts from a CSV or XLSX file, in batches.

Each batch is cleaned (in worker processes for large files), matched against the
tenant's contacts, checked against the facet policies, and written in one transaction
with a few executemany calls: a million rows stream through in bounded memory. A bad row
never stops the import: it goes to the error report and the rest of its batch is
written. A dry run does all of it inside one transaction that is rolled back.

Every run is journaled (:mod:`crmkit.transfer.journal`): the same import run again
resumes after the last committed row, or changes nothing once it finished, whatever the
columns; ``again`` starts a new run on purpose.
"""

from __future__ import annotations

import csv
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from crmkit.applying import after_changes, allocate_ids, applier, deliver
from crmkit.changes import Notice
from crmkit.contacts_service import contacts_by_id
from crmkit.context import TenantContext
from crmkit.errors import ValidationError
from crmkit.phones import region_of, sms_permission
from crmkit.pipeline import Cause
from crmkit.profile_values import PhoneCheck, add_custom_fields, line_type
from crmkit.recording import ingest, young_gc_only
from crmkit.runtime import TenantRuntime
from crmkit.storage.scope import TenantScope
from crmkit.storage.statistics import IMPORT_TABLES, GrowthStatistics
from crmkit.transfer import extras, journal, lookups, matching, vcards
from crmkit.transfer.cells import unescape_formula
from crmkit.transfer.files import Cell, TableFile, open_table
from crmkit.transfer.mapping import ColumnMapping, build_mapping, read_mapping_file
from crmkit.transfer.report import ErrorReport, ImportSummary, RowError
from crmkit.transfer.rows import CleanRow, RowCleaner, clean_batch
from crmkit.transfer.updates import ContactUpdate, RowRefused

BATCH_SIZE = 5000
# Files from this size on are cleaned in worker processes (starting them costs ~1 s).
WORKERS_FROM_BYTES = 8 * 1024 * 1024
IMPORTED_EVENT = "contact_imported"
AUTO = "auto"
Progress = Callable[[int, float | None], None]


@dataclass
class ImportOptions:
    """How to import. ``match``: ``"auto"`` (email, then phone, then name and company:
    see :mod:`crmkit.transfer.matching`), None or ``"none"``, ``email``, ``phone``,
    ``id`` or ``fields.NAME``. ``workers``: processes
    that clean rows (0: none; None: two for files over 8 MB). They are spawned, so a
    script that asks for them needs the usual ``if __name__ == "__main__":`` guard.
    ``again``: import a file already imported the same way once more (a new run).
    ``strict``: refuse a row with any bad cell (by default the cell is left out)."""

    match: str | None = "auto"
    dry_run: bool = False
    fire_rules: bool = False
    errors_path: Path | None = None
    batch_size: int = BATCH_SIZE
    workers: int | None = 0
    actor: str | None = None
    again: bool = False
    strict: bool = False


def resolve_match(match: str | None, mapping: ColumnMapping, runtime: TenantRuntime) -> str | None:
    """The match key an import uses; an error when its column is not mapped."""
    if match == AUTO:
        return AUTO
    if match in (None, "", "none"):
        return None
    if match in ("email", "phone"):
        if not mapping.has("attribute", match):
            raise ValidationError(f"--match {match}: no column maps to {match}")
        return match
    if match == "id":
        if not mapping.has("id"):
            raise ValidationError("--match id: no column maps to id")
        return match
    if match.startswith("fields."):
        name = match.removeprefix("fields.")
        spec = runtime.fields.get(name) or next(
            (s for s in mapping.new_fields if s.name == name), None
        )
        if spec is None or not mapping.has("field", name):
            raise ValidationError(f"--match {match}: no column maps to {match}")
        if spec.type not in lookups.MATCHABLE_TYPES:
            raise ValidationError(
                f"--match {match}: a {spec.type} field cannot identify a contact "
                f"(use a field of type {', '.join(lookups.MATCHABLE_TYPES)})"
            )
        return match
    raise ValidationError(f"unknown --match {match!r} (use email, phone, id, fields.NAME or none)")


def prepare(
    ctx: TenantContext,
    path: Path | str,
    *,
    mapping: Mapping[str, str] | None = None,
    mapping_file: Path | str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    skip_rows: int | None = None,
) -> tuple[TableFile, ColumnMapping, TenantRuntime]:
    """Open the file and map its columns (``mapping`` overrides the file's entries).
    A vCard file is never read as CSV: its cards come as rows of target columns."""
    given = dict(read_mapping_file(mapping_file)) if mapping_file else {}
    given.update(mapping or {})
    path = Path(path)
    if path.is_file() and vcards.is_vcard(path):
        if delimiter or sheet or skip_rows:
            raise ValidationError(
                f"{path.name} holds vCards: --delimiter, --sheet and --skip-rows are for tables"
            )
        table = vcards.open_vcards(path, encoding)
        given = {name: name for name in vcards.HEADER} | given
    else:
        table = open_table(
            path, encoding=encoding, delimiter=delimiter, sheet=sheet, skip_rows=skip_rows
        )
    try:
        with ctx.db.connect() as conn:
            runtime = ctx.runtime(conn)
        return table, build_mapping(table.header, runtime, given), runtime
    except BaseException:
        table.close()
        raise


def preview(
    table: TableFile, mapping: ColumnMapping, runtime: TenantRuntime, rows: int = 5
) -> list[dict[str, Any]]:
    """The first ``rows`` data rows as the mapping reads them (target label to value),
    with ``errors`` for cells that would be refused. Reads only those rows."""
    cleaner = RowCleaner(
        mapping, dict(runtime.facets), region_of(runtime.settings), None, runtime.columns
    )
    out: list[dict[str, Any]] = []
    for number, cells in table.rows():
        cleaned = cleaner.clean(number, cells, len(table.header))
        if cleaned.blank:
            continue
        shown: dict[str, Any] = {"row": number}
        for column in mapping.columns:
            cell = cells[column.index] if column.index < len(cells) else None
            shown[column.target.label] = "" if cell is None else cell
        if cleaned.errors:
            shown["errors"] = [f"{column}: {reason}" for column, _, reason in cleaned.errors]
        out.append(shown)
        if len(out) >= rows:
            break
    return out


def import_file(
    ctx: TenantContext,
    table: TableFile,
    mapping: ColumnMapping,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import an opened, mapped table (see :func:`prepare`)."""
    if options.batch_size < 1:
        raise ValidationError("the batch size must be at least 1")
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    match = resolve_match(options.match, mapping, runtime)
    run = _ImportRun(ctx, table, mapping, runtime, match, options, progress)
    with young_gc_only():
        return run.run()


class _ImportRun:
    def __init__(
        self,
        ctx: TenantContext,
        table: TableFile,
        mapping: ColumnMapping,
        runtime: TenantRuntime,
        match: str | None,
        options: ImportOptions,
        progress: Progress | None,
    ) -> None:
        self.ctx = ctx
        self.table = table
        self.mapping = mapping
        self.options = options
        self.match = match
        self.progress = progress
        self.cleaner = RowCleaner(
            mapping,
            dict(runtime.facets),
            region_of(runtime.settings),
            match,
            runtime.columns,
            strict=options.strict,
        )
        self.cause = Cause("import", actor=options.actor or table.path.name)
        self.tenant_id = runtime.tenant_id
        self.entry = journal.Run(id=0, status=journal.RUNNING, last_row=0, started_at=ctx.clock())
        # The tables an import grows: the core's, then the plugin list columns'.
        grown = (t for c in runtime.columns.values() for t in c.tables)
        self.statistics = GrowthStatistics((*IMPORT_TABLES, *dict.fromkeys(grown)))
        known = set(runtime.fields)
        self.new_fields = [spec for spec in mapping.new_fields if spec.name not in known]
        self.summary = ImportSummary(
            file=table.path.name,
            format=table.format,
            encoding=table.encoding,
            delimiter=table.delimiter,
            sheet=table.sheet,
            warnings=list(table.warnings),
            mapping=mapping.as_dict(),
            unmapped=list(mapping.unmapped),
            product=mapping.product,
            match=match,
            dry_run=options.dry_run,
            new_fields=[spec.name for spec in self.new_fields],
        )
        self.accounts: dict[str, int] = {}
        self.failures: list[tuple[int, str, str, str]] = []
        # A lookup provider besides crmkit's offline default (which parsing answered).
        self.provider = ctx.hooks.answered_by_plugin("crmkit_phone_line_type")

    # ------------------------------------------------------------ the run
    def run(self) -> ImportSummary:
        started = time.perf_counter()
        self._open_journal()
        if self.entry.done:
            return self._already_imported(started)
        earlier = self._earlier_errors()
        self.report = ErrorReport(self.options.errors_path)
        try:
            for error in earlier:
                self.report.add(error.row, error.column, error.value, error.reason)
            with ExitStack() as stack:
                dry_conn = None
                if self.options.dry_run:
                    dry_conn = stack.enter_context(self.ctx.db.connect())
                    stack.enter_context(_rolled_back(dry_conn))
                elif self.entry.pending_events:
                    # Rows the crashed run wrote whose events may not be recorded yet.
                    self._fire(self.entry.pending_events)
                for batch in self._cleaned():
                    self._batch(batch, dry_conn)
                    self.summary.seconds = time.perf_counter() - started
                    if self.progress is not None:
                        self.progress(len(batch), self.table.fraction())
            if self.entry.id and not self.options.dry_run:
                with self.ctx.db.begin() as conn:
                    journal.finish(conn, self.tenant_id, self.entry, self.ctx.clock())
        finally:
            self.report.close()
        self.summary.seconds = time.perf_counter() - started
        self.summary.errors = self.report.kept
        if self.report.count and self.options.errors_path is not None:
            self.summary.errors_file = str(self.options.errors_path)
        return self.summary

    # ------------------------------------------------------------ the journal
    def _open_journal(self) -> None:
        """Find the run this import continues. A new run is journaled with the first
        batch that writes a contact: an import that changes nothing leaves no trace."""
        self.checksum = journal.file_checksum(self.table.path)
        self.fingerprint = journal.fingerprint(self.table, self.mapping, self.match)
        if not self.options.again:
            with self.ctx.db.connect() as conn:
                found = journal.latest(conn, self.tenant_id, self.checksum, self.fingerprint)
            if found is not None:
                self.entry = found
        summary = self.summary
        summary.run = self.entry.id or None
        if self.entry.last_row and not self.entry.done:
            summary.resumed_after_row = self.entry.last_row
            for name, value in self.entry.counts.items():
                setattr(summary, name, value)

    def _already_imported(self, started: float) -> ImportSummary:
        """A finished run of the same import: nothing is read or written again."""
        summary = self.summary
        summary.already_imported = True
        summary.new_fields = []
        summary.rows = summary.skipped = self.entry.counts["rows"]
        summary.seconds = time.perf_counter() - started
        return summary

    def _earlier_errors(self) -> list[RowError]:
        """The error report lines of the rows a resumed run committed, to carry into
        this run's report (a line past the journal's last row is of a rolled-back
        batch, and its row is read again)."""
        path = self.options.errors_path
        if not self.entry.last_row or path is None or not path.is_file():
            return []
        # The report quotes cells that look like formulas; reading them back undoes it,
        # or the carried lines would be quoted twice.
        with path.open(encoding="utf-8", newline="") as f:
            return [
                RowError(
                    row=int(line["row"]),
                    column=unescape_formula(line.get("column") or ""),
                    value=unescape_formula(line.get("value") or ""),
                    reason=unescape_formula(line.get("reason") or ""),
                )
                for line in csv.DictReader(f)
                if line.get("row", "").isdigit() and int(line["row"]) <= self.entry.last_row
            ]

    def _raw_batches(self) -> Iterator[list[tuple[int, list[Cell]]]]:
        batch: list[tuple[int, list[Cell]]] = []
        done = self.entry.last_row
        for item in self.table.rows():
            if item[0] <= done:
                continue
            batch.append(item)
            if len(batch) >= self.options.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _cleaned(self) -> Iterator[list[CleanRow]]:
        width = len(self.table.header)
        workers = self.options.workers
        if workers is None:
            big = self.table.path.stat().st_size >= WORKERS_FROM_BYTES
            workers = min(2, os.cpu_count() or 1) if big else 0
        if workers <= 1:
            for raw in self._raw_batches():
                yield clean_batch(self.cleaner, raw, width)
            return
        # Spawned, not forked: the parent holds database connections and threads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self.cleaner, width, os.getpid()),
        ) as pool:
            pending: deque[Future[list[CleanRow]]] = deque()
            for raw in self._raw_batches():
                pending.append(pool.submit(_clean_in_worker, raw))
                # A few batches in flight keep the workers busy and memory bounded.
                if len(pending) > workers * 2:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    # ------------------------------------------------------------ one batch
    def _batch(self, rows: list[CleanRow], dry_conn: Connection | None) -> None:
        summary = self.summary
        summary.rows += len(rows)
        good: list[CleanRow] = []
        for row in rows:
            if row.refused:
                self._fail(row)
            elif row.blank:
                summary.skipped += 1
            else:
                if row.errors:
                    # The bad cells are left out and reported; the row goes in.
                    summary.left_out += len(row.errors)
                    self.failures.extend((row.row, *error) for error in row.errors)
                good.append(row)
        if self.provider:
            # Looked up before the transaction: a provider may go over the network.
            for row in good:
                if row.phone is not None:
                    row.line_type = line_type(self.ctx.hooks, self.ctx.name, row.phone)
        outbox: list[Notice] = []
        with ExitStack() as stack:
            conn = dry_conn or stack.enter_context(self.ctx.db.begin())
            written = self._write(conn, good, outbox)
            self._report()
            if not self.options.dry_run:
                # On disk before the commit: a resumed run keeps the lines up to the
                # journal's last row and reads the rest again.
                self.report.flush()
                self._advance(conn, rows, written)
        if self.options.dry_run:
            return
        hooks = self.ctx.hooks
        if written.created and hooks.implemented("crmkit_on_contact_created"):
            for contact in contacts_by_id(self.ctx, written.created):
                hooks.on_contact_created(
                    tenant=self.ctx.name, contact=contact.model_dump(mode="json")
                )
        deliver(self.ctx, outbox)
        if self.options.fire_rules and written.imported:
            self._fire(written.imported)
        gc.collect(1)

    def _advance(self, conn: Connection, rows: list[CleanRow], written: _Written) -> None:
        """Move the journal past the batch, in the batch's transaction (which holds the
        tenant's write lock, taken by :meth:`_write`)."""
        counts = {name: getattr(self.summary, name) for name in journal.COUNTS}
        if not self.entry.id:
            if not (counts["created"] or counts["updated"]):
                return  # nothing written yet: a rerun reads these rows again
            self._start_run(conn)
        pending = written.imported if self.options.fire_rules else []
        journal.advance(conn, self.tenant_id, self.entry, rows[-1].row, counts, pending)

    def _start_run(self, conn: Connection) -> None:
        if not self.options.again:
            # Under the write lock: a run of the same import started meanwhile (by
            # another process) would otherwise be repeated.
            other = journal.latest(conn, self.tenant_id, self.checksum, self.fingerprint)
            if other is not None:
                raise ValidationError(
                    f"{self.table.path.name}: the same import was started by another "
                    f"process meanwhile (import run {other.id}); nothing of this batch "
                    "was written, run it again to resume"
                )
        self.entry = journal.start(
            conn,
            self.tenant_id,
            self.table.path.name,
            self.checksum,
            self.fingerprint,
            self.ctx.clock(),
        )
        self.summary.run = self.entry.id

    def _fail(self, row: CleanRow, errors: Sequence[tuple[str, str, str]] = ()) -> None:
        self.summary.failed += 1
        self.failures.extend((row.row, *error) for error in errors or row.errors)

    def _report(self) -> None:
        """Write the batch's bad cells in row order (checks and writes find them apart)."""
        for error in sorted(self.failures, key=lambda e: e[0]):
            self.report.add(*error)
        self.failures.clear()

    def _column(self, label: str) -> str:
        column = self.mapping.target_of(label)
        return column.name if column is not None else "-"

    def _write(self, conn: Connection, rows: list[CleanRow], outbox: list[Notice]) -> _Written:
        ctx = self.ctx
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        now = ctx.clock()
        if self.new_fields:
            add_custom_fields(conn, runtime, self.new_fields, now)
            self.new_fields = []
        if self.match == AUTO:
            keys = [key for r in rows for key in r.keys]
            found = matching.existing(conn, scope, keys, [n for r in rows for n in r.names])
        else:
            found = lookups.existing(conn, scope, self.match, (r.key for r in rows))
        names = {r.attributes["account"] for r in rows if r.attributes.get("account")}
        # Accounts are looked up (or created) once per import, not once per batch.
        names -= self.accounts.keys()
        self.accounts.update(lookups.accounts(conn, runtime, names, now))
        update = ContactUpdate(runtime, applier(ctx, runtime, now), self.cause, now, self.accounts)
        update.load(conn, scope, list(found.values()))
        ids = _IdBlock(ctx, conn, runtime, _new_contacts(rows, found))
        created_by_key: dict[Any, int] = {}
        written = _Written()
        outcome: dict[int, tuple[int, bool, bool]] = {}  # row: (contact, created, changed)
        # A plugin list column's name to the (contact, names) of the batch's rows.
        lists: dict[str, list[tuple[int, list[str]]]] = {}
        notes: list[tuple[int, str]] = []
        values: list[extras.Value] = []
        for row in rows:
            keys = row.keys if self.match == AUTO else [] if row.key is None else [row.key]
            contact_id = next((found[k] for k in keys if k in found), None)
            if contact_id is None:
                contact_id = next((created_by_key[k] for k in keys if k in created_by_key), None)
            try:
                if contact_id is None:
                    if self.match == "id" and row.key is not None:
                        raise RowRefused("id", str(row.key), f"contact {row.key} does not exist")
                    contact_id = ids.take()
                    self._apply(update, contact_id, row, new=True)
                    for key in keys:
                        created_by_key.setdefault(key, contact_id)
                    outcome[row.row] = (contact_id, True, True)
                else:
                    changed = self._apply(update, contact_id, row, new=False)
                    outcome[row.row] = (contact_id, False, changed)
            except RowRefused as exc:
                self._fail(row, [(self._column(exc.target), exc.value, exc.reason)])
                continue
            for column, given in row.columns.items():
                if given:
                    lists.setdefault(column, []).append((contact_id, given))
            if row.note:
                notes.append((contact_id, row.note))
            values.extend((contact_id, "email", email) for email in row.emails)
            values.extend((contact_id, "phone", phone) for phone, _ in row.phones)
        update.write(
            conn,
            scope,
            after_changes(ctx, runtime, outbox, now=now),
            lambda: self.statistics.wrote(conn, len(rows)),
        )
        joined: set[int] = set()
        for name, wanted in lists.items():
            joined.update(runtime.columns[name].write(conn, scope, wanted, now))
        joined.update(extras.add_notes(conn, runtime, scope, notes, self.cause.actor, now))
        joined.update(extras.add_values(conn, scope, values))
        self._count(outcome, joined, written)
        written.created = update.new
        return written

    def _apply(self, update: ContactUpdate, contact_id: int, row: CleanRow, *, new: bool) -> bool:
        """Create or change the contact from the row; True when anything changed. A
        facet value or tag a policy refuses is left out of the row and reported (the
        row is refused when strict)."""
        while True:
            try:
                if new:
                    update.create(contact_id, row, self._check(row))
                    return True
                return update.change(contact_id, row, self._check(row))
            except RowRefused as exc:
                if self.options.strict or not _leave_out(row, exc):
                    raise
                self.summary.left_out += 1
                self.failures.append((row.row, self._column(exc.target), exc.value, exc.reason))

    def _count(
        self,
        outcome: Mapping[int, tuple[int, bool, bool]],
        joined: Container[int],
        written: _Written,
    ) -> None:
        """Count each written row as created, updated or skipped (nothing changed)."""
        summary = self.summary
        for number, (contact_id, created, changed) in outcome.items():
            if created:
                summary.created += 1
            elif changed or contact_id in joined:
                summary.updated += 1
            else:
                summary.skipped += 1
                continue
            written.imported.append((contact_id, number, created))

    def _check(self, row: CleanRow) -> PhoneCheck:
        """The phone check of a row's number from the line type found while cleaning
        (or the provider's answer)."""
        if row.phone is None:
            return PhoneCheck(None, None, False, None)
        kind = row.line_type or "other"
        textable, note = sms_permission(kind)
        return PhoneCheck(row.phone, kind, textable, note)

    def _fire(self, imported: list[tuple[int, int, bool]]) -> None:
        events = [
            {
                "id": journal.event_id(self.entry, row),
                "contact": contact_id,
                "kind": IMPORTED_EVENT,
                "data": {"file": self.table.path.name, "row": row, "created": created},
            }
            for contact_id, row, created in imported
        ]
        # One transaction for the batch's events, as one batch of rows is one.
        result = ingest(self.ctx, events, batch_size=max(1, len(events)))
        if self.summary.events is None:
            self.summary.events = result
            return
        total = self.summary.events
        total.total += result.total
        total.applied += result.applied
        total.skipped += result.skipped
        total.failed += result.failed
        total.changes += result.changes
        total.errors.extend(result.errors[: max(0, 100 - len(total.errors))])


def _leave_out(row: CleanRow, refused: RowRefused) -> bool:
    """Take the value a policy refused out of the row; False if it is not one to leave."""
    facet = refused.target.removeprefix("facets.")
    if facet != refused.target and facet in row.facets:
        del row.facets[facet]
        return True
    if refused.target == "tags" and refused.value in row.tags:
        row.tags.remove(refused.value)
        return True
    return False


@dataclass
class _Written:
    """What a batch wrote: the contacts it created, and (contact, row, created) for
    every row that created or changed a contact."""

    created: list[int] = field(default_factory=list)
    imported: list[tuple[int, int, bool]] = field(default_factory=list)


def _new_contacts(rows: Sequence[CleanRow], found: Mapping[Any, int]) -> int:
    """How many contacts a batch will likely create (rows repeating a key count once)."""
    if any(r.keys for r in rows):
        return sum(1 for r in rows if not any(k in found for k in r.keys))
    return _new_by_key(rows, found)


def _new_by_key(rows: Sequence[CleanRow], found: Mapping[Any, int]) -> int:
    """How many contacts a batch will likely create (rows repeating a key count once)."""
    keys = {r.key for r in rows if r.key is not None and r.key not in found}
    return len(keys) + sum(1 for r in rows if r.key is None)


class _IdBlock:
    """Contact ids reserved for a batch in one go, with more taken if it runs out."""

    def __init__(self, ctx: TenantContext, conn: Connection, runtime: TenantRuntime, count: int):
        self.conn, self.runtime = conn, runtime
        self.next = allocate_ids(conn, runtime, count, "contact") if count else 0
        self.left = count

    def take(self) -> int:
        if not self.left:
            self.next = allocate_ids(self.conn, self.runtime, 1, "contact")
            self.left = 1
        self.left -= 1
        self.next += 1
        return self.next - 1


@contextmanager
def _rolled_back(conn: Connection) -> Iterator[None]:
    transaction = conn.begin()
    try:
        yield
    finally:
        transaction.rollback()


_worker_cleaner: tuple[RowCleaner, int] | None = None
# Linux's prctl option that signals a process when its parent dies.
PR_SET_PDEATHSIG = 1
# How often a worker checks that its parent is alive where prctl is not available.
PARENT_CHECK_SECONDS = 1.0


def _start_worker(cleaner: RowCleaner, width: int, parent: int) -> None:
    global _worker_cleaner
    _die_with_parent(parent)
    _worker_cleaner = (cleaner, width)
    gc.disable()  # short-lived batches; see crmkit.recording.young_gc_only


def _die_with_parent(parent: int) -> None:
    """End this worker when the importing process ends, however it ends.

    A worker blocks reading its next batch from a queue whose other end it holds too,
    so a parent killed with SIGKILL never wakes it: workers of a killed import were
    still alive, at 100 MB each, minutes later. On Linux the kernel kills the worker
    with its parent; a thread polling the parent's pid covers other systems and a
    failing prctl.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    # The parent may have died before prctl: the worker then belongs to another process.
    if os.getppid() != parent:
        os._exit(1)
    watch = threading.Thread(target=_watch_parent, args=(parent,), daemon=True)
    watch.start()


def _watch_parent(parent: int, interval: float = PARENT_CHECK_SECONDS) -> None:
    """Exit the process as soon as it is no longer ``parent``'s child."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _clean_in_worker(rows: list[tuple[int, list[Cell]]]) -> list[CleanRow]:
    assert _worker_cleaner is not None, "worker not started"
    cleaner, width = _worker_cleaner
    try:
        return clean_batch(cleaner, rows, width)
    finally:
        gc.collect(1)


__all__ = [
    "IMPORTED_EVENT",
    "ImportOptions",
    "import_file",
    "prepare",
    "preview",
    "resolve_match",
]


def import_contacts(
    ctx: TenantContext,
    path: Path | str,
    *,
    options: ImportOptions,
    mapping: Mapping[str, str] | None = None,
    mapping_file: Path | str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    skip_rows: int | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Open, map and import a file; see :meth:`crmkit.tenant.Tenant.import_contacts`."""
    table, columns, _ = prepare(
        ctx,
        path,
        mapping=mapping,
        mapping_file=mapping_file,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        skip_rows=skip_rows,
    )
    with table:
        return import_file(ctx, table, columns, options, progress)
