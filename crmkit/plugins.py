"""Building the plugin manager: specs, default plugins, entry points, switches.

Environment switches (comma-separated plugin names):

* ``CRMKIT_BLOCK_PLUGINS``: never load these entry-point plugins.
* ``CRMKIT_PLUGINS``: load only these entry-point plugins (default plugins still load).
* ``CRMKIT_TRACE_PLUGINS=1``: print every hook call and result to stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from types import FunctionType, MethodType, ModuleType
from typing import cast

import pluggy
from pluggy import HookimplOpts

import crmkit.hookspecs as hookspecs
from crmkit.errors import PluginError

ENTRY_POINT_GROUP = "crmkit"

# crmkit's own behaviour, registered exactly like third-party plugins (the fallbacks
# among them with ``trylast``, so any other plugin's answer wins).
DEFAULT_PLUGINS: tuple[str, ...] = (
    "crmkit.default_actions",
    "crmkit.core_settings",
    "crmkit.default_transports",
    "crmkit.default_phones",
    "crmkit.cli.default_commands",
    "crmkit.jobs.plugin",
)

_SPEC_NAMES = frozenset(name for name in dir(hookspecs) if name.startswith("crmkit_"))

# What finding the entry points last saw (the import path with each folder's
# modification time, and the finder: tests replace it) and what it found.
_PathState = tuple[tuple[str, int], ...]
_entry_points_seen: tuple[_PathState, object, tuple[EntryPoint, ...]] | None = None


def _path_state() -> _PathState:
    state = []
    for folder in sys.path:
        try:
            state.append((folder, os.stat(folder or ".").st_mtime_ns))
        except OSError:
            state.append((folder, -1))
    return tuple(state)


def installed_entry_points() -> tuple[EntryPoint, ...]:
    """The ``crmkit`` entry points of the installed distributions, by name.

    Finding them reads every installed distribution's metadata (about 8 ms), and every
    CRM a process builds asks again. They are read again only when the import path or
    one of its folders changed (installing or removing a distribution writes to its
    folder), so a plugin installed while a process runs is still found by its next CRM.
    """
    global _entry_points_seen
    state = _path_state()
    seen = _entry_points_seen
    if seen is None or seen[0] != state or seen[1] is not entry_points:
        found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        seen = _entry_points_seen = (state, entry_points, tuple(found))
    return seen[2]


class CrmkitPluginManager(pluggy.PluginManager):
    """pluggy's manager, finding the hooks of module plugins in the module's namespace.

    pluggy looks at every attribute of a plugin with ``inspect.getattr_static``, which
    for a module's few hundred names (its imports included) was most of the 30 to 40 ms
    that registering crmkit's plugins took, paid by every CRM a process builds. For a
    module that lookup is the module's own ``__dict__``, so a plain function found there
    is read directly; anything else is left to pluggy (``parse_hookimpl_opts`` is the
    method pluggy documents for subclasses to override).
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> HookimplOpts | None:
        if isinstance(plugin, ModuleType):
            value = plugin.__dict__.get(name)
            if isinstance(value, FunctionType):
                opts = getattr(value, "crmkit_impl", None)
                return cast("HookimplOpts", opts) if isinstance(opts, dict) else None
            if not isinstance(value, (staticmethod, classmethod, MethodType)):
                return None
        return super().parse_hookimpl_opts(plugin, name)


def _names_from_env(env: Mapping[str, str], key: str) -> set[str] | None:
    raw = env.get(key)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _check_hook_names(plugin: object, name: str) -> None:
    """Reject ``crmkit_*`` attributes that match no hookspec, marked or not.

    pluggy's own check only sees functions marked with ``hookimpl``; a misspelt or
    unmarked hook would otherwise be ignored silently.
    """
    for attr in dir(plugin):
        if attr.startswith("crmkit_") and attr not in _SPEC_NAMES:
            raise PluginError(
                f"plugin {name!r} implements unknown hook {attr!r} "
                f"(known hooks: {', '.join(sorted(_SPEC_NAMES))})"
            )


def register_plugin(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register one plugin object, turning every failure into a PluginError naming it."""
    _check_hook_names(plugin, name)
    if pm.has_plugin(name):
        raise PluginError(f"two plugins are named {name!r}; plugin names must be unique")
    try:
        pm.register(plugin, name=name)
    except ValueError as exc:
        raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r} is invalid: {exc}") from exc


def build_plugin_manager(
    extra_plugins: Iterable[object] = (),
    *,
    load_entry_points: bool = True,
    env: Mapping[str, str] | None = None,
) -> pluggy.PluginManager:
    """Return a plugin manager with crmkit's specs, default plugins and installed plugins.

    ``extra_plugins`` (modules or objects) are registered after the entry points, under
    the module name or the class name; useful in applications and tests.
    Raises :class:`PluginError` naming the plugin when one cannot be imported, implements
    an unknown hook, has a bad hook signature, or reuses a name.
    """
    environ = os.environ if env is None else env
    pm = CrmkitPluginManager("crmkit")
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        register_plugin(pm, importlib.import_module(module_name), module_name)

    if load_entry_points:
        blocked = _names_from_env(environ, "CRMKIT_BLOCK_PLUGINS") or set()
        allowed = _names_from_env(environ, "CRMKIT_PLUGINS")
        for ep in installed_entry_points():
            if ep.name in blocked or (allowed is not None and ep.name not in allowed):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                dist = getattr(ep.dist, "name", "?")
                raise PluginError(
                    f"plugin {ep.name!r} (entry point {ep.value!r} of distribution "
                    f"{dist!r}) failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            register_plugin(pm, plugin, ep.name)

    for plugin in extra_plugins:
        name = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__name__
        register_plugin(pm, plugin, name)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} is invalid: {exc}") from exc

    if environ.get("CRMKIT_TRACE_PLUGINS", "").strip() not in ("", "0"):
        pm.trace.root.setwriter(lambda message: sys.stderr.write(message))
        pm.enable_tracing()
    return pm
