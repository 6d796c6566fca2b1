"""The errors a newcomer to pack writing meets, each naming the file, the rule, the
problem and what to write instead; and checker findings a vendor acknowledges."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support import PackPlugin

from crmkit import CRM
from crmkit.rules.checker import check_packs, failing

AT = "deals@1.0.0:deals-1.0.0.yaml, line {line}, rule 'r'"


def problems_of(tmp_path: Path, text: str) -> list[str]:
    crm = CRM("sqlite://", plugins=[PackPlugin(tmp_path, {"deals": text})])
    return [str(p) for p in check_packs(crm, [crm.packs.resolve("deals")])]


def one_rule(when: str, *, extra: str = "", key: str = "when") -> str:
    return f"rules:\n  - name: r\n{extra}    {key}: {when}\n    then: [{{tag: x}}]\n"


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        pytest.param(
            one_rule("\"event.data.plan == 'pro'\""),
            3,
            'at column 20: strings are written in double quotes ("hot lead"), not single quotes',
            id="single-quotes",
        ),
        pytest.param(
            one_rule("contact.score => 5", extra="    trigger: tick\n"),
            4,
            "at column 15: unknown operator '=>' after contact.score (operators: ==, !=, <, "
            "<=, >, >=, in, not in, has, not has)",
            id="unknown-operator",
        ),
        pytest.param(
            one_rule("event.kind is signup"),
            3,
            "unknown operator 'is' after event.kind (operators: ==, !=,",
            id="unknown-word-operator",
        ),
        pytest.param(
            one_rule("event.kind == signup", key="condition"),
            3,
            "condition: unknown key (known keys: allow, description, name, priority, then, "
            "trigger, when); did you mean 'when'?",
            id="condition-not-when",
        ),
        pytest.param(
            one_rule(
                "contact.score > 1 and not had_event within {quiet_days} days",
                extra="    trigger: tick\n",
            ),
            4,
            "when: the setting placeholder {quiet_days} needs a default, used when a tenant "
            "has not set 'quiet_days': write {quiet_days:VALUE}, such as {quiet_days:30}",
            id="placeholder-without-default",
        ),
        pytest.param(
            one_rule("event.kind == signup", extra="    trigger: tick\n"),
            4,
            "event.kind: a tick rule looks at contacts, not at one event; test the contact's "
            "events inside had_event(...) (had_event(event.kind == X) within 7 days), or make "
            "it an event rule (without trigger: tick)",
            id="event-path-in-tick-rule",
        ),
        pytest.param(
            one_rule("event.kind == signup and not had_event within 7 days"),
            3,
            "had_event(...) reads the contact's event history, which an event rule does not "
            "see (it sees one event: test event.kind or event.data.NAME); use it in a tick "
            "rule (trigger: tick) or a search",
            id="had-event-in-event-rule",
        ),
    ],
)
def test_a_newcomers_mistake_gets_an_error_saying_what_to_do(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    (found,) = problems_of(tmp_path, text)
    assert found.startswith(AT.format(line=line) + ": "), found
    assert expected in found, found


CONFLICTING = """\
rules:
  - name: won
    when: event.kind == deal
    then: [{set: {stage: won}}]
  - name: archive deals
    when: event.kind == deal
    then: [{set: {stage: archived}}]
"""


def test_an_acknowledged_finding_is_shown_but_does_not_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmkit.cli.main import cli

    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path / 'crm.db'}")
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "name: deals\nversion: '1.0.0'\nfacets: [contact_type]\nrulesets: [deals.yaml]\n",
        encoding="utf-8",
    )
    ruleset = pack / "deals.yaml"
    conflicting = CONFLICTING.replace("stage: won", "contact_type: client").replace(
        "stage: archived", "contact_type: other"
    )
    ruleset.write_text(conflicting, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["rules", "check", str(pack)])
    assert result.exit_code == 1, result.output
    assert "conflict" in result.stdout and ": 1 problem" in result.stdout

    # Either rule of the pair may acknowledge it; the reason is shown.
    ruleset.write_text(
        conflicting + '    allow: [{conflict: "archiving wins, by priority order"}]\n',
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["rules", "check", str(pack)])
    assert result.exit_code == 0, result.output
    assert "(acknowledged: archiving wins, by priority order)" in result.stdout
    assert "no problems, 1 acknowledged" in result.stdout
    result = runner.invoke(cli, ["rules", "check", str(pack), "--json"])
    assert '"acknowledged": "archiving wins, by priority order"' in result.stdout

    # A finding acknowledged for another kind still fails.
    ruleset.write_text(conflicting + "    allow: [{never-fires: not this one}]\n", "utf-8")
    assert runner.invoke(cli, ["rules", "check", str(pack)]).exit_code == 1


@pytest.mark.parametrize(
    ("allow", "expected"),
    [
        ("[{conflict: ''}]", "allow item 1 (conflict) needs a reason: {conflict: why it is fine}"),
        ("[conflict]", "allow item 1 needs a reason: write {conflict: why it is fine}"),
        (
            "[{error: never mind}]",
            "allow item 1: 'error' is not a finding that can be acknowledged (kinds: "
            "conflict, never-fires, refused, unknown-facet, engine-limit)",
        ),
    ],
)
def test_an_acknowledgement_needs_a_known_kind_and_a_reason(
    tmp_path: Path, allow: str, expected: str
) -> None:
    (found,) = problems_of(tmp_path, CONFLICTING + f"    allow: {allow}\n")
    assert found.startswith("deals@1.0.0:deals-1.0.0.yaml, line 8, rule 'archive deals'"), found
    assert expected in found, found


def test_failing_leaves_out_acknowledged_findings(tmp_path: Path) -> None:
    def kinds(text: str) -> tuple[list[str], list[str]]:
        crm = CRM("sqlite://", plugins=[PackPlugin(tmp_path, {"deals": text})])
        found = check_packs(crm, [crm.packs.resolve("deals")])
        return [p.kind for p in found], [p.kind for p in failing(found)]

    assert "conflict" in kinds(CONFLICTING)[1]
    shown, failed = kinds(CONFLICTING + "    allow: [{conflict: reviewed}]\n")
    assert "conflict" in shown and "conflict" not in failed
