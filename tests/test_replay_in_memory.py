"""A replay's scratch copy is never a file: nothing of the tenant reaches the temporary
folder, however the replay ends (the SIGKILL case: tests/reliability)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from crmkit import Tenant
from crmkit.replay import replay


def test_a_replay_writes_no_file_to_the_temporary_folder(
    acme: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = acme.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    acme.record_event(ada.id, "lead_form_submitted", id="form-1")
    scratch = tmp_path / "tmp"  # not tmp_path: the SQLite tenant's own files are there
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[list[Path]] = []

    def stalled(*args: object, **kwargs: object) -> list[object]:
        seen.append(list(scratch.rglob("*")))
        return []

    monkeypatch.setattr("crmkit.replay.runner.compare", stalled)
    assert replay(acme).exact
    assert seen == [[]]  # while the copy is full
    assert list(scratch.rglob("*")) == []
