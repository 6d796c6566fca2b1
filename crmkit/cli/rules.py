"""``crmkit rules``: test packs against scenario files, check rulesets, simulate packs."""

from __future__ import annotations

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
from crmkit.rules.checker import check_packs
from crmkit.scenarios import ScenarioRunner
from crmkit.scenarios.model import SCENARIO_SUFFIX


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
                    {"kind": p.kind, "where": p.where, "message": p.message} for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            console.print(
                line((problem.kind, "yellow"), f" {problem}"), highlight=False, soft_wrap=True
            )
        console.print(
            f"{label}: {len(problems) or 'no'} problem{'' if len(problems) == 1 else 's'}",
            highlight=False,
            soft_wrap=True,
        )
    if problems:
        raise SystemExit(1)


def _scenario_sources(
    crm: CRM, paths: tuple[Path, ...], pack_names: tuple[str, ...]
) -> tuple[list[tuple[Any, str]], list[Pack]]:
    """The scenario files to run, each with its label, and the packs whose own scenarios
    are among them (every installed pack's when neither paths nor packs are named)."""
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
    return sources, packs


def _run_scenarios(
    runner: ScenarioRunner, sources: list[tuple[Any, str]], as_json: bool
) -> tuple[list[dict[str, Any]], set[str]]:
    """Run every file, printing PASS or FAIL per scenario unless ``as_json``; the
    report rows and the rules (``PACK@VERSION:RULE``) that changed something."""
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
    """Run scenario files (PATHS: files or folders); with neither PATHS nor --pack,
    every installed pack's own scenarios. Exits 1 when one fails."""
    with ScenarioRunner() as runner:
        sources, packs = _scenario_sources(runner.crm, paths, pack_names)
        report, fired = _run_scenarios(runner, sources, as_json)
        unexercised = _unexercised(runner.crm, packs, fired)
    failed = sum(1 for r in report if not r.get("passed"))
    if as_json:
        print_json({"results": report, "failed": failed, "rules_not_exercised": unexercised})
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
