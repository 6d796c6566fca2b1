"""The pack kit tells a vendor the truth: what ``rules test`` and pytest run is the
pack in the folder, a pack version's scenarios test that version, and failures are loud."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from crmkit import Tenant, hookimpl, plugins
from crmkit.cli.main import cli
from crmkit.facets import Facet
from crmkit.manifests import load_pack
from crmkit.packs import Pack
from crmkit.scenarios import ScenarioRunner, load_scenarios
from crmkit.scenarios.outbox import CapturedMessages
from crmkit.testing.support import STAGE, invoker

MANIFEST = """\
name: deals
version: "{version}"
facets: [stage]
rulesets: [deals.yaml]
scenarios: [deals.scenarios.yaml]
"""

RULES = """\
rules:
  - name: a signature wins the deal
    when: event.kind == {kind} and contact.stage == open
    then:
      - set: {{stage: won}}
"""

SCENARIOS = """\
packs: [deals]
scenarios:
  - name: a signature wins the deal
    given:
      ada: {}
    when:
      - {event: contract_signed, contact: ada}
    then:
      ada: {facets: {stage: won}}
"""


def deals_folder(folder: Path, version: str, kind: str = "contract_signed") -> Path:
    folder.mkdir(parents=True)
    (folder / "pack.yaml").write_text(MANIFEST.format(version=version), encoding="utf-8")
    (folder / "deals.yaml").write_text(RULES.format(kind=kind), encoding="utf-8")
    (folder / "deals.scenarios.yaml").write_text(SCENARIOS, encoding="utf-8")
    return folder


class FolderPacks:
    """Installs the packs of manifest folders, as a vendor's plugin does."""

    def __init__(self, *folders: Path) -> None:
        self.folders = folders

    @hookimpl
    def crmkit_register_facets(self, register: Callable[[Facet], None]) -> None:
        register(STAGE)

    @hookimpl
    def crmkit_register_packs(self, register: Callable[[Pack], None]) -> None:
        for folder in self.folders:
            register(load_pack(folder))


class Inbox:
    """A real SMTP server's handler that keeps the recipients of what it receives."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.extend(envelope.rcpt_tos)
        return "250 accepted"


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[list[str], int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox.received, port
    finally:
        controller.stop()


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def install_plugin(plugin: object) -> None:
        original = plugins.build_plugin_manager
        monkeypatch.setattr(
            "crmkit.plugins.build_plugin_manager",
            lambda extra, **k: original([*extra, plugin], **k),
        )

    return install_plugin


def test_rules_test_runs_the_pack_in_the_folder_not_the_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install: Callable[..., None]
) -> None:
    installed = deals_folder(tmp_path / "installed", "1.0.0")
    install(FolderPacks(installed))
    work = tmp_path / "work"
    shutil.copytree(installed, work)
    invoke = invoker(f"sqlite:///{tmp_path / 'crm.db'}", monkeypatch, "acme")
    assert "1 passed, 0 failed" in invoke("rules", "test", str(work))
    # The vendor edits the rule in the working copy: the scenario must now fail.
    (work / "deals.yaml").write_text(RULES.format(kind="deal_closed"), encoding="utf-8")
    out = invoke("rules", "test", str(work), code=1, stdout=True)
    assert f"pack deals@1.0.0 (from {work})" in out
    assert "0 passed, 1 failed" in out
    # A scenario file named on its own belongs to the manifest beside it.
    out = invoke("rules", "test", str(work / "deals.scenarios.yaml"), code=1, stdout=True)
    assert "0 passed, 1 failed" in out
    # The installed pack still passes.
    assert "pack deals@1.0.0 (installed)" in invoke("rules", "test", "--pack", "deals")


def test_a_pack_versions_scenarios_run_against_that_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install: Callable[..., None]
) -> None:
    old = deals_folder(tmp_path / "v1", "1.0.0")
    # 2.0.0 wins deals on another event: 1.0.0's scenario fails against it.
    new = deals_folder(tmp_path / "v2", "2.0.0", kind="deal_closed")
    install(FolderPacks(old, new))
    invoke = invoker(f"sqlite:///{tmp_path / 'crm.db'}", monkeypatch, "acme")
    report = json.loads(invoke("rules", "test", "--pack", "deals@1.0.0", "--json"))
    assert report["failed"] == 0
    assert report["rules_not_exercised"] == {"deals@1.0.0": []}
    report = json.loads(invoke("rules", "test", str(old), "--json"))
    assert (report["failed"], report["packs"]) == (0, {"deals@1.0.0": str(old)})


def test_pytest_runs_a_pack_folders_scenarios_against_the_folder(
    pytester: pytest.Pytester,
) -> None:
    # A pack no plugin installs, on a facet an installed plugin (17hats) brings.
    pytester.makefile(
        ".yaml",
        pack='name: draft\nversion: "0.1.0"\nfacets: [contact_type]\nrulesets: [draft.yaml]\n'
        "scenarios: [draft.scenarios.yaml]\n",
        draft="rules:\n  - name: a form makes a client\n    when: event.kind == form\n"
        "    then:\n      - set: {contact_type: client}\n",
    )
    pytester.makefile(
        ".scenarios.yaml",
        draft="packs: [draft]\nscenarios:\n  - name: a form makes a client\n"
        "    given: {ada: {}}\n    when:\n      - {event: form, contact: ada}\n"
        "    then: {ada: {facets: {contact_type: client}}}\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


TEXTING = """\
rules:
  - name: a quote schedules a text
    when: event.kind == quote_sent
    then:
      - schedule: {kind: text, title: Follow up, in: 1 minutes, template: gone.txt.j2}
