"""``crmkit demo``: a demo tenant built from sample data shipped in the package."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from crmkit.cli.output import coloured, console, print_json
from crmkit.errors import ConfigError
from crmkit.templating import render_pack_template

DEMO_FILE = "crmkit-demo.db"
DEMO_TENANT = "demo"


def _sample(name: str) -> Any:
    return json.loads(files("crmkit.demo_data").joinpath(name).read_text("utf-8"))


def run_demo(db: str | None, as_json: bool) -> None:
    """Build the demo in ``db`` (which must be fresh) or in ./crmkit-demo.db (recreated)."""
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
    tenant = crm.configure_tenant(DEMO_TENANT, ["17hats"])
    for contact in _sample("contacts.json"):
        tenant.add_contact(contact, actor="demo")
    summary = tenant.ingest(_sample("events.json"))
    contacts = tenant.list_contacts()
    facet = next(f for f in tenant.facet_table() if f["name"] == "contact_type")
    colours = {v["name"]: v["colour"] for v in facet["values"]}
    labels = {v["name"]: v["label"] for v in facet["values"]}
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
        pack = tenant.runtime(conn).packs[0]
    sentence = render_pack_template(
        pack,
        "contact_card.txt.j2",
        contact=chosen.model_dump(),
        type_label=labels[chosen.facets["contact_type"]],
        reason=f"rule {last.cause} fired on event {last.event_id}",
    ).strip()
    if as_json:
        print_json(
            {
                "database": db,
                "tenant": DEMO_TENANT,
                "summary": summary,
                "contacts": contacts,
                "explained": {"contact": explained_id, "transitions": transitions},
            }
        )
        return
    console.rule(f"crmkit demo: tenant {DEMO_TENANT!r} with pack 17hats")
    table = Table("id", "name", "account", "contact type", title="contacts after the sample events")
    for c in contacts:
        value = c.facets["contact_type"]
        table.add_row(
            str(c.id),
            f"{c.first_name} {c.last_name}",
            c.account or "-",
            coloured(labels[value], colours[value]),
        )
    console.print(table)
    counts = Counter(c.facets["contact_type"] for c in contacts)
    line = Text("by type: ")
    for i, (value, count) in enumerate(sorted(counts.items())):
        if i:
            line.append(", ")
        line.append_text(coloured(f"{labels[value]} {count}", colours[value]))
    console.print(line)
    console.print(
        f"{summary.total} sample events: {summary.applied} applied, "
        f"{summary.changes} automatic changes"
    )
    console.rule(f"why is contact {explained_id} a {labels[chosen.facets['contact_type']]}?")
    for t in transitions:
        console.print(
            Text.assemble(
                f"  {t.at:%Y-%m-%d %H:%M}  ",
                coloured(t.old or "-", colours.get(t.old or "", "grey")),
                " -> ",
                coloured(t.new or "-", colours.get(t.new or "", "grey")),
                f"  by {t.cause}" + (f" (event {t.event_id})" if t.event_id else ""),
            )
        )
    console.print(sentence)
    console.print(f"\nexplore it: crmkit --db {db} --tenant {DEMO_TENANT} contact list")
