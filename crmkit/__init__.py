"""crmkit: compose a CRM from plugins and declarative rule packs."""

from __future__ import annotations

from crmkit.markers import hookimpl

__version__ = "0.1.0"

__all__ = ["CRM", "Facet", "FacetValue", "Pack", "Tenant", "__version__", "hookimpl"]


def __getattr__(name: str) -> object:
    # Lazy re-exports, for import weight only (no cycle hides here: no crmkit module
    # imports from the package itself): ``import crmkit.errors`` or a plugin's
    # ``from crmkit import hookimpl`` should not load SQLAlchemy, pydantic and the rules.
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
