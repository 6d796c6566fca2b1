"""crmkit's own tenant settings, declared like a pack's (see :mod:`crmkit.settings`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmkit.facets import COLOURS
from crmkit.markers import hookimpl
from crmkit.settings import Setting


def _colours(value: dict[str, Any]) -> str | None:
    for facet, chosen in value.items():
        if not isinstance(chosen, dict):
            return f"the colours of facet {facet!r} are not a mapping of values to colours"
        wrong = [c for c in chosen.values() if c not in COLOURS]
        if wrong:
            return f"{wrong[0]!r} is not a colour (one of {', '.join(COLOURS)})"
    return None


CORE_SETTINGS = (
    Setting("phone_region", "text", 2, 2, pattern="[A-Za-z]{2}", description="ISO region"),
    Setting("contact_noun", "text", 1, 40, description="what the tenant calls a contact"),
    Setting("contact_noun_plural", "text", 1, 40),
    Setting("sender_name", "text", 1, 100, description="the name messages are signed with"),
    Setting("mail_from", "text", 3, 320, pattern=r"\S+@\S+|.*<\S+@\S+>"),
    Setting("smtp_host", "text", 1, 253, pattern=r"[^\s/]+"),
    Setting("smtp_port", "integer", 1, 65535),
    Setting("smtp_starttls", "boolean"),
    Setting("smtp_username", "text", 1, 320),
    Setting("smtp_password_env", "text", 1, 100, pattern="[A-Za-z_][A-Za-z0-9_]*"),
    Setting("colours", "mapping", check=_colours, description="facet value colours"),
)


@hookimpl
def crmkit_register_settings(register: Callable[[Setting], None]) -> None:
    for setting in CORE_SETTINGS:
        register(setting)
