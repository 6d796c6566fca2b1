"""``crmkit rules``: test packs against scenario files, check rulesets, simulate packs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from crmkit.cli.context import JSON_OPTION, Context, current_context, fail, iso_time
from crmkit.cli.output import console, errors, line, print_json
from crmkit.core import CRM
from crmkit.errors import SourceError
from crmkit.manifests import MANIFEST, load_pack
from crmkit.packs import Pack
from crmkit.profiles import shown
from crmkit.replay import ReplayResult, replay
from crmkit.rules.checker import check_packs, failing
from crmkit.scenarios import ScenarioRunner
from crmkit.scenarios.model import SCENARIO_SUFFIX
from crmkit.scenarios.sources import owning_pack


def _packs_to_check(
    obj: Context, path: Path | None, tenant: str | None, pack_list: str | None
) -> tuple[str, list[Any]]:
    """What ``rules check`` looks at: a pack folder or ruleset file, installed packs,
    or a tenant's packs; and how to call it."""
    crm = obj.crm
    if path is not None:
        if path.is_dir() or path.name == MANIFEST:
            pack = load_pack(path if path.is_dir() else path.parent)
            return f"pack {pack.ref} ({path})", [pack]
        # A lone ruleset file: checked against every facet the installed plugins bring.
        pack = Pack(name=path.stem, version="0", rulesets=(path,), facets=tuple(crm.schema.facets))
        return str(path), [pack]
    if pack_list:
        packs = [crm.packs.resolve(s) for s in pack_list.split(",") if s.strip()]
        return f"packs {', '.join(p.ref for p in packs)}", packs
    name = tenant or obj.tenant_name
    with crm.db.connect() as conn:
        packs = list(crm.runtime(conn, name).packs)
    return f"tenant {name} ({', '.join(p.ref for p in packs) or 'no packs'})", packs


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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _print_replay(result: ReplayResult, label: str, then: str, same: str) -> None:
    """The replay summary, then each contact that ends differently, value by value."""
    failed = f" ({result.failed} failed)" if result.failed else ""
    console.print(
        f"tenant {result.tenant} {label} {', '.join(result.packs) or 'no packs'}"
        + (f" since {result.since:%Y-%m-%d %H:%M}" if result.since else "")
        + f": {_count(result.contacts, 'contact')}, {_count(result.events, 'event')}{failed}, "
        f"{_count(result.ticks, 'tick')}, {_count(result.by_hand, 'change')} by hand, "
        f"in {result.seconds:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for warning in result.warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, highlight=False)
    for facet, values in result.new_facets.items():
        spread = ", ".join(f"{value} {count}" for value, count in values.items())
        console.print(
            f"{facet} (only in the simulated packs): {spread or 'no contacts'}",
            markup=False,
            highlight=False,
        )
    if result.exact:
        console.print(same, markup=False, highlight=False)
        return
    console.print(
        f"{_count(len(result.differences), 'contact')} {then}:", markup=False, highlight=False
    )
    for contact in result.differences:
        console.print(f"contact {contact.contact_id} {contact.name}", markup=False)
        for v in contact.values:
            now_by = f" (by {v.now_by})" if v.now_by else ""
            new_by = f" (by {v.replayed_by})" if v.replayed_by else ""
            console.print(
                f"  {v.what}: {shown(v.now)} now{now_by} -> {shown(v.replayed)}{new_by}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


@click.group()
def rules() -> None:
    """Test, check and simulate rule packs."""


@rules.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@click.option("--tenant", "tenant_name", help="Check this tenant's packs (default).")
@click.option("--packs", "pack_list", help="Check these installed packs together.")
@JSON_OPTION
def check(
    path: Path | None,
    tenant_name: str | None,
    pack_list: str | None,
    as_json: bool,
) -> None:
    """Find problems in rulesets: errors, rules that can never fire or would be
    refused, conflicting rules, unknown facets. PATH is a pack folder (with
    pack.yaml) or a ruleset file. Exits 1 when it finds any."""
    obj = current_context()
    label, packs = _packs_to_check(obj, path, tenant_name, pack_list)
    problems = check_packs(obj.crm, packs)
    if as_json:
        print_json(
            {
                "checked": label,
                "problems": [
                    {
                        "kind": p.kind,
                        "where": p.where,
                        "message": p.message,
                        "acknowledged": p.acknowledged,
                    }
                    for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            console.print(
                line((problem.kind, "yellow"), f" {problem}"), highlight=False, soft_wrap=True
            )
        count = len(failing(problems))
        noted = len(problems) - count
        console.print(
            f"{label}: {count or 'no'} problem{'' if count == 1 else 's'}"
            + (f", {noted} acknowledged" if noted else ""),
            highlight=False,
            soft_wrap=True,
        )
    if failing(problems):
        raise SystemExit(1)


@dataclass
class ScenarioSources:
    """What ``rules test`` runs: each scenario file with its label and the pack version
    that ships it, the packs read from folders (run in place of the installed copies),
    and the packs whose rules should all be exercised."""

    files: list[tuple[Any, str, Pack | None]] = field(default_factory=list)
    folder_packs: dict[str, tuple[Pack, Path]] = field(default_factory=dict)
    packs: list[Pack] = field(default_factory=list)

    def from_folder(self, pack: Pack, folder: Path) -> None:
        known = self.folder_packs.get(pack.ref)
        if known is not None and known[1].resolve() != folder.resolve():
            fail(f"pack {pack.ref} is in two folders, {known[1]} and {folder}: test one at a time")
        if known is None:
            self.folder_packs[pack.ref] = (pack, folder)
            self.packs.append(pack)


def _pack_folder(path: Path) -> Path | None:
    if path.is_dir() and (path / MANIFEST).is_file():
        return path
    if path.name == MANIFEST and path.is_file():
        return path.parent
    return None


def _scenario_sources(
    installed: CRM, paths: tuple[Path, ...], pack_names: tuple[str, ...]
) -> ScenarioSources:
    """The scenario files to run (``installed`` resolves ``--pack`` names; every
    installed pack's own scenarios when neither paths nor packs are named). A pack
    folder in ``paths`` runs its own files: its manifest, rulesets, templates and
    scenarios, as they are in the folder."""
    found = ScenarioSources()
    for path in paths:
        folder = _pack_folder(path)
        if folder is not None:
            pack = load_pack(folder)
            if not pack.scenarios:
                fail(f"pack {pack.ref} ({folder}) ships no scenario files")
            found.from_folder(pack, folder)
            found.files.extend((s, str(s), pack) for s in pack.scenarios)
            continue
        for file in scenario_files((path,)):
            owner = owning_pack(file)
            if owner is not None:
                found.from_folder(owner, file.parent)
            found.files.append((file, str(file), owner))
    named = [installed.packs.resolve(name) for name in pack_names]
    if not paths and not pack_names:
        named = [p for p in installed.packs.all() if p.scenarios]
    for pack in named:
        if not pack.scenarios:
            fail(f"pack {pack.ref} ships no scenario files")
        found.packs.append(pack)
        found.files.extend((s, f"{pack.ref}:{s.name}", pack) for s in pack.scenarios)
    if not found.files:
        fail("no scenario files found")
    return found


def _run_scenarios(
    runner: ScenarioRunner, sources: list[tuple[Any, str, Pack | None]], as_json: bool
) -> tuple[list[dict[str, Any]], set[str]]:
    """Run every file, printing PASS or FAIL per scenario unless ``as_json``; the
    report rows and the rules (``PACK@VERSION:RULE``) that changed something."""
    report: list[dict[str, Any]] = []
    fired: set[str] = set()
    for source, label, pack in sources:
        try:
            results = runner.run_file(source, label, pack)
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
                    line(("PASS", "green"), f" {result.title}"),
                    highlight=False,
                    soft_wrap=True,
                )
            else:
                console.print(
                    line(("FAIL", "red"), f" {result.title}"),
                    highlight=False,
                    soft_wrap=True,
                )
                console.print(result.message, markup=False, highlight=False, soft_wrap=True)
    return report, fired


def _unexercised(crm: CRM, packs: list[Pack], fired: set[str]) -> dict[str, list[str]]:
    """Per pack, the rules no scenario made change anything."""
    return {
        pack.ref: [
            rule.name
            for rule in (*crm.compiled(pack).rules, *crm.compiled(pack).tick_rules)
            if f"{pack.ref}:{rule.name}" not in fired
        ]
        for pack in packs
    }


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
    """Run scenario files (PATHS: files, folders or pack folders); with neither PATHS
    nor --pack, every installed pack's own scenarios. A pack folder (with pack.yaml)
    runs as it is in the folder, in place of the installed copy. Exits 1 when one
    fails."""
    obj = current_context()
    sources = _scenario_sources(obj.crm, paths, pack_names)
    ran = {
        pack.ref: str(folder) if folder else "installed"
        for pack, folder in [
            *sources.folder_packs.values(),
            *((p, None) for p in sources.packs if p.ref not in sources.folder_packs),
        ]
    }
    if not as_json:
        for ref, where in ran.items():
            console.print(
                f"pack {ref} ({where if where == 'installed' else 'from ' + where})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    folder_packs = [pack for pack, _ in sources.folder_packs.values()]
    with ScenarioRunner(packs=folder_packs, plugin_manager=obj.plugin_manager) as runner:
        report, fired = _run_scenarios(runner, sources.files, as_json)
        unexercised = _unexercised(runner.crm, sources.packs, fired)
    failed = sum(1 for r in report if not r.get("passed"))
    if as_json:
        print_json(
            {
                "packs": ran,
                "results": report,
                "failed": failed,
                "rules_not_exercised": unexercised,
            }
        )
    else:
        for ref, names in unexercised.items():
            if names:
                console.print(
                    line(
                        (ref, "yellow"),
                        ": no scenario made these rules change anything: "
                        + ", ".join(repr(n) for n in names),
                    ),
                    highlight=False,
                )
        passed = len(report) - failed
        console.print(f"{passed} passed, {failed} failed", highlight=False, soft_wrap=True)
    if failed:
        raise SystemExit(1)


@rules.command("replay")
@click.option("--tenant", "tenant_name", help="The tenant to rebuild (default: --tenant).")
@click.option("--since", callback=iso_time, help="Play only what happened from this time (ISO) on.")
@JSON_OPTION
def replay_command(tenant_name: str | None, since: Any, as_json: bool) -> None:
    """Rebuild the tenant from its history in a scratch copy and compare every
    contact with its current state. Writes nothing to the tenant; exits 1 when a
    contact ends differently."""
    obj = current_context()
    result = replay(obj.crm.tenant(tenant_name or obj.tenant_name), since=since)
    if as_json:
        print_json(result.as_dict())
    else:
        _print_replay(result, "replayed with", "end differently", "every contact ends as it is now")
    if not result.exact:
        raise SystemExit(1)


@rules.command("simulate")
@click.option("--tenant", "tenant_name", help="The tenant to simulate (default: --tenant).")
@click.option(
    "--packs",
    "pack_list",
    required=True,
    help="The packs to play the history against: NAME or NAME@VERSION, comma-separated.",
)
@click.option("--since", callback=iso_time, help="Play only what happened from this time (ISO) on.")
@JSON_OPTION
def simulate(tenant_name: str | None, pack_list: str, since: Any, as_json: bool) -> None:
    """Play the tenant's recorded history against other packs in a scratch copy and
    report the contacts that would end differently, with the rules that set each
    value. Writes nothing to the tenant."""
    obj = current_context()
    packs = [spec.strip() for spec in pack_list.split(",") if spec.strip()]
    if not packs:
        fail("--packs names no pack")
    result = replay(obj.crm.tenant(tenant_name or obj.tenant_name), packs=packs, since=since)
    if as_json:
        print_json(result.as_dict())
    else:
        _print_replay(
            result,
            "simulated with",
            "would end differently",
            "no contact would end differently in the facets both pack sets have",
        )
