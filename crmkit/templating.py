"""Rendering pack templates in Jinja2's sandbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crmkit.errors import ConfigError
from crmkit.packs import Pack


def render_pack_template(pack: Pack, name: str, **context: Any) -> str:
    """Render ``name`` from the pack's templates; errors name the pack and template."""
    if pack.templates is None:
        raise ConfigError(f"pack {pack.ref} ships no templates")
    resource = pack.templates.joinpath(name)
    if not resource.is_file():
        raise ConfigError(f"pack {pack.ref} has no template {name!r}")
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        return environment.from_string(resource.read_text("utf-8")).render(**context)
    except TemplateError as exc:
        raise ConfigError(f"template {name!r} of pack {pack.ref} failed: {exc}") from None


def resolve_template(packs: Sequence[Pack], ref: str, default_pack: str | None = None) -> Pack:
    """The tenant pack a template reference ``PACK:NAME`` (or a bare ``NAME`` of
    ``default_pack``) points into; the template must exist."""
    pack_name, sep, name = ref.partition(":")
    if not sep:
        pack_name, name = default_pack or "", ref
    if not pack_name or not name:
        raise ConfigError(f"template {ref!r}: use PACK:NAME")
    pack = next((p for p in packs if p.name == pack_name), None)
    if pack is None:
        raise ConfigError(
            f"template {ref!r}: pack {pack_name!r} is not one of the tenant's packs "
            f"({', '.join(p.name for p in packs) or 'none'})"
        )
    if pack.templates is None or not pack.templates.joinpath(name).is_file():
        raise ConfigError(f"pack {pack.ref} has no template {name!r}")
    return pack


def render_ref(
    packs: Sequence[Pack], ref: str, context: Mapping[str, Any], default_pack: str | None = None
) -> str:
    """Render a template reference (see :func:`resolve_template`) in the sandbox."""
    pack = resolve_template(packs, ref, default_pack)
    return render_pack_template(pack, ref.rpartition(":")[2], **context)
