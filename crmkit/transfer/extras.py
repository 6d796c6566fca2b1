"""What an import row brings besides the contact's own columns: its note, and the
person's other emails and phones.

Written set-wise, once per batch, after the batch's contacts. A note already on the
contact with the same text, or a value it already has, is not added again, so
importing a file twice adds them once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from crmkit.applying import allocate_ids
from crmkit.runtime import TenantRuntime
from crmkit.storage.lists import ROWS_PER_ROUND, one_of
from crmkit.storage.models import ContactRow, ContactValueRow, NoteRow
from crmkit.storage.scope import TenantScope

_N = NoteRow.__table__.c
_V = ContactValueRow.__table__.c
_C = ContactRow.__table__.c
# (contact, kind, value): one more email or phone of a contact.
Value = tuple[int, str, str]


def add_notes(
    conn: Connection,
    runtime: TenantRuntime,
    scope: TenantScope,
    notes: Sequence[tuple[int, str]],
    author: str | None,
    now: datetime,
) -> set[int]:
    """Add each (contact, text) note the contact does not have yet; return the
    contacts that got one."""
    if not notes:
        return set()
    contacts = sorted({contact_id for contact_id, _ in notes})
    present: set[tuple[int, str]] = set()
    for start in range(0, len(contacts), ROWS_PER_ROUND):
        chunk = contacts[start : start + ROWS_PER_ROUND]
        present.update(
            (contact_id, body)
            for contact_id, body in conn.execute(
                scope.select(_N.contact_id, _N.body).where(one_of(conn, _N.contact_id, chunk))
            )
        )
    wanted: list[tuple[int, str]] = []
    for note in notes:
        if note not in present:
            present.add(note)
            wanted.append(note)
    if not wanted:
        return set()
    first = allocate_ids(conn, runtime, len(wanted), "note")
    rows = [
        {"id": first + offset, "contact_id": contact_id, "body": body, "author": author}
        | {"created_at": now}
        for offset, (contact_id, body) in enumerate(wanted)
    ]
    conn.execute(scope.insert(NoteRow), scope.rows(rows))
    return {contact_id for contact_id, _ in wanted}


def add_values(conn: Connection, scope: TenantScope, values: Sequence[Value]) -> set[int]:
    """Keep each (contact, kind, value) the contact does not have yet (as its own email
    or phone, or as one more); return the contacts that got one."""
    if not values:
        return set()
    contacts = sorted({contact_id for contact_id, _, _ in values})
    present: set[Value] = set()
    for start in range(0, len(contacts), ROWS_PER_ROUND):
        chunk = contacts[start : start + ROWS_PER_ROUND]
        present.update(
            (contact_id, kind, value)
            for contact_id, kind, value in conn.execute(
                scope.select(_V.contact_id, _V.kind, _V.value).where(
                    one_of(conn, _V.contact_id, chunk)
                )
            )
        )
        for contact_id, email, phone in conn.execute(
            scope.select(_C.id, _C.email, _C.phone).where(one_of(conn, _C.id, chunk))
        ):
            present.update({(contact_id, "email", email), (contact_id, "phone", phone)})
    wanted = []
    for value in values:
        if value not in present:
            present.add(value)
            wanted.append(value)
    if wanted:
        rows = [{"contact_id": c, "kind": k, "value": v, "label": None} for c, k, v in wanted]
        conn.execute(scope.insert(ContactValueRow), scope.rows(rows))
    return {contact_id for contact_id, _, _ in wanted}


def values_of(conn: Connection, scope: TenantScope, contact_id: int) -> dict[str, list[str]]:
    """A contact's other emails and phones, by kind, in the order they were added."""
    found: dict[str, list[str]] = {"email": [], "phone": []}
    for kind, value in conn.execute(
        scope.select(_V.kind, _V.value).where(_V.contact_id == contact_id).order_by(_V.value)
    ):
        found.setdefault(kind, []).append(value)
    return found
