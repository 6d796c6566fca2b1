"""``crmkit pack new``: the scaffold checks clean and its scenario passes as written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmkit.cli.main import cli


def test_a_new_pack_checks_clean_and_its_scenario_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path / 'crm.db'}")
    runner = CliRunner()
    result = runner.invoke(cli, ["pack", "new", "trial_pack", "--path", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "crmkit-trial-pack"
    assert f"created {root}" in result.stdout
    assert '[project.entry-points.crmkit]\ntrial_pack = "crmkit_trial_pack"' in (
        root / "pyproject.toml"
    ).read_text("utf-8")
    assert (root / "tests" / "test_trial_pack.py").is_file()

    pack = root / "crmkit_trial_pack" / "pack"
    result = runner.invoke(cli, ["rules", "check", str(pack)])
    assert result.exit_code == 0, result.output
    assert "trial_pack@0.1.0" in result.stdout and "no problems" in result.stdout
    result = runner.invoke(cli, ["rules", "test", str(pack)])
    assert result.exit_code == 0, result.output
    assert "PASS " in result.stdout and "1 passed, 0 failed" in result.stdout, result.stdout

    # The plugin module registers the pack it ships.
    monkeypatch.syspath_prepend(str(root))
    from crmkit import CRM

    module = __import__("crmkit_trial_pack")
    crm = CRM("sqlite://", plugins=[module])
    assert crm.packs.resolve("trial_pack").ref == "trial_pack@0.1.0"
    sys.modules.pop("crmkit_trial_pack", None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Bad-Name", "pack name 'Bad-Name': use lower-case letters"),
        ("ok", "already exists"),
        # crmkit's own demo plugin has the name: installed, the two would clash.
        ("demo", "pack name 'demo' is taken"),
        ("leadklozer", "pack name 'leadklozer' is taken"),
    ],
)
def test_a_bad_name_or_an_existing_folder_is_refused(
    tmp_path: Path, name: str, expected: str
) -> None:
    (tmp_path / "crmkit-ok").mkdir()
    result = CliRunner().invoke(cli, ["pack", "new", name, "--path", str(tmp_path)])
    assert result.exit_code == 2 and expected in result.output, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["crmkit-ok"]
    assert list((tmp_path / "crmkit-ok").iterdir()) == []
