"""A tenant's profile fields: those its packs declare and its own custom fields.

A custom field is added explicitly (with a type) or by setting a value under a new name
on a contact (typed from that value). Its values live in ``contact.fields`` like pack
fields, are checked by type on every write, and are searchable the same way
(``contact.fields.NAME``). "Apply to all" puts an empty field on every contact that
does not have it yet, so it shows on every profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, ColumnElement, func, literal, not_, null, text

from crmkit.contact_fields import CONTACT_ATTRIBUTES
from crmkit.context import TenantContext
from crmkit.errors import ConfigError, ValidationError
from crmkit.field_types import FieldSpec, field_name
from crmkit.profile_values import add_custom_fields
from crmkit.schemas import FieldOut
from crmkit.storage.models import ContactRow
from crmkit.storage.scope import TenantScope


def field_list(ctx: TenantContext) -> list[FieldOut]:
    """Every profile field of the tenant: its packs' (in pack order), then custom ones."""
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    owners = {s.name: p.ref for p in runtime.packs for s in p.fields}
    return [
        FieldOut(
            name=spec.name,
            label=spec.label,
            type=spec.type,
            section=spec.section,
            choices=list(spec.choices),
            source=owners.get(spec.name, "custom"),
        )
        for spec in runtime.fields.values()
    ]


def add_field(
    ctx: TenantContext, label: str, type: str = "text", choices: Sequence[str] = ()
) -> FieldOut:
    """Add a custom field to the tenant's list; its name is made from the label."""
    if not isinstance(label, str) or not label.strip() or len(label) > 200:
        raise ValidationError("a custom field needs a label of 1 to 200 characters")
    try:
        name = field_name(label)
    except ValueError as exc:
        raise ValidationError(f"custom field: {exc}") from None
    if name in CONTACT_ATTRIBUTES or name in ("fields", "tags", "facets"):
        raise ValidationError(f"custom field {name!r} would hide the built-in attribute")
    spec = FieldSpec(name, label.strip(), type, "custom", tuple(choices))
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        if name in runtime.fields:
            raise ValidationError(f"tenant {ctx.name!r} already has a field {name!r}")
        add_custom_fields(conn, runtime, [spec], ctx.clock())
    return next(f for f in field_list(ctx) if f.name == name)


def apply_to_all(ctx: TenantContext, name: str) -> int:
    """Put the (empty) field on every contact that lacks it; return how many got it."""
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        if name not in runtime.fields:
            known = ", ".join(runtime.fields) or "none"
            raise ConfigError(f"tenant {ctx.name!r} has no field {name!r} (its fields: {known})")
        scope = TenantScope(runtime.tenant_id)
        c = ContactRow.__table__.c
        value: ColumnElement[Any]
        if conn.dialect.name == "postgresql":
            missing = not_(c.fields.op("?", return_type=Boolean())(literal(name)))
            value = c.fields.op("||")(func.jsonb_build_object(literal(name), null()))
        else:
            path = f"$.{name}"  # the name is a checked identifier
            missing = func.json_type(c.fields, path).is_(None)
            value = func.json_set(c.fields, path, text("json('null')"))
        result = conn.execute(scope.update(ContactRow).where(missing).values(fields=value))
        return int(result.rowcount)
