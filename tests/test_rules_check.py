"""``crmkit rules check``: dead rules, refused moves, conflicts, unknown facets, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import STAGE, PackPlugin

from crmkit import CRM, hookimpl
from crmkit.facets import Facet, FacetValue
from crmkit.packs import Pack
from crmkit.rules.checker import check_packs

MOOD = Facet(
    name="mood",
    label="Mood",
    values=(FacetValue("calm", "Calm", "green"), FacetValue("angry", "Angry", "red")),
    default="calm",
)


def rules(*items: str) -> str:
    return "rules:\n" + "".join(items)


def rule(name: str, when: str, then: str) -> str:
    return f"  - name: {name}\n    when: {when}\n    then: [{then}]\n"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    crm = CRM("sqlite://", plugins=[PackPlugin(tmp_path, {"deals": text})])
    return [f"{p.kind}: {p}" for p in check_packs(crm, [crm.packs.resolve("deals")])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            rules(rule("twice", "event.kind == a and event.kind == b", "{tag: x}")),
            "never-fires: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'twice': "
            "its condition can never hold",
        ),
        (
            rules(
                rule(
                    "nowhere",
                    "contact.stage != open and contact.stage not in [won, archived]",
                    "{tag: x}",
                )
            ),
            "never-fires: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'nowhere'",
        ),
        (
            rules(rule("range", "contact.score > 10 and contact.score <= 10", "{tag: x}")),
            "never-fires: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'range'",
        ),
        (
            rules(rule("vip", "contact.tags has vip and contact.tags not has vip", "{tag: x}")),
            "never-fires: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'vip'",
        ),
        (
            rules(rule("reopen won", "contact.stage == won", "{set: {stage: open}}")),
            "refused: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'reopen won': sets stage to "
            "'open', behind every value its condition allows (won): the forward-only "
            "policy always refuses it",
        ),
        (
            rules(rule("reopen", "event.kind == reopen", "{set: {stage: open}}")),
            "refused: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'reopen': sets stage to "
            "'open', which the forward-only policy refuses when stage is won or archived",
        ),
        (
            rules(
                rule("won", "event.kind == deal and contact.stage == open", "{set: {stage: won}}"),
                rule(
                    "vip deals close",
                    "event.kind in [deal, close] and contact.tags has vip",
                    "{set: {stage: archived}}",
                ),
            ),
            "conflict: deals@1.0.0:deals-1.0.0.yaml, line 2, rule 'won': sets stage to 'won' "
            "while rule 'vip deals close' (deals@1.0.0) sets it to 'archived', and both "
            "match when event.kind == deal and contact.stage == open and event.kind in "
            "[deal, close] and contact.tags has vip",
        ),
        (
            rules(rule("bad", "event.kind ==", "{tag: x}")),
            "error: deals@1.0.0:deals-1.0.0.yaml, line 3, rule 'bad': when: invalid condition",
        ),
    ],
)
def test_check_finds_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    found = problems_of(tmp_path, text)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_sound_rulesets_have_no_problems(tmp_path: Path) -> None:
    text = rules(
        rule("won", "event.kind == deal and contact.stage == open", "{set: {stage: won}}"),
        rule("close", "event.kind == close", "{set: {stage: archived}}"),
        rule("same", "event.kind == deal", "{tag: deal}"),
        rule("vip", "event.kind == deal and contact.tags not has vip", "{tag: vip}"),
        rule("maybe", "event.kind == deal or event.kind == close", "{set: {stage: archived}}"),
    )
    # "won" and "maybe" overlap on deal with different stages: the one real conflict.
    found = problems_of(tmp_path, text)
    assert [p.split(":")[0] for p in found] == ["conflict"]
    assert "rule 'won'" in found[0] and "rule 'maybe'" in found[0]


def test_first_party_packs_together_have_no_problems() -> None:
    crm = CRM("sqlite://")
    names = ["17hats", "funnel", "contacts", "leadklozer", "clienttether"]
    assert check_packs(crm, [crm.packs.resolve(n) for n in names]) == []


class MoodPacks:
    """A pack whose rules read and set mood, a facet only another pack brings."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def crmkit_register_facets(self, register: Callable[[Facet], None]) -> None:
        register(STAGE)
        register(MOOD)

    @hookimpl
    def crmkit_register_packs(self, register: Callable[[Pack], None]) -> None:
        path = self.folder / "moody.yaml"
        path.write_text(
            rules(
                rule(
                    "calm down",
                    "contact.mood == angry and contact.stage == open",
                    "{set: {stage: won}}",
                )
            ),
            encoding="utf-8",
        )
        register(Pack(name="moody", version="1.0.0", rulesets=(path,), facets=("stage",)))
        register(Pack(name="moods", version="1.0.0", facets=("mood",)))


