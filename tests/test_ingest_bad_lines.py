"""One unreadable or invalid line of an ingest file is one failed item: the good events
around it (in the same batch too) are recorded, the run goes on to the end, and running
the file again skips what was recorded and reports the same lines, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support import invoker

from crmkit import Tenant
from crmkit.errors import ValidationError


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    invoke = invoker(db_url, monkeypatch, "acme")
    invoke("init", "--packs", "17hats")
    invoke("contact", "add", "--first-name", "Ada")
    return invoke


def good(n: int) -> bytes:
    return json.dumps({"id": f"good{n}", "contact": 1, "kind": "note_added"}).encode()


BAD_LINES = {
    "lone surrogate": b'{"id": "s", "contact": 1, "kind": "note_added", "data": {"x": "\\udfff"}}',
    "deep nesting": b'{"id": "d", "contact": 1, "kind": "k", "data": {"x": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}",
    "long integer": b'{"id": "i", "contact": 1, "kind": "k", "data": {"x": ' + b"9" * 5000 + b"}}",
    "invalid UTF-8": b'{"id": "u", "contact": 1, "kind": "k", "data": {"x": "\xff"}}',
    "true as contact": b'{"id": "t", "contact": true, "kind": "note_added"}',
    "integer beyond 64 bits in data": b'{"id": "b", "contact": 1, "kind": "k", "data": {"x": '
    + b"9" * 30
    + b"}}",
    "not JSON": b"{oops",
}
REASONS = {
    "lone surrogate": "item 2: invalid event: data: Value error, data.x contains a lone "
    "surrogate (\\udfff), which is not UTF-8",
    "deep nesting": "line 4: not JSON that can be read: nested too deeply",
    "long integer": "line 6: not JSON that can be read: a number has too many digits",
    "invalid UTF-8": "line 8: not UTF-8 (byte 0xff at byte 55)",
    "true as contact": "a contact id is an integer, not true or false",
    "integer beyond 64 bits in data": "data.x is an integer beyond 64 bits",
    "not JSON": "line 14: not JSON",
}


def test_bad_lines_fail_alone_and_the_run_goes_on(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "events.jsonl"
    lines = []
    for n, bad in enumerate(BAD_LINES.values()):
        lines += [good(n), bad]
    lines.append(good(len(BAD_LINES)))
    path.write_bytes(b"\n".join(lines) + b"\n")

    # A batch size of 4 puts good and bad lines in the same batches.
    first = run("ingest", str(path), "--no-progress", "--batch-size", "4", code=1, stdout=True)
    summary = f"{len(lines)} events: {len(BAD_LINES) + 1} applied, 0 skipped"
    assert summary in first
    again = run("ingest", str(path), "--no-progress", "--json", code=1, stdout=True)
    counts = json.loads(again)
    assert (counts["applied"], counts["skipped"], counts["failed"]) == (
        0,
        len(BAD_LINES) + 1,
        len(BAD_LINES),
    )
    errors = " ".join(counts["errors"])
    for name, reason in REASONS.items():
        assert reason in errors, name
    assert "Traceback" not in first
    shown = json.loads(run("contact", "show", "1", "--json"))
    assert shown["id"] == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('{"x": "\\udfff"}', "data.x contains a lone surrogate (\\udfff)"),
        ("[" * 100_000, "--data is not JSON that can be read: nested too deeply"),
        ('{"x": ' + "9" * 5000 + "}", "--data is not JSON that can be read: a number has"),
        ('{"x": ' + "[" * 70 + "]" * 70 + "}", "data.x" + "[0]" * 63 + " is nested deeper"),
    ],
)
def test_event_record_data_errors_are_one_line(run, data: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    err = run("event", "record", "--contact", "1", "--kind", "note_added", "--data", data, code=1)
    assert reason in err
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_true_is_no_contact_id_in_the_python_api(acme: Tenant) -> None:
    acme.add_contact({"first_name": "Ada"})
    with pytest.raises(ValidationError, match="not true or false"):
        acme.record_event(True, "note_added")  # type: ignore[arg-type]
    summary = acme.ingest([{"contact": True, "kind": "note_added", "id": "t"}])
    assert (summary.applied, summary.failed) == (0, 1)
