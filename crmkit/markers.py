"""The pluggy markers of crmkit: ``hookimpl`` for plugins, ``hookspec`` for the specs.

A module of its own, importing nothing of crmkit, so any module (crmkit's default
plugins, first-party and third-party packs) can mark hooks without loading the rest.
"""

from __future__ import annotations

import pluggy

PROJECT = "crmkit"

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorator marking a plugin function as a crmkit hook implementation."""

hookspec = pluggy.HookspecMarker(PROJECT)
"""Decorator marking a function of :mod:`crmkit.hookspecs` as a hook specification."""
