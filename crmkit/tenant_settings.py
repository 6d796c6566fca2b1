"""A tenant's configuration as its users see it: settings, facets and their colours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update

from crmkit.context import TenantContext
from crmkit.errors import ConfigError, PolicyError, ValidationError
from crmkit.facets import COLOURS
from crmkit.rules.tick_settings import check_tick_rules
from crmkit.storage.models import TenantRow


def settings(ctx: TenantContext) -> dict[str, Any]:
    """The tenant's settings as stored."""
    with ctx.db.connect() as conn:
        return dict(ctx.runtime(conn).settings)


def update_settings(ctx: TenantContext, values: Mapping[str, Any]) -> dict[str, Any]:
    """Merge checked ``values`` into the settings; see :meth:`Tenant.update_settings`."""
    # The warning of an unknown setting names the caller of Tenant.update_settings.
    given = ctx.declared_settings.checked(values, stacklevel=4)
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        merged = {**runtime.settings, **given}
        check_tick_rules(runtime.rulesets, merged, runtime.search_schema())
        conn.execute(
            update(TenantRow)
            .where(TenantRow.id == runtime.tenant_id)
            .values(settings=merged, config_version=TenantRow.config_version + 1)
        )
        return merged


def noun(ctx: TenantContext, plural: bool) -> str:
    """What this tenant calls its contacts (settings ``contact_noun`` and
    ``contact_noun_plural``; default contact / contacts)."""
    values = settings(ctx)
    singular = str(values.get("contact_noun") or "contact")
    if not plural:
        return singular
    return str(values.get("contact_noun_plural") or f"{singular}s")


def facet_names(ctx: TenantContext) -> list[str]:
    """The facets this tenant's packs bring, in pack order."""
    with ctx.db.connect() as conn:
        return list(ctx.runtime(conn).facets)


def facet_table(ctx: TenantContext) -> list[dict[str, Any]]:
    """The tenant's facets with their values and this tenant's colours."""
    with ctx.db.connect() as conn:
        runtime = ctx.runtime(conn)
    return [
        {
            "name": facet.name,
            "label": facet.label,
            "default": facet.default,
            "policy": facet.policy,
            "manual_allowed": facet.manual_allowed,
            "colours_fixed": facet.colours_fixed,
            "provider": ctx.facet_providers[facet.name],
            "values": [
                {
                    "name": v.name,
                    "label": v.label,
                    "colour": runtime.colour(facet.name, v.name),
                    "auto_only": v.auto_only,
                }
                for v in facet.values
            ],
        }
        for facet in runtime.facets.values()
    ]


def facet_colours(ctx: TenantContext) -> dict[str, dict[str, str]]:
    """Facet name to value name to this tenant's colour for it."""
    return {f["name"]: {v["name"]: v["colour"] for v in f["values"]} for f in facet_table(ctx)}


def set_colour(ctx: TenantContext, facet: str, value: str, colour: str) -> None:
    """Recolour a facet value for this tenant; refused where the facet fixes colours."""
    with ctx.db.begin() as conn:
        runtime = ctx.write_runtime(conn)
        definition = runtime.facets.get(facet)
        if definition is None:
            raise ConfigError(f"tenant {ctx.name!r} has no facet {facet!r}")
        definition.value(value)
        if definition.colours_fixed:
            raise PolicyError(f"the colours of facet {facet!r} are fixed and cannot be changed")
        if colour not in COLOURS:
            raise ValidationError(f"unknown colour {colour!r} (one of {', '.join(COLOURS)})")
        values = dict(runtime.settings)
        colours = {k: dict(v) for k, v in dict(values.get("colours", {})).items()}
        colours.setdefault(facet, {})[value] = colour
        values["colours"] = colours
        conn.execute(
            update(TenantRow)
            .where(TenantRow.id == runtime.tenant_id)
            .values(settings=values, config_version=TenantRow.config_version + 1)
        )
