"""The kit for pack authors: the pytest plugin's fixtures, scenario files and
``crmkit rules test``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from crmkit import CRM, Tenant
from crmkit.clock import MovableClock
from crmkit.errors import SourceError
from crmkit.scenarios import ScenarioRunner, load_scenarios

FIRST_PARTY = ["17hats", "funnel", "contacts", "leadklozer", "clienttether"]


# ---------------------------------------------------------------- pytest plugin fixtures
def test_two_tenants_in_one_database_get_different_outcomes_from_the_same_events(
    crmkit_tenants: Callable[..., Tenant], crmkit_crm: CRM
) -> None:
    hats = crmkit_tenants("hats", ["17hats"])
    funnel = crmkit_tenants("funnel", ["funnel", "contacts"])
    outcomes = {}
    for tenant in (hats, funnel):
        contact = tenant.add_contact({"first_name": "Ada"})
        for kind in ("lead_form_submitted", "meeting_booked", "quote_accepted"):
            tenant.record_event(contact.id, kind)
        outcomes[tenant.name] = tenant.get_contact(contact.id).facets
    assert outcomes == {
        "hats": {"contact_type": "client"},
        "funnel": {"role": "client", "lead_status": "qualified"},
    }
    assert crmkit_crm.tenant_names() == ["funnel", "hats"]


@pytest.mark.crmkit_packs("17hats")
def test_the_marker_gives_the_tenant_its_packs_and_the_clock_moves(
    crmkit_tenant: Tenant, crmkit_clock: MovableClock
) -> None:
    contact = crmkit_tenant.add_contact({"first_name": "Ada"})
    crmkit_tenant.record_event(contact.id, "lead_form_submitted")
    crmkit_clock.advance(days=61)
    summary = crmkit_tenant.tick()
    assert summary.now == crmkit_clock()
    assert crmkit_tenant.get_contact(contact.id).facets == {"contact_type": "cold_prospect"}


def test_the_plugin_runs_in_a_users_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.crmkit_packs("funnel")
        def test_roles(crmkit_tenant):
            contact = crmkit_tenant.add_contact({"first_name": "Ada"})
            crmkit_tenant.record_event(contact.id, "meeting_booked")
            assert crmkit_tenant.get_contact(contact.id).facets["role"] == "prospect"

        def test_without_marker(crmkit_tenant):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*crmkit_tenant needs @pytest.mark.crmkit_packs*"])


# ---------------------------------------------------------------- scenario files
SCENARIO = """\
packs: [funnel]
scenarios:
  - name: an estimate makes a prospect
    given:
      ada: {}
    when:
      - {event: estimate_requested, contact: ada}
    then:
      ada: {facets: {role: prospect}}
  - name: a meeting makes a client
    given:
      bo: {}
    when:
      - {event: meeting_booked, contact: bo}
      - {advance: 2 days}
      - {event: meeting_booked, contact: bo}
    then:
      bo:
        facets: {role: client}
