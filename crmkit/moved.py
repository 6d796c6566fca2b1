"""Old import paths of names that moved into their packs: kept for this release only.

Until 0.1, the funnel's portal logins and the contacts pack's saved searches lived in
the core (``crmkit.portal``, ``crmkit.searches``). They moved into their packs' folders;
the old paths still work and raise a :class:`DeprecationWarning` naming the new one.
They go in the next release. This module names the packs only as the strings of that
table, imported when an old name is used, so the core never imports a pack.
"""

from __future__ import annotations

import importlib
import warnings

MOVED: dict[str, str] = {
    "crmkit.portal": "crmkit_funnel.portal",
    "crmkit.searches": "crmkit_contacts.segments",
}


def forward(old_module: str, name: str) -> object:
    """The moved ``name`` of ``old_module`` (a module's ``__getattr__``), with a warning."""
    if name.startswith("__"):
        # Import machinery and tools probe dunders: those are the shim's own, not moved.
        raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
    new_module = MOVED[old_module]
    value = getattr(importlib.import_module(new_module), name)
    warnings.warn(
        f"{old_module}.{name} moved to {new_module}.{name}: import it from there "
        "(the old path goes in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )
    return value
