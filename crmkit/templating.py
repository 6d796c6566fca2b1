"""Rendering pack templates in Jinja2's sandbox."""

from __future__ import annotations

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
