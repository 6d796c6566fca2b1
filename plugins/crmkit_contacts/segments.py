"""Segments are crmkit's saved searches: saved filters evaluated each time they are used.

See :mod:`crmkit.searches`.
"""

from __future__ import annotations

from crmkit.searches import SavedSearches as Segments

__all__ = ["Segments"]
