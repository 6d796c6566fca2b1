"""Facets: named, enumerated contact attributes that plugins register.

A facet declares its values (each with a label and a colour), a default and a policy.
The core checks the policy for every change, whatever its path (manual, rule, import).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from crmkit.errors import ConfigError, PolicyError

Policy = Literal["free", "forward_only"]
CauseType = Literal["rule", "manual", "import"]

COLOURS = ("grey", "blue", "green", "orange", "red", "yellow", "purple", "teal", "pink", "brown")


@dataclass(frozen=True)
class FacetValue:
    """One allowed value of a facet.

    ``auto_only`` values may only be set by rules (manual and import changes are refused).
    """

    name: str
    label: str
    colour: str = "grey"
    auto_only: bool = False


@dataclass(frozen=True)
class Facet:
    """A named, enumerated contact attribute.

    * ``policy="free"``: any value may follow any other.
    * ``policy="forward_only"``: values are ordered as declared; a change may only move
      to a later value, on every path.
    * ``manual_allowed=False``: only rules may change the facet at all.
    * ``colours_fixed=True``: tenants may not recolour the values.
    """

    name: str
    label: str
    values: tuple[FacetValue, ...]
    default: str
    policy: Policy = "free"
    manual_allowed: bool = True
    colours_fixed: bool = False
    description: str = ""
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ConfigError(f"facet name {self.name!r} must be an identifier")
        if not self.values:
            raise ConfigError(f"facet {self.name!r} has no values")
        for position, value in enumerate(self.values):
            if value.name in self._index:
                raise ConfigError(f"facet {self.name!r}: value {value.name!r} is declared twice")
            if value.colour not in COLOURS:
                raise ConfigError(
                    f"facet {self.name!r}: value {value.name!r} has unknown colour "
                    f"{value.colour!r} (one of {', '.join(COLOURS)})"
                )
            self._index[value.name] = position
        if self.default not in self._index:
            raise ConfigError(
                f"facet {self.name!r}: default {self.default!r} is not one of its values"
            )
        if self.policy not in ("free", "forward_only"):
            raise ConfigError(f"facet {self.name!r}: unknown policy {self.policy!r}")

    @property
    def value_names(self) -> list[str]:
        return [v.name for v in self.values]

    def value(self, name: str) -> FacetValue:
        """Return the declared value ``name``; unknown values raise :class:`PolicyError`."""
        position = self._index.get(name)
        if position is None:
            raise PolicyError(
                f"{name!r} is not a value of facet {self.name!r} "
                f"(allowed: {', '.join(self.value_names)})"
            )
        return self.values[position]

    def check_change(self, old: str | None, new: str, cause: CauseType) -> None:
        """Raise :class:`PolicyError` when moving from ``old`` to ``new`` is not allowed."""
        target = self.value(new)
        if cause != "rule":
            if not self.manual_allowed:
                raise PolicyError(
                    f"facet {self.name!r} is set by rules only; a {cause} change is refused"
                )
            if target.auto_only:
                raise PolicyError(
                    f"value {new!r} of facet {self.name!r} is set by rules only; "
                    f"a {cause} change is refused"
                )
        moves_back = old in self._index and self._index[new] < self._index[str(old)]
        if self.policy == "forward_only" and moves_back:
            raise PolicyError(
                f"facet {self.name!r} only moves forward "
                f"({' > '.join(self.value_names)}); {old!r} to {new!r} is refused"
            )


class FacetRegistry:
    """All facets registered by plugins, with the plugin that provided each."""

    def __init__(self) -> None:
        self._facets: dict[str, Facet] = {}
        self.providers: dict[str, str] = {}

    def register(self, facet: Facet, provider: str) -> None:
        if not isinstance(facet, Facet):
            raise ConfigError(f"plugin {provider!r} registered {facet!r}, which is not a Facet")
        if facet.name in self._facets:
            raise ConfigError(
                f"facet {facet.name!r} is registered by both {self.providers[facet.name]!r} "
                f"and {provider!r}"
            )
        self._facets[facet.name] = facet
        self.providers[facet.name] = provider

    def get(self, name: str) -> Facet:
        try:
            return self._facets[name]
        except KeyError:
            known = ", ".join(sorted(self._facets)) or "none"
            raise ConfigError(f"unknown facet {name!r} (registered: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._facets

    def __iter__(self) -> Iterator[Facet]:
        return iter(self._facets.values())

    def names(self) -> list[str]:
        return sorted(self._facets)