"""


def texting_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "pack.yaml").write_text(
        'name: texts\nversion: "1.0.0"\nfacets: [stage]\nrulesets: [texts.yaml]\n'
        "templates: templates\n",
        encoding="utf-8",
    )
    (folder / "texts.yaml").write_text(TEXTING, encoding="utf-8")
    (folder / "templates").mkdir()
    (folder / "templates" / "hello.txt.j2").write_text(
        "Hi {{ contact.name }},\n{% if contact.score %}you scored{% endfor %}\n", encoding="utf-8"
    )
    return folder


def test_rules_check_compiles_every_template_a_pack_ships_or_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install: Callable[..., None]
) -> None:
    folder = texting_folder(tmp_path / "texts")
    install(FolderPacks())
    invoke = invoker(f"sqlite:///{tmp_path / 'crm.db'}", monkeypatch, "acme")
    report = json.loads(invoke("rules", "check", str(folder), "--json", code=1, stdout=True))
    problems = {(p["kind"], p["where"], p["message"]) for p in report["problems"]}
    assert problems == {
        (
            "template",
            f"{folder / 'templates' / 'hello.txt.j2'}, line 2",
            "template 'hello.txt.j2' of pack texts@1.0.0 does not compile: Encountered "
            "unknown tag 'endfor'. Jinja was looking for the following tags: 'elif' or "
            "'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
        ),
        (
            "template",
            "texts@1.0.0:texts.yaml, line 2, rule 'a quote schedules a text'",
            "names template 'gone.txt.j2', which pack texts@1.0.0 does not ship",
        ),
    }


def test_tick_reports_failed_actions_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install: Callable[..., None]
) -> None:
    install(FolderPacks(texting_folder(tmp_path / "texts")))
    invoke = invoker(f"sqlite:///{tmp_path / 'crm.db'}", monkeypatch, "acme")
    invoke("init", "--packs", "texts")
    invoke("contact", "add", "--first-name", "Ada", "--phone", "+1 415 555 0100")
    invoke("event", "record", "--contact", "1", "--kind", "quote_sent")
    result = CliRunner().invoke(cli, ["tick", "--now", "2099-01-01T00:00:00Z"])
    assert result.exit_code == 1
    assert "0 changes; actions: 0 done, 1 failed, 0 cancelled" in result.stdout
    assert "failed: action 1 (contact 1): pack texts@1.0.0 has no template 'gone.txt.j2'" in (
        result.stderr
    )


WELCOME = """\
packs: [clienttether]
settings: {{smtp_host: 127.0.0.1, smtp_port: {port}, mail_from: team@acme-homes.com,
  sender_name: Acme}}
scenarios:
  - name: a web lead is welcomed by email
    given:
      ada: {{first_name: Ada, email: ada@example.com, phone: "+1 415 555 0100"}}
    when:
      - {{event: web_lead, contact: ada}}
      - tick
    then:
      ada:
        messages:
          - "text: Hi Ada*"
          - {{kind: email, subject: "Welcome to Acme, Ada", body: "Hi Ada,*within a day.*"}}
  - name: a wrong expectation shows what was sent
    given:
      bo: {{first_name: Bo, email: bo@example.com, phone: "+1 415 555 0101"}}
    when:
      - {{event: web_lead, contact: bo}}
      - tick
    then:
      bo:
        messages: ["text: Hello*"]
