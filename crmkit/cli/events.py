"""Events and what they change: ``event record``, ``ingest``, ``tick`` and ``explain``."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from crmkit.cli.context import JSON_OPTION, current_tenant, fail, parse_time
from crmkit.cli.output import console, errors, print_json
from crmkit.event_history import EventSummary
from crmkit.event_input import read_json, read_json_lines
from crmkit.schemas import TransitionOut


def print_transitions(
    transitions: list[TransitionOut], events: Mapping[str, EventSummary] | None = None
) -> None:
    """One line per change (or "no changes"), never wrapped, so it reads and greps well;
    with ``events``, each change names what its event was (kind and short data)."""
    if not transitions:
        console.print("no changes")
        return
    for t in transitions:
        event = f" event {t.event_id}" if t.event_id else ""
        found = (events or {}).get(t.event_id or "")
        if found is not None:
            event += f" ({found.short})"
        console.print(
            f"{t.at.isoformat(timespec='seconds')}  contact {t.contact_id}  {t.name}: "
            f"{t.old or '-'} -> {t.new or '-'}  by {t.cause}{event}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )


@click.group()
def event() -> None:
    """Record events."""


@event.command("record")
@click.option("--contact", "contact_id", type=int, required=True)
@click.option("--kind", required=True)
@click.option("--data", default="{}", help="Event data as a JSON object.")
@click.option("--id", "event_id", help="Event id (unique per tenant); random if omitted.")
@click.option("--at", help="When it happened, ISO time; now if omitted.")
@JSON_OPTION
def event_record(
    contact_id: int,
    kind: str,
    data: str,
    event_id: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Record one event and print the changes the rules made."""
    try:
        payload = read_json(data)
    except ValueError as exc:
        fail(f"--data is {exc}")
    if not isinstance(payload, dict):
        fail("--data must be a JSON object")
    result = current_tenant().record_event(
        contact_id, kind, payload, id=event_id, at=parse_time(at)
    )
    # Read back, so the changes plugins made in reply to the rules' are shown too.
    changes = current_tenant().changes_of_event(result.id)
    if as_json:
        print_json(result.model_copy(update={"changes": changes}))
        return
    console.print(f"event {result.id} recorded for contact {result.contact_id}")
    print_transitions(changes)


def _read_jsonl(path: Path) -> Iterator[Any]:
    with path.open("rb") as handle:
        yield from read_json_lines(handle)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@JSON_OPTION
def ingest(file: Path, batch_size: int, no_progress: bool, as_json: bool) -> None:
    """Record the events of a JSON Lines file (id, contact, kind, data, at per line)."""
    tenant = current_tenant()
    with Progress(
        TextColumn("ingesting"),
        BarColumn(),
        TextColumn("{task.completed} events"),
        TimeElapsedColumn(),
        console=errors,
        disable=no_progress or as_json,
    ) as progress:
        task = progress.add_task("ingest", total=None)
        summary = tenant.ingest(
            _read_jsonl(file),
            batch_size=batch_size,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{summary.total} events: {summary.applied} applied, {summary.skipped} skipped "
            f"(already recorded), {summary.failed} failed, {summary.changes} changes"
        )
        for message in summary.errors:
            errors.print(f"  {message}", markup=False, highlight=False)
    if summary.failed:
        sys.exit(1)


@click.command()
@click.option("--now", "now_text", metavar="ISO-TIME", help="The tick's time (default: now).")
@JSON_OPTION
def tick(now_text: str | None, as_json: bool) -> None:
    """Run what depends on time: score decay and expiry, rankings, tick rules, due
    actions. Exits 1 when a due action failed (each failure is printed)."""
    summary = current_tenant().tick(parse_time(now_text, "--now"))
    done = summary.actions
    if as_json:
        print_json(summary)
    else:
        actions = (
            f"; actions: {done.done} done, {done.failed} failed, {done.cancelled} cancelled"
            if done.done or done.failed or done.cancelled
            else ""
        )
        console.print(
            f"tick at {summary.now.isoformat(timespec='seconds')}: {summary.changes} changes"
            + actions,
            markup=False,
            soft_wrap=True,
        )
        for rule, count in summary.by_rule.items():
            console.print(f"  {rule}: {count}", markup=False)
        for message in done.errors:
            errors.print(f"  failed: {message}", markup=False, highlight=False, soft_wrap=True)
    if done.failed:
        sys.exit(1)


@click.command()
@click.argument("contact_id", type=int)
@click.argument("facet", required=False)
@JSON_OPTION
def explain(contact_id: int, facet: str | None, as_json: bool) -> None:
    """Why a contact has its values: each change with its cause, event and time."""
    tenant = current_tenant()
    transitions = tenant.explain(contact_id, facet)
    events = tenant.events_by_id(t.event_id for t in transitions if t.event_id)
    if as_json:
        print_json(
            [
                {
                    **t.model_dump(mode="json"),
                    "event_kind": events[t.event_id].kind if t.event_id in events else None,
                    "event_data": events[t.event_id].data if t.event_id in events else None,
                }
                for t in transitions
            ]
        )
        return
    if not transitions:
        console.print(
            f"contact {contact_id} has no recorded changes"
            + (f" of {facet}" if facet else "")
            + " (values are defaults)"
        )
        return
    print_transitions(transitions, events)
