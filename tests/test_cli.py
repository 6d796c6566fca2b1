"""The crmkit command line, run in-process with click's runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from support import invoker

from crmkit import hookimpl
from crmkit.cli.main import cli


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    invoke = invoker(db_url, monkeypatch, "acme")
    invoke("init", "--packs", "17hats")
    return invoke


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = [
        [],
        ["init"],
        ["contact"],
        ["contact", "add"],
        ["contact", "show"],
        ["contact", "list"],
        ["contact", "set"],
        ["event"],
        ["event", "record"],
        ["ingest"],
        ["explain"],
        ["packs"],
        ["facets"],
        ["colour"],
        ["tenants"],
        ["demo"],
    ]
    for command in commands:
        result = runner.invoke(cli, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, command


def test_add_show_set_and_explain(run) -> None:  # type: ignore[no-untyped-def]
    added = json.loads(
        run(
            "contact",
            "add",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--account",
            "Engines",
            "--facet",
            "contact_type=hot_lead",
            "--json",
        )
    )
    shown = json.loads(run("contact", "show", str(added["id"]), "--json"))
    assert {
        k: shown[k]
        for k in (
            "first_name",
            "last_name",
            "email",
            "account",
            "facets",
            "score",
            "tags",
            "fields",
            "archived",
        )
    } == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "account": "Engines",
        "facets": {"contact_type": "hot_lead"},
        "score": 0.0,
        "tags": [],
        "fields": {},
        "archived": False,
    }
    recorded = json.loads(
        run(
            "event",
            "record",
            "--contact",
            "1",
            "--kind",
            "invoice_sent",
            "--id",
            "inv-1",
            "--data",
            '{"amount": 120}',
            "--at",
            "2026-05-02T10:00:00Z",
            "--json",
        )
    )
    assert recorded["changes"][0]["new"] == "client"
    assert recorded["occurred_at"].startswith("2026-05-02T10:00:00")
    steps = json.loads(run("explain", "1", "contact_type", "--json"))
    assert [(s["new"], s["cause"], s["event_id"]) for s in steps] == [
        ("hot_lead", "manual (cli)", None),
        ("client", "17hats@1.0.0:hot lead becomes a client", "inv-1"),
    ]
    assert "hot lead becomes a client" in run("explain", "1")
    assert "client" in run("contact", "set", "1", "contact_type", "other")


def test_refusals_exit_1_with_one_line_on_stderr(run) -> None:  # type: ignore[no-untyped-def]
    run("contact", "add", "--first-name", "Ada")

    def state() -> dict[str, object]:
        shown = json.loads(run("contact", "show", "1", "--json"))
        del shown["history"]  # the accepted event "dup" is part of it
        return dict(shown)

    before = state()
    error = run("contact", "set", "1", "contact_type", "vip", code=1)
    assert error.count("\n") == 1 and error.startswith("error: 'vip' is not a value")
    run("event", "record", "--contact", "1", "--kind", "x", "--id", "dup")
    assert "already recorded" in run(
        "event", "record", "--contact", "1", "--kind", "x", "--id", "dup", code=1
    )
    assert "contact 9 does not exist" in run(
        "event", "record", "--contact", "9", "--kind", "x", code=1
    )
    assert "--data is not JSON" in run(
        "event", "record", "--contact", "1", "--kind", "x", "--data", "{", code=1
    )
    assert "fixed" in run("colour", "contact_type", "client", "red", code=1)
    assert "unknown pack 'nope'" in run("init", "--packs", "nope", code=1)
    assert state() == before


def test_list_with_where_and_json(run) -> None:  # type: ignore[no-untyped-def]
    run("contact", "add", "--first-name", "Ada", "--facet", "contact_type=client")
    run("contact", "add", "--first-name", "Bob")
    listed = json.loads(
        run("contact", "list", "--where", "contact.contact_type == client", "--json")
    )
    assert [c["first_name"] for c in listed] == ["Ada"]
    assert "2 contacts" in run("contact", "list")
    assert "unknown path" in run("contact", "list", "--where", "contact.nope == 1", code=1)


def test_ingest_a_jsonl_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("contact", "add", "--first-name", "Ada")
    run("contact", "add", "--first-name", "Bob")
    lines = [
        {"id": "a1", "contact": 1, "kind": "lead_form_submitted", "at": "2026-05-01T08:00:00Z"},
        {"id": "a2", "contact": 1, "kind": "contract_signed", "data": {"n": 1}},
        {"id": "b1", "contact": 2, "kind": "lead_form_submitted"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    summary = json.loads(run("ingest", str(path), "--json"))
    assert (summary["applied"], summary["changes"]) == (3, 3)
    assert "3 skipped" in run("ingest", str(path), "--no-progress")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "c1", "contact": 2, "kind": "invoice_sent"}\n{oops\n', encoding="utf-8")
    assert "line 2: not JSON" in run("ingest", str(bad), "--no-progress", code=1)
    facets = [json.loads(run("contact", "show", str(i), "--json"))["facets"] for i in (1, 2)]
    assert facets == [{"contact_type": "client"}, {"contact_type": "client"}]


def test_packs_facets_and_tenants(run) -> None:  # type: ignore[no-untyped-def]
    packs = json.loads(run("packs", "--json"))
    hats = next(p for p in packs if p["name"] == "17hats")
    assert (hats["version"], hats["used_by_tenant"], hats["rules"]) == ("1.0.0", True, 4)
    facets = json.loads(run("facets", "--json"))
    assert [f["name"] for f in facets] == ["contact_type"]
    assert json.loads(run("tenants", "--json")) == ["acme"]


def test_demo_builds_a_tenant_and_explains_a_transition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMKIT_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Hot Lead" in result.output and "Client" in result.output
    assert "hot lead becomes a client" in result.output
    assert (tmp_path / "crmkit-demo.db").exists()
    again = runner.invoke(cli, ["demo", "--json"], catch_exceptions=False)
    data = json.loads(again.stdout)
    assert data["summary"]["applied"] == 13
    assert data["packs"] == ["17hats", "funnel", "contacts"]
    assert data["groups"] == {"Aerospace": ["Katherine", "Margaret"]}
    assert data["segments"] == {"web leads": ["Alan", "Barbara"]}
    facets = {c["first_name"]: c["facets"] for c in data["contacts"]}
    assert facets["Grace"] == {
        "contact_type": "client",
        "role": "client",
        "lead_status": "converted",
    }
    assert data["explained"]["transitions"][-1]["new"] == "client"


@pytest.fixture
def studio(db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    monkeypatch.setenv("CRMKIT_DATABASE_URL", db_url)
    monkeypatch.setenv("CRMKIT_TENANT", "studio")

    def invoke(*args: str, code: int = 0, input: str | None = None) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False, input=input)
        assert result.exit_code == code, result.output + result.stderr
        return result.stdout if code == 0 else result.stderr

    invoke("init", "--packs", "17hats,funnel,contacts")
    return invoke


def test_pack_commands_for_pages_groups_segments_and_conversion(studio) -> None:  # type: ignore[no-untyped-def]
    studio(
        "contact",
        "add",
        "--first-name",
        "bob",
        "--industry",
        "Retail",
        "--city",
        "Leeds",
        "--facet",
        "contact_type=client",
    )
    studio(
        "contact",
        "add",
        "--first-name",
        "Ada",
        "--industry",
        "Aerospace",
        "--lead-source",
        "web",
        "--facet",
        "contact_type=hot_lead",
    )
    page = json.loads(studio("17hats", "contacts", "--json"))
    assert [(g["letter"], [c["first_name"] for c in g["contacts"]]) for g in page] == [
        ("A", ["Ada"]),
        ("B", ["bob"]),
    ]
    assert "Ada" in studio("17hats", "contacts", "--type", "hot_lead")
    leads = json.loads(studio("17hats", "leads", "--json"))
    assert [c["first_name"] for c in leads["new"]] == ["Ada"]
    assert [
        c["first_name"] for c in json.loads(studio("17hats", "leads", "--all", "--json"))["all"]
    ] == ["Ada"]
    studio("group", "create", "Aero")
    assert (
        json.loads(
            studio("group", "add", "Aero", "--where", 'contact.industry == "Aerospace"', "--json")
        )["added"]
        == 1
    )
    studio("group", "add", "Aero", "1")
    assert [g["members"] for g in json.loads(studio("group", "list", "--json"))] == [2]
    assert [c["first_name"] for c in json.loads(studio("group", "members", "Aero", "--json"))] == [
        "bob",
        "Ada",
    ]
    assert "group 'Nope' does not exist" in studio("group", "add", "Nope", "1", code=1)
    studio("segment", "save", "web", 'contact.lead_source == "web"')
    assert [c["first_name"] for c in json.loads(studio("segment", "run", "web", "--json"))] == [
        "Ada"
    ]
    assert "ends too early" in studio("segment", "save", "bad", "contact.city ==", code=1)
    assert "saved search 'nope' does not exist" in studio("segment", "run", "nope", code=1)
    converted = json.loads(studio("lead", "convert", "2", "--json"))
    assert {c["name"]: c["new"] for c in converted["changes"]} == {
        "contact_type": "client",
        "role": "client",
        "lead_status": "converted",
    }
    listed = json.loads(studio("contact", "list", "--location", "Leeds", "--json"))
    assert [c["first_name"] for c in listed] == ["bob"]
    assert (
        json.loads(studio("contact", "list", "--facet", "lead_status=converted", "--json"))[0][
            "first_name"
        ]
        == "Ada"
    )
    studio("noun", "Patient")
    assert "2 Patients" in studio("contact", "list")


def test_funnel_commands_portal_permissions_and_company_first(studio) -> None:  # type: ignore[no-untyped-def]
    studio(
        "contact",
        "add",
        "--first-name",
        "Ada",
        "--email",
        "ada@example.com",
        "--account",
        "Engines",
    )
    studio("contact", "add", "--first-name", "Bob", "--account", "Engines")
    assert (
        json.loads(studio("portal", "status", "1", "--json"))["reason"]
        == "a lead has no portal login"
    )
    assert "invoice_sent refused" in studio(
        "event", "record", "--contact", "1", "--kind", "invoice_sent", code=1
    )
    assert json.loads(studio("funnel", "can", "1", "invoice_sent", "--json"))["allowed"] is False
    studio("contact", "set", "1", "role", "client")
    assert "'client' to 'lead' is refused" in studio("contact", "set", "1", "role", "lead", code=1)
    invite = json.loads(studio("portal", "invite", "1", "--json"))
    studio(
        "portal",
        "set-password",
        invite["username"],
        "--token",
        invite["token"],
        "--password",
        "correct horse",
    )
    assert "ok: ada@example.com is contact 1" in studio(
        "portal", "login", "ada@example.com", "--password", "correct horse"
    )
    assert "wrong username or password" in studio(
        "portal", "login", "ada@example.com", "--password", "nope nope", code=1
    )
    assert "not in Company First mode" in studio(
        "funnel", "convert-account", "Engines", "client", code=1
    )
    studio("settings", "set", "company_first", "true")
    assert json.loads(studio("settings", "show", "--json"))["company_first"] is True
    studio("contact", "add", "--first-name", "Cy", "--account", "Orbit")
    changes = json.loads(studio("funnel", "convert-account", "Orbit", "prospect", "--json"))
    assert [c["new"] for c in changes] == ["prospect"]
    accounts = json.loads(studio("account", "list", "--json"))
    assert [(a["name"], a["contacts"]) for a in accounts] == [("Engines", [1, 2]), ("Orbit", [3])]


def test_project_commands(studio) -> None:  # type: ignore[no-untyped-def]
    studio("contact", "add", "--first-name", "Ada", "--facet", "role=client")
    studio("contact", "add", "--first-name", "Pia")
    created = json.loads(
        studio("project", "add", "Wedding", "--primary", "1", "--related", "2=planner", "--json")
    )
    assert created["related"] == [{"contact": 2, "role": "planner"}]
    assert "only a client may receive being assigned to a project" in studio(
        "project", "add", "Shoot", "--primary", "2", code=1
    )
    assert [
        p["name"] for p in json.loads(studio("project", "list", "--contact", "2", "--json"))
    ] == ["Wedding"]
    assert json.loads(studio("project", "show", "1", "--json"))["primary_contact"] == 1


def test_search_tick_and_leadklozer_commands(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run = invoker(db_url, monkeypatch, "lk")
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    recently = (now - timedelta(days=2)).isoformat()
    later = (now + timedelta(days=60)).isoformat()
    run("init", "--packs", "leadklozer")
    run("contact", "add", "--first-name", "Ada")
    run("contact", "add", "--first-name", "Bob", "--facet", "status=hot")
    run(
        "event",
        "record",
        "--contact",
        "1",
        "--kind",
        "engagement",
        "--data",
        '{"channel": "facebook", "kind": "comment"}',
        "--at",
        recently,
    )
    found = json.loads(
        run(
            "search",
            "contact.status == new and engaged(event.data.channel == facebook) within 14 days",
            "--save",
            "fb",
            "--json",
        )
    )
    assert [c["first_name"] for c in found] == ["Ada"]
    assert [c["first_name"] for c in json.loads(run("search", "--saved", "fb", "--json"))] == [
        "Ada"
    ]
    assert [s["name"] for s in json.loads(run("search", "--list", "--json"))] == ["fb"]
    page = json.loads(run("search", "contact.id > 0", "--limit", "1", "--offset", "1", "--json"))
    assert [c["first_name"] for c in page] == ["Bob"]
    assert "at column" in run("search", "engaged(event.data.channel == )", code=1)
    summary = json.loads(run("tick", "--now", later, "--json"))
    assert summary["now"][:10] == later[:10] and summary["changes"] >= 1
    # Score aging is the plugin's tick work, and the summary counts it by rule.
    assert any(label.endswith(":smart score aging") for label in summary["by_rule"])
    assert [c["first_name"] for c in json.loads(run("leadklozer", "top10", "--json"))] == ["Bob"]
    score = json.loads(run("leadklozer", "score", "2", "--json"))
    assert score["stored"] == 20
    assert "--now 'soon' is not an ISO time" in run("tick", "--now", "soon", code=1)


def test_the_built_root_group_holds_crmkits_and_every_packs_commands() -> None:
    from crmkit.cli.main import build_cli

    names = set(build_cli().commands)
    assert {"init", "contact", "rules", "import", "demo", "settings"} <= names  # crmkit's
    assert {"17hats", "portal", "funnel", "group", "segment", "leadklozer"} <= names  # packs'


def test_a_run_loads_the_plugins_once_and_its_crm_uses_them(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One plugin manager per run: the commands come from it and the CRM is built on it."""
    from crmkit import plugins
    from crmkit.cli.context import current_crm

    built: list[object] = []
    original = plugins.build_plugin_manager

    def counting(*args: object, **kwargs: object) -> object:
        pm = original(*args, **kwargs)  # type: ignore[arg-type]
        built.append(pm)
        return pm

    seen: list[object] = []

    @click.command("which-plugins")
    def which_plugins() -> None:
        seen.append(current_crm().pm)

    class Probe:
        @hookimpl
        def crmkit_register_commands(self, cli: click.Group) -> None:
            cli.add_command(which_plugins)

    def with_probe(*args: object, **kwargs: object) -> object:
        pm = counting(*args, **kwargs)
        pm.register(Probe())  # type: ignore[attr-defined]
        return pm

    monkeypatch.setattr(plugins, "build_plugin_manager", with_probe)
    result = CliRunner().invoke(cli, ["--db", db_url, "which-plugins"])
    assert result.exit_code == 0, result.output
    assert len(built) == 1 and seen == built
