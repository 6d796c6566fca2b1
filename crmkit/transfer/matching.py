"""Which contact an import row is, when no match key is given (``--match auto``).

A row is the contact that has, in this order:

1. one of the row's emails, as its own email or as one of its other emails;
2. one of the row's phones (in E.164), the same way;
3. for a row with no email and no phone only, the row's name and company, both
   compared without case, accents or extra spaces (a row without a company matches a
   contact without one). A row whose email or phone no contact has is a new person,
   whatever its name: two Anns with different emails are two people.

The first rule that finds a contact decides; among several contacts, the oldest active
one, else the oldest archived. Rows of one file find each other the same way, so a file
naming a person twice creates one contact.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Hashable, Iterable, Sequence

from sqlalchemy import Connection

from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import AccountRow, ContactRow, ContactValueRow
from crmkit.storage.scope import TenantScope

_C = ContactRow.__table__.c
_V = ContactValueRow.__table__.c
_A = AccountRow.__table__.c
Key = tuple[str, str]


def name_key(first: str | None, last: str | None, company: str | None) -> str | None:
    """A person's name and company as compared: folded case, no accents, single
    spaces, ``|`` between them; None without a name."""
    name = _plain(f"{first or ''} {last or ''}")
    if not name:
        return None
    return f"{name}|{_plain(company or '')}"


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def row_keys(
    emails: Iterable[str | None], phones: Iterable[str | None], name: str | None
) -> list[Key]:
    """A row's keys in the order they are tried."""
    keys: list[Key] = [("email", e) for e in emails if e]
    keys += [("phone", p) for p in phones if p]
    if name is not None and not keys:
        keys.append(("name", name))
    return keys


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), ROWS_PER_ROUND):
        yield values[start : start + ROWS_PER_ROUND]


def existing(
    conn: Connection, scope: TenantScope, keys: Iterable[Key], names: Iterable[str]
) -> dict[Hashable, int]:
    """The contact each key finds (the oldest active one, else the oldest archived).
    ``names``: the rows' first and last names as written, which pick the contacts whose
    names are compared."""
    wanted: dict[str, list[str]] = {"email": [], "phone": [], "name": []}
    for kind, value in dict.fromkeys(keys):
        wanted[kind].append(value)
    # (archived, id) per key, the smallest wins.
    best: dict[Key, tuple[bool, int]] = {}

    def offer(key: Key, archived: bool, contact_id: int) -> None:
        if key not in best or (archived, contact_id) < best[key]:
            best[key] = (archived, contact_id)

    for kind in ("email", "phone"):
        column = _C[kind]
        for chunk in _chunks(wanted[kind]):
            for contact_id, value, archived in conn.execute(
                scope.select(_C.id, column, _C.archived).where(one_of(conn, column, chunk))
            ):
                offer((kind, value), archived, contact_id)
            for contact_id, value, archived in conn.execute(
                scope.select(_V.contact_id, _V.value, _C.archived)
                .join(ContactRow, (_C.tenant_id == _V.tenant_id) & (_C.id == _V.contact_id))
                .where(_V.kind == kind, one_of(conn, _V.value, chunk))
            ):
                offer((kind, value), archived, contact_id)
    # Names: the contacts with a first or last name a row has, as written (an index
    # finds them; SQLite's lower() knows only ASCII), are compared here.
    keys_wanted = set(wanted["name"])
    written = sorted({name for name in names if name}) if keys_wanted else []
    for chunk in _chunks(written):
        for contact_id, first, last, company, archived in conn.execute(
            scope.select(_C.id, _C.first_name, _C.last_name, _A.name, _C.archived)
            .outerjoin(AccountRow, (_A.tenant_id == _C.tenant_id) & (_A.id == _C.account_id))
            .where(one_of(conn, _C.last_name, chunk) | one_of(conn, _C.first_name, chunk))
        ):
            key = name_key(first, last, company)
            if key in keys_wanted:
                offer(("name", key), archived, contact_id)
    return {key: contact_id for key, (_, contact_id) in best.items()}
