"""Notes on a contact: free text with an author, in the order they were written."""

from __future__ import annotations

from typing import Any

from crmkit.applying import allocate_ids, load_state
from crmkit.context import TenantContext
from crmkit.errors import ValidationError
from crmkit.storage.models import NoteRow
from crmkit.storage.scope import TenantScope


def add_note(ctx: TenantContext, contact_id: int, body: str, author: str | None) -> int:
    """Add a note to the contact; return its id."""
    if not body or not body.strip():
        raise ValidationError("a note needs a body")
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        load_state(ctx, conn, scope, contact_id)
        note_id = allocate_ids(conn, runtime, 1, "note")
        row = {
            "id": note_id,
            "contact_id": contact_id,
            "body": body,
            "author": author,
            "created_at": ctx.clock(),
        }
        conn.execute(scope.insert(NoteRow), scope.rows([row]))
        return note_id


def notes(ctx: TenantContext, contact_id: int) -> list[dict[str, Any]]:
    """The contact's notes (id, body, author, created_at), oldest first."""
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        n = NoteRow.__table__.c
        rows = conn.execute(
            scope.select(n.id, n.body, n.author, n.created_at)
            .where(n.contact_id == contact_id)
            .order_by(n.id)
        ).mappings()
        return [dict(row) for row in rows]
