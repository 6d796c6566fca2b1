"""Deprecated: moved to :mod:`crmkit_funnel.portal` (see :mod:`crmkit.moved`)."""

from __future__ import annotations

from crmkit.moved import forward


def __getattr__(name: str) -> object:
    return forward(__name__, name)
