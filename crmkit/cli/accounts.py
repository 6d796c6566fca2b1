"""``crmkit account`` and ``crmkit project``: companies, and projects that relate
contacts with a role."""

from __future__ import annotations

import click
from rich.table import Table

from crmkit.cli.context import JSON_OPTION, current_tenant, fail, pairs
from crmkit.cli.output import console, print_json


@click.group()
def account() -> None:
    """Accounts (companies) and their contacts."""


@account.command("add")
@click.argument("name")
@JSON_OPTION
def account_add(name: str, as_json: bool) -> None:
    """Create an account (or find the existing one of that name)."""
    account_id = current_tenant().add_account(name)
    if as_json:
        print_json({"id": account_id, "name": name})
    else:
        console.print(f"account {account_id}: {name}", markup=False)


@account.command("list")
@JSON_OPTION
def account_list(as_json: bool) -> None:
    """Accounts by name with their contacts."""
    tenant = current_tenant()
    accounts = tenant.list_accounts()
    if as_json:
        print_json(accounts)
        return
    table = Table("id", "account", tenant.noun(plural=True))
    for a in accounts:
        table.add_row(str(a["id"]), a["name"], ", ".join(map(str, a["contacts"])) or "-")
    console.print(table)


@click.group()
def project() -> None:
    """Projects: a primary contact plus related contacts with a role."""


@project.command("add")
@click.argument("name")
@click.option("--primary", "primary", type=int, required=True, help="The primary contact id.")
@click.option("--related", "related", multiple=True, metavar="ID=ROLE", help="Repeatable.")
@JSON_OPTION
def project_add(name: str, primary: int, related: tuple[str, ...], as_json: bool) -> None:
    """Create a project."""
    given = pairs(related, "--related")
    try:
        roles = {int(cid): role for cid, role in given.items()}
    except ValueError:
        fail("--related takes CONTACT_ID=ROLE, e.g. --related 7=planner")
    tenant = current_tenant()
    created = tenant.get_project(tenant.add_project(name, primary, roles))
    if as_json:
        print_json(created)
    else:
        console.print(f"project {created['id']}: {name}", markup=False)


@project.command("relate")
@click.argument("project_id", type=int)
@click.argument("contact_id", type=int)
@click.argument("role")
def project_relate(project_id: int, contact_id: int, role: str) -> None:
    """Relate a contact to a project with a role label."""
    current_tenant().add_related(project_id, contact_id, role)
    console.print(f"contact {contact_id} is {role} on project {project_id}", markup=False)


@project.command("show")
@click.argument("project_id", type=int)
@JSON_OPTION
def project_show(project_id: int, as_json: bool) -> None:
    """One project with its contacts."""
    found = current_tenant().get_project(project_id)
    if as_json:
        print_json(found)
        return
    console.print(f"project {found['id']}: {found['name']}", markup=False)
    console.print(f"  primary contact {found['primary_contact']}", markup=False)
    for r in found["related"]:
        console.print(f"  related contact {r['contact']} ({r['role']})", markup=False)


@project.command("list")
@click.option("--contact", "contact_id", type=int, help="Only projects this contact is on.")
@JSON_OPTION
def project_list(contact_id: int | None, as_json: bool) -> None:
    """Projects, optionally those of one contact."""
    found = current_tenant().list_projects(contact_id)
    if as_json:
        print_json(found)
        return
    table = Table("id", "project", "primary", "related")
    for p in found:
        related = ", ".join(f"{r['contact']} ({r['role']})" for r in p["related"])
        table.add_row(str(p["id"]), p["name"], str(p["primary_contact"]), related or "-")
    console.print(table)
