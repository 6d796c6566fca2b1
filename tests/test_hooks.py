"""Each hook does what docs/hooks.md says; every hook is documented and tested."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from support import PackPlugin, snapshot

from crmkit import CRM, hookimpl, hookspecs
from crmkit.errors import NotFoundError, PolicyError
from crmkit.rules.actions import ActionSpec, AddScore, Change, RuleContext, SetFacet

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("crmkit_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_signature_and_example(hook: str) -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {hook}\((.*?)\)(.*?)(?=^## |\Z)", docs, re.M | re.S)
    assert section, f"docs/hooks.md has no '## {hook}(...)' section"
    assert "```python" in section.group(2), f"{hook} has no example"
    assert re.search(r"\b(Called|called|Asked|run|runs)\b", section.group(2)), (
        f"{hook}: the docs do not say when it is called"
    )
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    # The packs' own tests (plugins/crmkit_<pack>/tests/) count too.
    tests = [*Path(__file__).parent.glob("test_*.py"), *ROOT.glob("plugins/*/tests/test_*.py")]
    sources = "".join(p.read_text(encoding="utf-8") for p in tests)
    assert f"def {hook}(" in sources, f"no test plugin implements {hook}"


def test_register_facets_packs_and_actions(db_url: str, tmp_path: Path) -> None:
    class Doubler:
        @hookimpl
        def crmkit_register_actions(self, register: Callable[[str, ActionSpec], None]) -> None:
            def parse(args: Any, schema: Any) -> int:
                if not isinstance(args, int):
                    raise ValueError("needs a whole number")
                return args

            def run(times: int, ctx: RuleContext) -> list[Change]:
                return [AddScore(ctx.contact["score"] * (times - 1) or 1)]

            register("multiply", ActionSpec(parse, run, "multiply the score"))

    rules = "rules:\n  - name: double\n    when: event.kind == boost\n    then: [{multiply: 2}]\n"
    crm = CRM(
        db_url, load_entry_points=False, plugins=[PackPlugin(tmp_path, {"boost": rules}), Doubler()]
    )
    crm.migrate()
    assert crm.actions.providers["multiply"] == "Doubler"
    assert crm.facets.providers["stage"] == "PackPlugin"
    assert crm.packs.providers["boost@1.0.0"] == "PackPlugin"
    tenant = crm.configure_tenant("t", ["boost"])
    contact = tenant.add_contact({"first_name": "A"}).id
    for _ in range(3):
        tenant.record_event(contact, "boost")
    assert tenant.get_contact(contact).score == 4


def test_guard_change_vetoes_on_every_path(db_url: str) -> None:
    calls: list[str] = []

    class NoClientsOnFriday:
        @hookimpl
        def crmkit_guard_change(
            self, tenant: str, contact_id: int, change: Change, cause_type: str
        ) -> str | None:
            calls.append(cause_type)
            if isinstance(change, SetFacet) and change.value == "client":
                return "no new clients today"
            return None

    crm = CRM(db_url, plugins=[NoClientsOnFriday()])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["17hats"])
    contact = tenant.add_contact({"first_name": "A", "facets": {"contact_type": "hot_lead"}}).id
    before = snapshot(crm)
    with pytest.raises(PolicyError, match="no new clients today"):
        tenant.set_facet(contact, "contact_type", "client")
    assert snapshot(crm) == before
    with pytest.raises(PolicyError, match="no new clients today"):
        tenant.record_event(contact, "invoice_sent")
    assert tenant.get_contact(contact).facets["contact_type"] == "hot_lead"
    assert set(calls) == {"manual", "rule"}


def test_notifications_after_commit(db_url: str) -> None:
    seen: list[tuple[str, Any]] = []

    class Listener:
        @hookimpl
        def crmkit_on_contact_created(self, tenant: str, contact: dict[str, Any]) -> None:
            seen.append(("created", (tenant, contact["first_name"], contact["facets"])))

        @hookimpl
        def crmkit_on_event_recorded(
            self, tenant: str, event: dict[str, Any], changes: list[dict[str, Any]]
        ) -> None:
            seen.append(("recorded", (event["id"], [c["new"] for c in changes])))

    crm = CRM(db_url, plugins=[Listener()])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["17hats"])
    contact = tenant.add_contact({"first_name": "Ada"}).id
    tenant.record_event(contact, "lead_form_submitted", id="e1")
    tenant.ingest([{"id": "e2", "contact": contact, "kind": "quote_accepted"}])
    assert seen == [
        ("created", ("t", "Ada", {"contact_type": "other"})),
        ("recorded", ("e1", ["hot_lead"])),
        ("recorded", ("e2", ["client"])),
    ]


def test_register_permits_refuses_an_event_before_anything_is_written(db_url: str) -> None:
    class NoMailOnSunday:
        @hookimpl
        def crmkit_register_permits(self, register: Callable[..., None]) -> None:
            def unsubscribed(tenant: str, contact: Mapping[str, Any]) -> str | None:
                return "the contact unsubscribed" if "unsubscribed" in contact["tags"] else None

            register("newsletter_sent", unsubscribed)

    crm = CRM(db_url, plugins=[NoMailOnSunday()])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["17hats"])
    contact = tenant.add_contact({"first_name": "A", "tags": ["unsubscribed"]}).id
    before = snapshot(crm)
    with pytest.raises(PolicyError, match="newsletter_sent refused: the contact unsubscribed"):
        tenant.record_event(contact, "newsletter_sent")
    assert snapshot(crm) == before
    assert tenant.record_event(contact, "lead_form_submitted").status == "applied"


def test_on_changes_runs_in_the_transaction_and_can_change_other_contacts(db_url: str) -> None:
    from crmkit.changes import ChangeContext
    from crmkit.rules.actions import AddTag

    class Referrals:
        """A client's referrer gets tagged, in the same transaction."""

        @hookimpl
        def crmkit_on_changes(
            self, tenant: str, transitions: list[dict[str, Any]], context: ChangeContext
        ) -> None:
            for t in transitions:
                if t["name"] == "contact_type" and t["new"] == "client":
                    referrer = context.settings.get("referrer")
                    context.apply([referrer], [AddTag("referred-a-client")], like=t)
                    context.notify(referrer, "thank_you", {"client": t["contact_id"]})

    crm = CRM(db_url, plugins=[Referrals()])
    crm.migrate()
    tenant = crm.configure_tenant("t", ["17hats"])
    referrer = tenant.add_contact({"first_name": "R"}).id
    client = tenant.add_contact({"first_name": "C", "facets": {"contact_type": "hot_lead"}}).id
    tenant.update_settings({"referrer": referrer})
    tenant.record_event(client, "invoice_sent", id="inv")
    assert tenant.get_contact(referrer).tags == ["referred-a-client"]
    [tag] = tenant.explain(referrer, "tags")
    assert (tag.cause, tag.event_id) == ("17hats@1.0.0:hot lead becomes a client", "inv")
    # A referrer that does not exist aborts the whole write: the event is not kept.
    tenant.update_settings({"referrer": 999})
    other = tenant.add_contact({"first_name": "D", "facets": {"contact_type": "hot_lead"}}).id
    before = snapshot(crm)
    with pytest.raises(NotFoundError, match="contact 999"):
        tenant.record_event(other, "invoice_sent")
    assert snapshot(crm) == before