"""


def test_scenario_runs_capture_messages_and_never_send_them(
    smtp_inbox: tuple[list[str], int],
) -> None:
    received, port = smtp_inbox
    with ScenarioRunner() as runner:
        good, bad = (
            runner.run(s) for s in load_scenarios(WELCOME.format(port=port), "welcome.yaml")
        )
        assert [m.to for m in runner.messages] == [
            "+14155550100",
            "ada@example.com",
            "+14155550101",
            "bo@example.com",
        ]
    assert good.passed, good.message
    assert not bad.passed
    assert "then bo: messages" in bad.message
    assert "expected: ['text: Hello*']" in bad.message
    assert "got:      ['text to +14155550101: Hi Bo, thanks for reaching out" in bad.message
    assert "\"email to bo@example.com 'Welcome to Acme, Bo': Hi Bo,\"]" in bad.message
    assert received == []


@pytest.mark.crmkit_packs("clienttether")
def test_the_pytest_fixtures_capture_messages(
    crmkit_tenant: Tenant, crmkit_messages: CapturedMessages, smtp_inbox: tuple[list[str], int]
) -> None:
    received, port = smtp_inbox
    crmkit_tenant.update_settings(
        {"smtp_host": "127.0.0.1", "smtp_port": port, "mail_from": "team@acme-homes.com"}
    )
    ada = crmkit_tenant.add_contact({"first_name": "Ada", "email": "ada@example.com"})
    crmkit_tenant.send_email(ada.id, subject="Hello", body="Hi Ada")
    (message,) = crmkit_messages.to_contact(ada.id)
    assert (message.kind, message.subject, message.body) == ("email", "Hello", "Hi Ada")
    assert crmkit_tenant.messages(ada.id)[0].status == "sent"
    assert received == []


def test_a_broken_pack_does_not_take_the_others_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, install: Callable[..., None]
) -> None:
    deals = deals_folder(tmp_path / "deals", "1.0.0")
    shiny = deals_folder(tmp_path / "shiny", "1.0.0")
    manifest = (
        (shiny / "pack.yaml").read_text(encoding="utf-8").replace("name: deals", "name: shiny")
    )
    (shiny / "pack.yaml").write_text(manifest, encoding="utf-8")

    class Shiny(FolderPacks):
        @hookimpl
        def crmkit_register_facets(self, register: Callable[[Facet], None]) -> None:
            pass

    install(FolderPacks(deals))
    install(Shiny(shiny))
    invoke = invoker(f"sqlite:///{tmp_path / 'crm.db'}", monkeypatch, "acme")
    invoke("init", "--packs", "deals,shiny")
    invoke("--tenant", "other", "init", "--packs", "deals")
    # The vendor ships a manifest with a key crmkit does not know.
    (shiny / "pack.yaml").write_text(manifest + "colour: red\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--tenant", "other", "packs", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["deals"]["broken"] is None
    warning = result.stderr.replace("\n", " ")
    assert "the packs of plugin 'Shiny' could not be loaded:" in warning
    assert "pack.yaml, line 6: colour: unknown key" in warning
    assert "block the plugin with CRMKIT_BLOCK_PLUGINS=Shiny" in warning
    # Tenants without it work; the tenant that uses it gets an error naming it.
    invoke("--tenant", "other", "contact", "add", "--first-name", "Ada")
    error = invoke("contact", "list", code=1)
    assert "unknown pack 'shiny'" in error and "CRMKIT_BLOCK_PLUGINS=Shiny" in error
    # A pack on a facet no plugin registers is set aside by name.
    (shiny / "pack.yaml").write_text(manifest.replace("[stage]", "[mood]"), encoding="utf-8")
    error = invoke("contact", "list", code=1)
    assert "pack 'shiny' could not be loaded: pack shiny@1.0.0 (plugin 'Shiny') uses facet" in (
        error.replace("\n", " ")
    )


def test_event_record_prints_every_change_and_explain_says_what_the_event_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke = invoker(f"sqlite:///{tmp_path / 'crm.db'}", monkeypatch, "acme")
    invoke("init", "--packs", "leadklozer")
    invoke("contact", "add", "--first-name", "Ada")
    data = '{"channel": "facebook", "kind": "comment"}'
    out = invoke("event", "record", "--contact", "1", "--kind", "engagement", "--data", data)
    lines = out.splitlines()[1:]
    # The rules' three changes, and the points LeadKlozer's hook gives for the status.
    assert [line.split("  ")[2] for line in lines] == [
        "status: neutral -> new",
        "tags: - -> engaged",
        "score: 0 -> 5",
        "score: 5 -> 10",
    ]
    recorded = json.loads(
        invoke("event", "record", "--contact", "1", "--kind", "engagement", "--json")
    )
    # Back to neutral: the engagement's point, and the hook takes the status' 5 points back.
    assert [(c["name"], c["new"]) for c in recorded["changes"]] == [
        ("status", "neutral"),
        ("score", "11"),
        ("score", "6"),
    ]
    explained = invoke("explain", "1")
    assert '(engagement {"channel": "facebook", "kind": "comment"})' in explained
    rows = json.loads(invoke("explain", "1", "--json"))
    assert rows[0]["event_kind"] == "engagement"
    assert rows[0]["event_data"] == {"channel": "facebook", "kind": "comment"}
