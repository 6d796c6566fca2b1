"""crmkit: compose a CRM from plugins and declarative rule packs."""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("crmkit")
"""Decorator marking a plugin function as a crmkit hook implementation."""

__version__ = "0.1.0"

__all__ = ["CRM", "Facet", "FacetValue", "Pack", "Tenant", "__version__", "hookimpl"]


def __getattr__(name: str) -> object:
    # Lazy re-exports: plugins import ``hookimpl`` from here while crmkit itself is
    # still being imported, so the heavy modules must not load at import time.
    if name == "CRM":
        from crmkit.core import CRM

        return CRM
    if name == "Tenant":
        from crmkit.tenant import Tenant

        return Tenant
    if name in ("Facet", "FacetValue"):
        from crmkit import facets

        return getattr(facets, name)
    if name == "Pack":
        from crmkit.packs import Pack

        return Pack
    raise AttributeError(f"module 'crmkit' has no attribute {name!r}")
