"""Projects: one primary contact (whom the project is for) and related contacts with
role labels (planners, vendors...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from crmkit.applying import allocate_ids, load_state, permit
from crmkit.context import TenantContext
from crmkit.errors import NotFoundError, ValidationError
from crmkit.storage.models import ProjectContactRow, ProjectRow
from crmkit.storage.scope import TenantScope


def add_project(
    ctx: TenantContext, name: str, primary_contact: int, related: Mapping[int, str] | None
) -> int:
    """Create a project for a primary contact, with related contacts and their roles."""
    if not name or not name.strip():
        raise ValidationError("a project needs a name")
    related = dict(related or {})
    if primary_contact in related:
        raise ValidationError(f"contact {primary_contact} is already the primary contact")
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        scope = TenantScope(runtime.tenant_id)
        states = {cid: load_state(ctx, conn, scope, cid) for cid in [primary_contact, *related]}
        # The primary contact is the one the project is for (a plugin may require a
        # client); related contacts (planners, vendors) may be anyone.
        permit(ctx, states[primary_contact], "project")
        for contact_id, role in related.items():
            if not role or not role.strip():
                raise ValidationError(f"related contact {contact_id} needs a role label")
        project_id = allocate_ids(conn, runtime, 1, "project")
        row = {
            "id": project_id,
            "name": name.strip(),
            "primary_contact_id": primary_contact,
            "created_at": ctx.clock(),
        }
        conn.execute(scope.insert(ProjectRow), scope.rows([row]))
        if related:
            conn.execute(
                scope.insert(ProjectContactRow),
                scope.rows(
                    {"project_id": project_id, "contact_id": cid, "role": role.strip()}
                    for cid, role in related.items()
                ),
            )
        return project_id


def add_related(ctx: TenantContext, project_id: int, contact_id: int, role: str) -> None:
    """Relate a contact to a project with a role label (a contact can be in many)."""
    if not role or not role.strip():
        raise ValidationError(f"related contact {contact_id} needs a role label")
    with ctx.db.begin() as conn:
        scope = TenantScope(ctx.write_runtime(conn).tenant_id)
        project = get_project(ctx, project_id, conn=conn)
        load_state(ctx, conn, scope, contact_id)
        if contact_id == project["primary_contact"] or any(
            r["contact"] == contact_id for r in project["related"]
        ):
            raise ValidationError(f"contact {contact_id} is already on project {project_id}")
        conn.execute(
            scope.insert(ProjectContactRow),
            scope.rows([{"project_id": project_id, "contact_id": contact_id, "role": role}]),
        )


def list_projects(ctx: TenantContext, contact_id: int | None) -> list[dict[str, Any]]:
    """Projects in id order; with ``contact_id``, those the contact is primary on or
    related to."""
    with ctx.db.connect() as conn:
        scope = TenantScope(ctx.runtime(conn).tenant_id)
        p = ProjectRow.__table__.c
        stmt = scope.select(p.id).order_by(p.id)
        if contact_id is not None:
            load_state(ctx, conn, scope, contact_id)
            pc = ProjectContactRow.__table__.c
            related = scope.select(pc.project_id).where(pc.contact_id == contact_id)
            stmt = stmt.where((p.primary_contact_id == contact_id) | p.id.in_(related))
        return [get_project(ctx, pid, conn=conn) for pid in conn.scalars(stmt)]


def get_project(
    ctx: TenantContext, project_id: int, *, conn: Connection | None = None
) -> dict[str, Any]:
    """A project: id, name, primary_contact and related (contact, role)."""
    if conn is None:
        with ctx.db.connect() as own:
            return get_project(ctx, project_id, conn=own)
    scope = TenantScope(ctx.runtime(conn).tenant_id)
    p = ProjectRow.__table__.c
    row = conn.execute(
        scope.select(p.id, p.name, p.primary_contact_id).where(p.id == project_id)
    ).first()
    if row is None:
        raise NotFoundError(f"project {project_id} does not exist in tenant {ctx.name!r}")
    pc = ProjectContactRow.__table__.c
    related = conn.execute(
        scope.select(pc.contact_id, pc.role)
        .where(pc.project_id == project_id)
        .order_by(pc.contact_id)
    ).all()
    return {
        "id": row[0],
        "name": row[1],
        "primary_contact": row[2],
        "related": [{"contact": c, "role": r} for c, r in related],
    }
