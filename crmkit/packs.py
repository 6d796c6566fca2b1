"""Packs: versioned bundles of rulesets, templates and facets that plugins contribute.

A tenant lists packs as ``name`` (the newest installed version) or ``name@version``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from packaging.version import InvalidVersion, Version

from crmkit.errors import ConfigError, UnknownPackError
from crmkit.field_types import FieldSpec

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable


# Event data keys end up in DDL (statistics names and expressions): plain names only.
SEARCH_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")


def check_pack_name(name: str) -> None:
    if not name or "@" in name or "," in name or " " in name:
        raise ConfigError(f"invalid pack name {name!r}")


def check_version(pack: str, version: str) -> None:
    try:
        Version(version)
    except InvalidVersion:
        raise ConfigError(f"pack {pack!r}: version {version!r} is not a valid version") from None


def check_search_key(pack: str, key: str) -> None:
    if not SEARCH_KEY.fullmatch(key):
        raise ConfigError(
            f"pack {pack!r}: search key {key!r} is not a plain name "
            "(letters, digits and _, not starting with a digit)"
        )


@dataclass(frozen=True)
class Pack:
    """A versioned rule pack.

    ``rulesets`` are YAML files (``pathlib.Path`` or ``importlib.resources`` files) whose
    rules run in the order the files are listed. ``facets`` names the facets the pack
    uses; a tenant's facets are those of its packs. ``search_keys`` names the event data
    keys the pack's searches filter on (``event.data.channel``...): on PostgreSQL crmkit
    keeps planner statistics on them (see :mod:`crmkit.storage.statistics`). ``fields``
    are the typed profile fields the pack adds to every contact (kept in
    ``contact.fields``, validated on every write). ``scenarios`` are the pack's scenario
    files (:mod:`crmkit.scenarios`), run by ``crmkit rules test --pack NAME``.

    A pack can also be described by a ``pack.yaml`` manifest: see
    :func:`crmkit.manifests.load_pack`.
    """

    name: str
    version: str
    rulesets: tuple[Traversable, ...] = ()
    facets: tuple[str, ...] = ()
    templates: Traversable | None = None
    description: str = ""
    settings: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    search_keys: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...] = ()
    scenarios: tuple[Traversable, ...] = ()

    def __post_init__(self) -> None:
        check_pack_name(self.name)
        seen: set[str] = set()
        for spec in self.fields:
            if not isinstance(spec, FieldSpec):
                raise ConfigError(f"pack {self.name!r}: field {spec!r} is not a FieldSpec")
            if spec.name in seen:
                raise ConfigError(f"pack {self.name!r} declares field {spec.name!r} twice")
            seen.add(spec.name)
        for key in self.search_keys:
            check_search_key(self.name, key)
        check_version(self.name, self.version)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``name`` or ``name@version`` into its parts, rejecting malformed specs."""
    text = spec.strip()
    name, sep, version = text.partition("@")
    if not name or (sep and not version) or " " in text:
        raise ConfigError(f"invalid pack spec {spec!r}; use NAME or NAME@VERSION")
    return name, (version if sep else None)


@dataclass(frozen=True)
class BrokenPack:
    """A pack (or a plugin's packs) that could not be loaded: the CRM starts without it."""

    provider: str
    error: str
    name: str | None = None  # None: the plugin failed before naming its pack

    def __str__(self) -> str:
        what = f"pack {self.name!r}" if self.name else f"the packs of plugin {self.provider!r}"
        return (
            f"{what} could not be loaded: {self.error} (fix it, or block the plugin with "
            f"CRMKIT_BLOCK_PLUGINS={self.provider})"
        )


class PackRegistry:
    """Installed packs; several versions of one pack can sit side by side. A pack that
    cannot be loaded is kept aside in :attr:`broken`, so the others still work."""

    def __init__(self) -> None:
        self._packs: dict[str, dict[str, Pack]] = {}
        self.providers: dict[str, str] = {}
        self.broken: list[BrokenPack] = []

    def mark_broken(self, provider: str, error: str, pack: Pack | None = None) -> None:
        """Record a pack that failed to load (``pack``: a registered one, now removed)."""
        if pack is not None:
            versions = self._packs.get(pack.name, {})
            versions.pop(pack.version, None)
            if not versions:
                self._packs.pop(pack.name, None)
            self.providers.pop(pack.ref, None)
        self.broken.append(BrokenPack(provider, error, pack.name if pack else None))

    def register(self, pack: Pack, provider: str) -> None:
        if not isinstance(pack, Pack):
            raise ConfigError(f"plugin {provider!r} registered {pack!r}, which is not a Pack")
        versions = self._packs.setdefault(pack.name, {})
        if pack.version in versions:
            raise ConfigError(
                f"pack {pack.ref} is registered by both {self.providers[pack.ref]!r} "
                f"and {provider!r}"
            )
        versions[pack.version] = pack
        self.providers[pack.ref] = provider

    def override(self, pack: Pack, provider: str) -> None:
        """Put ``pack`` in place of the installed pack of the same name and version (or
        beside the installed versions): what ``crmkit rules test PATH`` runs is the
        folder's copy, never the one a plugin installed."""
        if not isinstance(pack, Pack):
            raise ConfigError(f"{provider!r} gave {pack!r}, which is not a Pack")
        self._packs.setdefault(pack.name, {})[pack.version] = pack
        self.providers[pack.ref] = provider

    def resolve(self, spec: str) -> Pack:
        """Return the pack a spec names: the pinned version, or the newest one."""
        name, version = parse_spec(spec)
        versions = self._packs.get(name)
        if not versions:
            named = [b for b in self.broken if b.name == name]
            if named:
                raise UnknownPackError(str(named[0]))
            known = ", ".join(sorted(self._packs)) or "none"
            unnamed = "".join(f"; {b}" for b in self.broken if b.name is None)
            raise UnknownPackError(f"unknown pack {name!r} (installed: {known}){unnamed}")
        if version is None:
            return versions[max(versions, key=Version)]
        if version not in versions:
            raise UnknownPackError(
                f"pack {name!r} has no version {version!r} "
                f"(installed: {', '.join(sorted(versions, key=Version))})"
            )
        return versions[version]

    def all(self) -> list[Pack]:
        return [
            pack
            for name in sorted(self._packs)
            for _, pack in sorted(self._packs[name].items(), key=lambda kv: Version(kv[0]))
        ]
