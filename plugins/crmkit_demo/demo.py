"""``crmkit demo``: a demo tenant built from sample data shipped with this plugin.

It composes the three first-party packs (17hats, funnel, contacts), runs the sample
events through their rules, and shows the result.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
import pluggy
from crmkit_contacts.groups import Groups
from crmkit_contacts.segments import Segments
from rich.table import Table
from rich.text import Text

from crmkit.plugin_api import (
    CRM,
    JSON_OPTION,
    ConfigError,
    ContactOut,
    IngestSummary,
    Tenant,
    TransitionOut,
    coloured,
    console,
    current_context,
    facet_colours,
    line,
    print_json,
    render_pack_template,
)

DEMO_FILE = "crmkit-demo.db"
DEMO_TENANT = "demo"
DEMO_PACKS = ["17hats", "funnel", "contacts"]


def _sample(name: str) -> Any:
    return json.loads(files("crmkit_demo").joinpath("data").joinpath(name).read_text("utf-8"))


@click.command()
@JSON_OPTION
def demo(as_json: bool) -> None:
    """Build a demo tenant from sample data, run sample events, and show the result."""
    obj = current_context()
    run_demo(obj.db if obj.db_given else None, as_json, obj.plugin_manager)


@dataclass
class _Demo:
    """What the demo built and shows."""

    db: str
    tenant: Tenant
    summary: IngestSummary
    contacts: list[ContactOut]
    aerospace: list[str]
    web_leads: list[str]
    explained_id: int
    chosen: ContactOut
    transitions: list[TransitionOut]
    sentence: str


def run_demo(
    db: str | None, as_json: bool, plugin_manager: pluggy.PluginManager | None = None
) -> None:
    """Build the demo in ``db`` (which must be fresh) or in ./crmkit-demo.db (recreated),
    with the plugins of ``plugin_manager`` (default: the installed ones)."""
    if db is None:
        path = Path(DEMO_FILE)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = f"sqlite:///{path}"
    crm = CRM(db, plugin_manager=plugin_manager)
    crm.migrate()
    if crm.tenant_names():
        raise ConfigError(f"the demo needs a fresh database, and {db!r} already has tenants")
    built = _build(db, crm)
    if as_json:
        print_json(
            {
                "database": db,
                "tenant": DEMO_TENANT,
                "packs": DEMO_PACKS,
                "summary": built.summary,
                "contacts": built.contacts,
                "groups": {"Aerospace": built.aerospace},
                "segments": {"web leads": built.web_leads},
                "explained": {"contact": built.explained_id, "transitions": built.transitions},
            }
        )
    else:
        _print(built)


def _build(db: str, crm: CRM) -> _Demo:
    """The demo tenant with the sample contacts, events, a group and a segment."""
    tenant = crm.configure_tenant(DEMO_TENANT, DEMO_PACKS)
    for contact in _sample("contacts.json"):
        tenant.add_contact(contact, actor="demo")
    summary = tenant.ingest(_sample("events.json"))
    groups = Groups(tenant)
    groups.create("Aerospace", "contacts in aerospace")
    groups.add_matching("Aerospace", 'contact.industry == "Aerospace"')
    Segments(tenant).save("web leads", 'contact.lead_source == "web" and contact.role == lead')
    contacts = tenant.list_contacts()
    labels = _labels(tenant)
    # The explained contact: the first one a rule moved twice (hot lead, then client).
    explained_id = next(
        c.id
        for c in contacts
        if sum(t.cause_type == "rule" for t in tenant.explain(c.id, "contact_type")) >= 2
    )
    transitions = tenant.explain(explained_id, "contact_type")
    last = transitions[-1]
    chosen = tenant.get_contact(explained_id)
    with crm.db.connect() as conn:
        hats = tenant.runtime(conn).packs[0]
    sentence = render_pack_template(
        hats,
        "contact_card.txt.j2",
        contact=chosen.model_dump(),
        type_label=labels["contact_type"][chosen.facets["contact_type"]],
        reason=f"rule {last.cause} fired on event {last.event_id}",
    ).strip()
    return _Demo(
        db=db,
        tenant=tenant,
        summary=summary,
        contacts=contacts,
        aerospace=[c.first_name for c in groups.members("Aerospace")],
        web_leads=[c.first_name for c in Segments(tenant).run("web leads")],
        explained_id=explained_id,
        chosen=chosen,
        transitions=transitions,
        sentence=sentence,
    )


def _labels(tenant: Tenant) -> dict[str, dict[str, str]]:
    """Facet name to value name to the value's label."""
    return {f["name"]: {v["name"]: v["label"] for v in f["values"]} for f in tenant.facet_table()}


def _print(built: _Demo) -> None:
    """The demo as a person reads it: contacts, counts, and why one is what it is."""
    contacts, summary = built.contacts, built.summary
    colours = facet_colours(built.tenant)
    labels = _labels(built.tenant)
    console.rule(f"crmkit demo: tenant {DEMO_TENANT!r} with packs {', '.join(DEMO_PACKS)}")
    facets = ["contact_type", "role", "lead_status"]
    table = Table("id", "name", "account", *facets, title="contacts after the sample events")
    for c in contacts:
        table.add_row(
            str(c.id),
            f"{c.first_name} {c.last_name}",
            c.account or "-",
            *(coloured(labels[f][c.facets[f]], colours[f][c.facets[f]]) for f in facets),
        )
    console.print(table)
    counts = Counter(c.facets["contact_type"] for c in contacts)
    by_type = Text("by type: ")
    for i, (value, count) in enumerate(sorted(counts.items())):
        if i:
            by_type.append(", ")
        by_type.append_text(
            coloured(f"{labels['contact_type'][value]} {count}", colours["contact_type"][value])
        )
    console.print(by_type)
    console.print(
        f"{summary.total} sample events: {summary.applied} applied, "
        f"{summary.changes} automatic changes",
        markup=False,
    )
    console.print(f"group Aerospace (from a filter): {', '.join(built.aerospace)}", markup=False)
    console.print(
        f"segment 'web leads' (evaluated now): {', '.join(built.web_leads)}", markup=False
    )
    _print_explained(built, colours["contact_type"], labels["contact_type"])
    console.print(
        f"\nexplore it: crmkit --db {built.db} --tenant {DEMO_TENANT} contact list", markup=False
    )


def _print_explained(built: _Demo, colours: dict[str, str], labels: dict[str, str]) -> None:
    """Why the explained contact has its contact type: each change, then the card."""
    kind = labels[built.chosen.facets["contact_type"]]
    console.rule(f"why is contact {built.explained_id} a {kind}?")
    for t in built.transitions:
        console.print(
            line(
                f"  {t.at:%Y-%m-%d %H:%M}  ",
                coloured(t.old or "-", colours.get(t.old or "", "grey")),
                " -> ",
                coloured(t.new or "-", colours.get(t.new or "", "grey")),
                f"  by {t.cause}" + (f" (event {t.event_id})" if t.event_id else ""),
            )
        )
    console.print(built.sentence, markup=False)