def test_a_facet_none_of_the_packs_bring_is_reported(tmp_path: Path) -> None:
    crm = CRM("sqlite://", plugins=[MoodPacks(tmp_path)], load_entry_points=False)
    alone = check_packs(crm, [crm.packs.resolve("moody")])
    assert [str(p) for p in alone] == [
        "moody@1.0.0:moody.yaml, line 2, rule 'calm down': uses facet 'mood', which none of "
        "the packs here bring (its changes are skipped)"
    ]
    assert check_packs(crm, [crm.packs.resolve("moody"), crm.packs.resolve("moods")]) == []


def test_rules_check_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crmkit.cli.main import cli

    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path / 'crm.db'}")
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["--tenant", "acme", "init", "--packs", "17hats,funnel"]).exit_code == 0
    )
    result = runner.invoke(cli, ["--tenant", "acme", "rules", "check"])
    assert result.exit_code == 0, result.output
    assert "tenant acme (17hats@1.0.0, funnel@1.0.0): no problems" in result.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        rules(
            rule("back", "event.kind == refund", "{set: {role: lead}}"),
            rule("typo", "event.kind == x", "{set: {role: boss}}"),
        ),
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    # A lone file is checked as a pack named after it, version 0.
    assert "bad@0:bad.yaml, line 7, rule 'typo': then[1] set: 'boss' is not a value" in (
        result.stdout
    )

    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "name: refunds\nversion: '1.0.0'\nfacets: [role]\nrulesets: [refunds.yaml]\n",
        encoding="utf-8",
    )
    (pack / "refunds.yaml").write_text(
        rules(rule("back", "event.kind == refund", "{set: {role: lead}}")), encoding="utf-8"
    )
    result = runner.invoke(cli, ["rules", "check", str(pack), "--json"])
    assert result.exit_code == 1
    assert '"kind": "refused"' in result.stdout and "prospect or client" in result.stdout

    result = runner.invoke(cli, ["rules", "check", "--packs", "nope"])
    assert result.exit_code == 1 and "unknown pack 'nope'" in result.stderr


def test_rules_check_reports_what_durable_rules_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4,100 rules: durable_rules failed with "error code: 106" at the first event while
    `rules check` found no problems."""
    from crmkit.cli.main import cli

    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path / 'crm.db'}")
    big = tmp_path / "big.yaml"
    big.write_text(
        rules(*(rule(f"r{i}", f"event.kind == k{i % 40}", "{tag: seen}") for i in range(4100))),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["rules", "check", str(big)])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "engine-limit big@0:big.yaml: 4100 event rules; durable_rules takes at most 4095 in "
        "one pack (error code 106); crmkit runs it on the compiled backend instead",
        f"{big}: 1 problem",
    ]


def test_rules_check_names_the_rule_past_a_durable_rules_table(tmp_path: Path) -> None:
    ladder = rules(
        *(
            rule(f"over {i}", f"event.kind == scored and event.data.n > {i}", "{tag: x}")
            for i in range(70)
        )
    )
    assert problems_of(tmp_path, ladder) == [
        "engine-limit: deals@1.0.0:deals-1.0.0.yaml: one event can pass 70 tests at once "
        '(after `event.kind == "scored"`: 70); durable_rules holds at most 64 (error code '
        "303 when such an event arrives); crmkit runs it on the compiled backend instead"
    ]
    kinds = rules(*(rule(f"r{i}", f"event.kind == k{i}", "{tag: x}") for i in range(600)))
    assert problems_of(tmp_path, kinds)[0] == (
        "engine-limit: deals@1.0.0:deals-1.0.0.yaml, line 1532, rule 'r510': 512 different "
        "tests follow the start of a condition; durable_rules holds at most 511 (beyond, it "
        "hangs or fails with error code 106); crmkit runs it on the compiled backend instead"
    )