def test_register_commands_adds_to_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import click
    from click.testing import CliRunner

    from crmkit.cli.context import CrmGroup, current_tenant

    @click.command("count")
    def count() -> None:
        """How many contacts."""
        click.echo(len(current_tenant().list_contacts()))

    class Counter:
        @hookimpl
        def crmkit_register_commands(self, cli: click.Group) -> None:
            cli.add_command(count)

    monkeypatch.setattr("crmkit.plugins.entry_points", lambda group: [], raising=True)
    from crmkit import plugins

    original = plugins.build_plugin_manager
    monkeypatch.setattr(plugins, "build_plugin_manager", lambda *a, **k: original([Counter()], **k))

    @click.group(cls=CrmGroup)
    @click.option("--db")
    @click.pass_context
    def app(ctx: click.Context, db: str) -> None:
        from crmkit.cli.context import Context

        ctx.obj = Context(db, "t", True)

    crm = CRM(f"sqlite:///{tmp_path / 'c.db'}", load_entry_points=False)
    crm.migrate()
    crm.configure_tenant("t", []).add_contact({"first_name": "A"})
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{tmp_path / 'c.db'}", "count"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1"


def test_on_tick_runs_with_the_ticks_time(db_url: str) -> None:
    from datetime import datetime, timezone

    from crmkit.changes import ChangeContext
    from crmkit.rules.actions import AddTag

    class Birthdays:
        @hookimpl
        def crmkit_on_tick(self, tenant: str, context: ChangeContext) -> None:
            if (context.now.month, context.now.day) == (12, 10):
                context.apply(
                    [1], [AddTag("birthday")], like={"cause_type": "manual", "actor": "birthdays"}
                )

    crm = CRM(db_url, plugins=[Birthdays()])
    crm.migrate()
    tenant = crm.configure_tenant("t", [])
    tenant.add_contact({"first_name": "Ada"})
    tenant.tick(datetime(2026, 12, 9, tzinfo=timezone.utc))
    assert tenant.get_contact(1).tags == []
    assert tenant.tick(datetime(2026, 12, 10, tzinfo=timezone.utc)).now.day == 10
    assert tenant.get_contact(1).tags == ["birthday"]
    assert tenant.explain(1)[-1].at == datetime(2026, 12, 10, tzinfo=timezone.utc)
