"""``crmkit demo``: a demo tenant built from sample data shipped in the package.

It composes the three first-party packs (17hats, funnel, contacts), runs the sample
events through their rules, and shows the result.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from crmkit.cli.output import coloured, console, facet_colours, line, print_json
from crmkit.errors import ConfigError
from crmkit.templating import render_pack_template

DEMO_FILE = "crmkit-demo.db"
DEMO_TENANT = "demo"
DEMO_PACKS = ["17hats", "funnel", "contacts"]


def _sample(name: str) -> Any:
    return json.loads(files("crmkit.demo_data").joinpath(name).read_text("utf-8"))


def run_demo(db: str | None, as_json: bool) -> None:
    """Build the demo in ``db`` (which must be fresh) or in ./crmkit-demo.db (recreated)."""
    from crmkit_contacts.groups import Groups
    from crmkit_contacts.segments import Segments

    from crmkit.core import CRM

    if db is None:
        path = Path(DEMO_FILE)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = f"sqlite:///{path}"
    crm = CRM(db)
    crm.migrate()
    if crm.tenant_names():
        raise ConfigError(f"the demo needs a fresh database, and {db!r} already has tenants")
    tenant = crm.configure_tenant(DEMO_TENANT, DEMO_PACKS)
    for contact in _sample("contacts.json"):
        tenant.add_contact(contact, actor="demo")
    summary = tenant.ingest(_sample("events.json"))
    groups = Groups(tenant)
    groups.create("Aerospace", "contacts in aerospace")
    groups.add_matching("Aerospace", 'contact.industry == "Aerospace"')
    Segments(tenant).save("web leads", 'contact.lead_source == "web" and contact.role == lead')
    contacts = tenant.list_contacts()
    colours = facet_colours(tenant)
    labels = {f["name"]: {v["name"]: v["label"] for v in f["values"]} for f in tenant.facet_table()}
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
    aerospace = [c.first_name for c in groups.members("Aerospace")]
    web_leads = [c.first_name for c in Segments(tenant).run("web leads")]
    if as_json:
        print_json(
            {
                "database": db,
                "tenant": DEMO_TENANT,
                "packs": DEMO_PACKS,
                "summary": summary,
                "contacts": contacts,
                "groups": {"Aerospace": aerospace},
                "segments": {"web leads": web_leads},
                "explained": {"contact": explained_id, "transitions": transitions},
            }
        )
        return
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
    console.print(f"group Aerospace (from a filter): {', '.join(aerospace)}", markup=False)
    console.print(f"segment 'web leads' (evaluated now): {', '.join(web_leads)}", markup=False)
    console.rule(
        f"why is contact {explained_id} a {labels['contact_type'][chosen.facets['contact_type']]}?"
    )
    for t in transitions:
        console.print(
            line(
                f"  {t.at:%Y-%m-%d %H:%M}  ",
                coloured(t.old or "-", colours["contact_type"].get(t.old or "", "grey")),
                " -> ",
                coloured(t.new or "-", colours["contact_type"].get(t.new or "", "grey")),
                f"  by {t.cause}" + (f" (event {t.event_id})" if t.event_id else ""),
            )
        )
    console.print(sentence, markup=False)
    console.print(
        f"\nexplore it: crmkit --db {db} --tenant {DEMO_TENANT} contact list", markup=False
    )
