"""Command-line commands of the funnel pack: portal logins, permissions, account
conversion in Company First mode."""

from __future__ import annotations

import sys
from typing import IO

import click

from crmkit.plugin_api import JSON_OPTION, console, current_tenant, print_json
from crmkit_funnel.company import convert_account
from crmkit_funnel.portal import Portal
from crmkit_funnel.roles import refusal


@click.group()
def portal() -> None:
    """Portal logins of prospects and clients (funnel pack)."""


@portal.command("status")
@click.argument("contact_id", type=int)
@JSON_OPTION
def portal_status(contact_id: int, as_json: bool) -> None:
    """Whether a contact may log in to the portal, and why not."""
    status = Portal(current_tenant()).status(contact_id)
    if as_json:
        print_json(status)
        return
    verdict = "may log in" if status["may_log_in"] else f"may not log in: {status['reason']}"
    console.print(f"contact {contact_id} ({status['role']}): {verdict}", markup=False)


@portal.command("invite")
@click.argument("contact_id", type=int)
@JSON_OPTION
def portal_invite(contact_id: int, as_json: bool) -> None:
    """Issue a new set-password token (shown once; the previous one stops working)."""
    invitation = Portal(current_tenant()).invite(contact_id)
    if as_json:
        print_json(invitation)
        return
    console.print(
        f"username {invitation['username']}, token {invitation['token']} "
        f"(single use, expires {invitation['expires_at']:%Y-%m-%d %H:%M} UTC)",
        markup=False,
    )


@portal.command("set-password")
@click.argument("username")
@click.option(
    "--token-file",
    type=click.File("r", encoding="utf-8"),
    help="A file holding the set-password token ('-': standard input).",
)
@click.option(
    "--token",
    help="The token itself: other users see it in the process list, and it stays in "
    "the shell's history. Prefer --token-file, or give it when asked.",
)
@click.option("--password", help="The new password (asked for, hidden, when not given).")
def portal_set_password(
    username: str, token_file: IO[str] | None, token: str | None, password: str | None
) -> None:
    """Set a portal password with a set-password token (the token is then used up).

    The token is read from --token-file, else from standard input when that is not a
    terminal (its first line), else asked for without echo."""
    secret = _token(token_file, token)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    contact_id = Portal(current_tenant()).set_password(username, secret, password)
    console.print(f"password set for {username} (contact {contact_id})", markup=False)


def _token(token_file: IO[str] | None, token: str | None) -> str:
    if token_file is not None and token is not None:
        raise click.UsageError("give the token once: --token-file or --token, not both")
    if token is not None:
        click.echo(
            "warning: a token given with --token is visible in the process list and "
            "shell history; use --token-file or standard input",
            err=True,
        )
        return token.strip()
    if token_file is not None:
        return _first_line(token_file.readline(), token_file.name)
    stdin = sys.stdin
    if not stdin.isatty():
        return _first_line(stdin.readline(), "standard input")
    return str(click.prompt("Set-password token", hide_input=True)).strip()


def _first_line(line: str, where: str) -> str:
    token = line.strip()
    if not token:
        raise click.UsageError(f"no set-password token in {where}: its first line is empty")
    return token


@portal.command("login")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True)
def portal_login(username: str, password: str) -> None:
    """Check a username and password; exit 1 if the contact may not log in."""
    contact_id = Portal(current_tenant()).authenticate(username, password)
    console.print(f"ok: {username} is contact {contact_id}", markup=False)


@click.group()
def funnel() -> None:
    """Role permissions and Company First conversions (funnel pack)."""


@funnel.command("can")
@click.argument("contact_id", type=int)
@click.argument("activity")
@JSON_OPTION
def funnel_can(contact_id: int, activity: str, as_json: bool) -> None:
    """Whether a contact's role allows ACTIVITY (invoice_sent, estimate_sent, project...)."""
    tenant = current_tenant()
    role = tenant.get_contact(contact_id).facets.get("role")
    reason = refusal(role, activity) if role else None
    if as_json:
        print_json(
            {
                "contact": contact_id,
                "role": role,
                "activity": activity,
                "allowed": reason is None,
                "reason": reason,
            }
        )
        return
    console.print(
        f"{activity}: " + ("allowed" if reason is None else f"refused: {reason}"), markup=False
    )


@funnel.command("convert-account")
@click.argument("account")
@click.argument("role")
@click.option("--actor", default="cli", show_default=True)
@JSON_OPTION
def account_convert(account: str, role: str, actor: str, as_json: bool) -> None:
    """Convert every contact of an account to ROLE (Company First mode)."""
    changes = convert_account(current_tenant(), account, role, actor)
    if as_json:
        print_json(changes)
        return
    console.print(f"account {account}: {len(changes)} contact(s) now {role}", markup=False)
