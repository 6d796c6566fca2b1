"""Checking profile values against a tenant's fields before anything is written.

Shared by creating, editing and (later) importing contacts: phones go to E.164 in the
tenant's region, each named field is cleaned by its type, and a name the tenant does not
know yet becomes a new custom field (typed from its value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, update

from crmkit.contact_fields import CONTACT_ATTRIBUTES
from crmkit.errors import PluginError, ValidationError
from crmkit.field_types import FieldSpec, field_name, infer_type
from crmkit.phones import LINE_TYPES, parse_phone, region_of, sms_permission
from crmkit.runtime import TenantRuntime
from crmkit.storage.models import CustomFieldRow, TenantRow
from crmkit.storage.scope import TenantScope

if TYPE_CHECKING:
    from crmkit.hooks import Hooks


def label_of(key: str) -> str:
    """The label a custom field gets from the key it was first set under."""
    return key.replace("_", " ").capitalize() if key == field_name(key) else key.strip()


@dataclass
class CleanFields:
    """Cleaned field values by name, and the custom fields they add."""

    values: dict[str, Any] = field(default_factory=dict)
    new: list[FieldSpec] = field(default_factory=list)


def clean_fields(runtime: TenantRuntime, given: Mapping[str, Any], what: str) -> CleanFields:
    """Clean ``given`` (field key to value); a ValidationError names the first bad one."""
    region = region_of(runtime.settings)
    out = CleanFields()
    for key, value in given.items():
        spec = runtime.fields.get(key)
        if spec is None:
            try:
                name = field_name(key)
            except ValueError as exc:
                raise ValidationError(f"invalid {what}: fields.{key}: {exc}") from None
            if name in CONTACT_ATTRIBUTES or name in ("fields", "tags", "facets"):
                raise ValidationError(
                    f"invalid {what}: fields.{key}: {name!r} is a built-in attribute; "
                    "set it directly, not as a field"
                )
            spec = runtime.fields.get(name) or next((s for s in out.new if s.name == name), None)
            if spec is None:
                if value is None:
                    continue
                try:
                    spec = FieldSpec(name, label_of(key), infer_type(value), "custom")
                except ValueError as exc:
                    raise ValidationError(f"invalid {what}: fields.{key}: {exc}") from None
                out.new.append(spec)
        try:
            out.values[spec.name] = spec.clean(value, region)
        except ValueError as exc:
            raise ValidationError(f"invalid {what}: fields.{spec.name}: {exc}") from None
    return out


def clean_phone(runtime: TenantRuntime, text: str | None, what: str) -> str | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_phone(text, region_of(runtime.settings))
    except ValueError as exc:
        raise ValidationError(f"invalid {what}: phone: {exc}") from None


def add_custom_fields(
    conn: Connection, runtime: TenantRuntime, specs: list[FieldSpec], now: datetime
) -> None:
    """Add fields to the tenant's custom field list (and so to its next runtime)."""
    if not specs:
        return
    scope = TenantScope(runtime.tenant_id)
    conn.execute(
        scope.insert(CustomFieldRow),
        scope.rows(
            {
                "name": s.name,
                "label": s.label,
                "type": s.type,
                "choices": list(s.choices),
                "created_at": now,
            }
            for s in specs
        ),
    )
    conn.execute(
        update(TenantRow)
        .where(TenantRow.id == runtime.tenant_id)
        .values(config_version=TenantRow.config_version + 1)
    )


def line_type(hooks: Hooks, tenant: str, number: str, offline: str | None = None) -> str:
    """The line type of an E.164 number: the first plugin's answer (crmkit's default
    plugin answers from offline metadata last). ``offline``, when the caller already
    has it from parsing the number, saves asking when only the default would answer."""
    if offline is not None and not hooks.answered_by_plugin("crmkit_phone_line_type"):
        return offline
    found = hooks.phone_line_type(tenant=tenant, number=number)
    if found is None:
        raise PluginError(
            f"no plugin answered crmkit_phone_line_type for {number} "
            "(crmkit.default_phones answers last)"
        )
    if found not in LINE_TYPES:
        raise PluginError(
            f"crmkit_phone_line_type answered {found!r} for {number}; "
            f"expected one of {', '.join(sorted(LINE_TYPES))}"
        )
    return str(found)


@dataclass(frozen=True)
class PhoneCheck:
    """What the phone check found, and what it means for OK to SMS."""

    number: str | None
    line_type: str | None
    textable: bool
    note: str | None

    def permission(self, wanted: bool | None, contact: str) -> tuple[bool, str | None]:
        """(ok_to_sms, sms_note) given what the user asked for (None: not asked)."""
        if self.number is None:
            if wanted:
                raise ValidationError(f"{contact} has no cell phone, so OK to SMS cannot be on")
            return False, None
        if wanted and not self.textable:
            raise ValidationError(f"{contact}: OK to SMS cannot be on: {self.note}")
        return (self.textable if wanted is None else wanted and self.textable), self.note


def check_number(
    hooks: Hooks, tenant: str, number: str | None, offline: str | None = None
) -> PhoneCheck:
    if number is None:
        return PhoneCheck(None, None, False, None)
    kind = line_type(hooks, tenant, number, offline)
    textable, note = sms_permission(kind)
    return PhoneCheck(number, kind, textable, note)


def sms_after_edit(
    check: PhoneCheck | None, phone: str | None, note: str | None, wanted: bool | None, what: str
) -> tuple[bool, str | None] | None:
    """(ok_to_sms, sms_note) after an edit, or None when neither changes: a new number's
    ``check`` decides; a wish alone is weighed against the current number's note."""
    if check is not None:
        return check.permission(wanted, what)
    if wanted is None:
        return None
    return PhoneCheck(phone, None, note is None, note).permission(wanted, what)
