"""``crmkit rules``: test packs against scenario files, check rulesets, simulate packs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from crmkit.cli.context import JSON_OPTION, fail
from crmkit.cli.output import console, errors, print_json
from crmkit.errors import SourceError

SCENARIO_SUFFIX = ".scenarios.yaml"


def scenario_files(paths: tuple[Path, ...]) -> list[Path]:
    """The scenario files ``paths`` name: files as given, folders searched for
    ``*.scenarios.yaml``."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob(f"*{SCENARIO_SUFFIX}")))
        elif path.is_file():
            found.append(path)
        else:
            fail(f"{path}: no such file or folder")
    return found


def register(cli: click.Group) -> None:
    """Attach the ``rules`` group to the ``crmkit`` group."""

    @cli.group()
    def rules() -> None:
        """Test, check and simulate rule packs."""

    @rules.command("test")
    @click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
    @click.option(
        "--pack",
        "pack_names",
        multiple=True,
        help="Run the scenarios an installed pack ships (NAME or NAME@VERSION). Repeatable.",
    )
    @JSON_OPTION
    def test(paths: tuple[Path, ...], pack_names: tuple[str, ...], as_json: bool) -> None:
        """Run scenario files (PATHS: files or folders); with neither PATHS nor --pack,
        every installed pack's own scenarios. Exits 1 when one fails."""
        from crmkit.scenarios import ScenarioRunner

        with ScenarioRunner() as runner:
            crm = runner.crm
            sources: list[tuple[Any, str]] = [(p, str(p)) for p in scenario_files(paths)]
            packs = [crm.packs.resolve(name) for name in pack_names]
            if not paths and not pack_names:
                packs = [p for p in crm.packs.all() if p.scenarios]
            for pack in packs:
                if not pack.scenarios:
                    fail(f"pack {pack.ref} ships no scenario files")
                sources.extend((s, f"{pack.ref}:{s.name}") for s in pack.scenarios)
            if not sources:
                fail("no scenario files found")
            report: list[dict[str, Any]] = []
            fired: set[str] = set()
            for source, label in sources:
                try:
                    results = runner.run_file(source, label)
                except SourceError as exc:
                    report.append({"file": label, "error": str(exc)})
                    if not as_json:
                        errors.print(f"ERROR {exc}", markup=False, highlight=False, soft_wrap=True)
                    continue
                for result in results:
                    fired |= result.fired
                    report.append(
                        {
                            "file": label,
                            "line": result.scenario.line,
                            "scenario": result.scenario.name,
                            "passed": result.passed,
                            "failure": result.message or None,
                        }
                    )
                    if as_json:
                        continue
                    if result.passed:
                        console.print(
                            f"[green]PASS[/] {result.title}", highlight=False, soft_wrap=True
                        )
                    else:
                        console.print(
                            f"[red]FAIL[/] {result.title}", highlight=False, soft_wrap=True
                        )
                        console.print(result.message, markup=False, highlight=False, soft_wrap=True)
            unexercised = {
                pack.ref: [
                    rule.name
                    for rule in (*crm.compiled(pack).rules, *crm.compiled(pack).tick_rules)
                    if f"{pack.ref}:{rule.name}" not in fired
                ]
                for pack in packs
            }
        failed = sum(1 for r in report if not r.get("passed"))
        if as_json:
            print_json({"results": report, "failed": failed, "rules_not_exercised": unexercised})
        else:
            for ref, names in unexercised.items():
                if names:
                    console.print(
                        f"[yellow]{ref}[/]: no scenario made these rules change anything: "
                        + ", ".join(repr(n) for n in names),
                        highlight=False,
                    )
            passed = len(report) - failed
            console.print(f"{passed} passed, {failed} failed", highlight=False, soft_wrap=True)
        if failed:
            raise SystemExit(1)