"""


def test_pytest_collects_scenario_files_and_reports_the_failing_step(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".scenarios.yaml", roles=SCENARIO)
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*roles.scenarios.yaml::an estimate makes a prospect PASSED*",
            "*roles.scenarios.yaml, line 17: scenario 'a meeting makes a client'",
            "*then bo: facet role",
            "*expected: client",
            "*got:      prospect",
            "*step 1 (line 14): event meeting_booked for bo",
            "*bo role: lead -> prospect by funnel@1.0.0:asking for an offer makes a prospect",
            "*step 3 (line 16): event meeting_booked for bo",
            "*(no changes)",
        ]
    )


def test_pytest_reports_a_malformed_scenario_file_with_its_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".scenarios.yaml", broken=SCENARIO.replace("contact: ada}", "contact: eve}"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*broken.scenarios.yaml, line 7: scenario 'an estimate makes a prospect': "
            "contact 'eve' is not in given (given: ada)*"
        ]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("packs: [funnel\n", r"x.yaml, line 2: not valid YAML"),
        ("- a\n", r"x.yaml, line 1: a scenario file is a mapping"),
        ("scenarios: []\n", r"x.yaml, line 1: packs: is required"),
        (SCENARIO.replace("given:", "givn:", 1), r"line 4: scenarios\[0\].givn: unknown key"),
        (
            SCENARIO.replace("{advance: 2 days}", "{advance: soon}"),
            r"line 15: scenario 'a meeting makes a client', when\[2\]: 'soon' is not a duration",
        ),
        (
            SCENARIO.replace("{advance: 2 days}", "{jump: 2}"),
            r"line 15: .*when\[2\]: unknown step 'jump'",
        ),
        (
            SCENARIO.replace("facets: {role: client}", "facets: {role: client}\n        mood: ok"),
            r"line 20: scenarios\[1\].then.bo.mood: unknown key",
        ),
        (
            SCENARIO.replace("ada: {facets: {role: prospect}}", "ada: {transitions: [oops]}"),
            r"line 9: .*'oops' is not 'NAME: OLD -> NEW'",
        ),
        (
            SCENARIO.replace(
                "name: a meeting makes a client", "name: an estimate makes a prospect"
            ),
            r"line 10: scenario 'an estimate makes a prospect' appears twice",
        ),
    ],
)
def test_a_malformed_scenario_file_names_the_line(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        load_scenarios(text, "x.yaml")


def test_a_scenario_that_cannot_start_names_its_line() -> None:
    bad_pack = SCENARIO.replace("packs: [funnel]", "packs: [nope]")
    bad_given = SCENARIO.replace("ada: {}", "ada: {email: not-an-email}")
    with ScenarioRunner() as runner:
        with pytest.raises(SourceError, match=r"x.yaml, line 3: .*unknown pack 'nope'"):
            runner.run(load_scenarios(bad_pack, "x.yaml")[0])
        with pytest.raises(SourceError, match=r"x.yaml, line 5: .*given ada: .*email"):
            runner.run(load_scenarios(bad_given, "x.yaml")[0])


@pytest.fixture(scope="module")
def runner() -> ScenarioRunner:
    with ScenarioRunner() as shared:
        yield shared


@pytest.mark.parametrize("pack_name", FIRST_PARTY)
def test_every_first_party_pack_ships_scenarios_that_pass_and_cover_its_rules(
    runner: ScenarioRunner, pack_name: str
) -> None:
    pack = runner.crm.packs.resolve(pack_name)
    assert pack.scenarios, f"{pack.ref} ships no scenario files"
    fired: set[str] = set()
    for source in pack.scenarios:
        for result in runner.run_file(source, f"{pack.ref}:{source.name}"):
            assert result.passed, result.message
            fired |= result.fired
    compiled = runner.crm.compiled(pack)
    rules = {f"{pack.ref}:{r.name}" for r in (*compiled.rules, *compiled.tick_rules)}
    assert rules - fired == set(), "rules no scenario exercises"


def test_given_values_may_be_rule_only_and_do_not_count_as_changes(
    runner: ScenarioRunner,
) -> None:
    text = """\
packs: [leadklozer]
scenarios:
  - name: second engagement
    given:
      ada: {facets: {status: new}, tags: [engaged], score: 7}
    when:
      - {event: engagement, contact: ada, data: {channel: sms, kind: reply}}
    then:
      ada:
        facets: {status: neutral}
        score: 10
        transitions:
          - {name: status, from: new, to: neutral, rule: a second engagement makes it neutral}
          - "score: 7 -> 15"
          - "score: 15 -> 10"
"""
    (result,) = [runner.run(s) for s in load_scenarios(text, "x.yaml")]
    assert result.passed, result.message


# ---------------------------------------------------------------- crmkit rules test
def test_rules_test_command_runs_files_and_packs(tmp_path: Path) -> None:
    from crmkit.cli.main import cli

    good = tmp_path / "good.scenarios.yaml"
    good.write_text(SCENARIO.split("  - name: a meeting")[0], encoding="utf-8")
    bad = tmp_path / "sub" / "bad.scenarios.yaml"
    bad.parent.mkdir()
    bad.write_text(SCENARIO, encoding="utf-8")
    runner = CliRunner()

    result = runner.invoke(cli, ["rules", "test", str(good)])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout and "1 passed, 0 failed" in result.stdout

    result = runner.invoke(cli, ["rules", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "2 passed, 1 failed" in result.stdout
    assert "expected: client" in result.stdout

    result = runner.invoke(cli, ["rules", "test", "--pack", "funnel"])
    assert result.exit_code == 0, result.output
    assert "funnel@1.0.0:roles.scenarios.yaml" in result.stdout
    assert "no scenario made these rules" not in result.stdout

    result = runner.invoke(cli, ["rules", "test", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "no such file or folder" in result.stderr
