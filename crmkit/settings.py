"""Tenant settings: each has a declared type and range, checked whenever it is set.

Packs declare their settings through ``crmkit_register_settings`` (the plugin that
registers the pack), crmkit declares its own (:mod:`crmkit.core_settings`). A value is
checked by ``Tenant.update_settings``, ``CRM.configure_tenant`` and ``crmkit settings
set`` / ``crmkit init --setting``, and refused with a :class:`ConfigError` naming the
setting, the value and what is allowed; nothing is written then. A setting no plugin
declares is kept as given (plugins and applications keep their own values there),
with an :class:`UnknownSettingWarning`, as long as it is plain JSON (finite numbers).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crmkit.errors import ConfigError, PluginError

KINDS = ("integer", "number", "boolean", "text", "mapping")


class UnknownSettingWarning(UserWarning):
    """A setting was stored that no installed plugin declares (a typo, or an
    application's own value)."""


def shown(value: Any) -> str:
    """A value as the user wrote it (JSON), short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Setting:
    """One tenant setting: ``kind`` is integer, number, boolean, text or mapping;
    ``minimum``/``maximum`` bound numbers (and a text's length); ``pattern`` is a
    regular expression a text must match in full; ``check`` (mappings) returns the
    reason a value is wrong, or None."""

    name: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    description: str = ""
    pattern: str | None = None
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", self.name or ""):
            raise ConfigError(f"setting name {self.name!r} is not a plain lower-case name")
        if self.kind not in KINDS:
            raise ConfigError(f"setting {self.name}: kind {self.kind!r} is not one of {KINDS}")

    def allowed(self) -> str:
        """What the setting accepts, in words."""
        if self.kind in ("integer", "number"):
            what = "a whole number" if self.kind == "integer" else "a number"
            unit = f" of {self.unit}" if self.unit else ""
            low = "" if self.minimum is None else f" from {self.minimum:g}"
            high = "" if self.maximum is None else f" to {self.maximum:g}"
            return f"{what}{unit}{low}{high}"
        if self.kind == "text":
            shortest, longest = int(self.minimum or 0), int(self.maximum or 200)
            like = f" matching {self.pattern}" if self.pattern else ""
            return f"a text of {shortest} to {longest} characters{like}"
        return "true or false" if self.kind == "boolean" else "a mapping"

    def validate(self, value: Any) -> Any:
        """``value`` as stored (5.0 for an integer is 5); ConfigError when not allowed."""
        reason = self._reason(value)
        if reason is not None:
            raise ConfigError(
                f"setting {self.name} = {shown(value)} is refused: {reason} "
                f"(allowed: {self.allowed()})"
            )
        if self.kind == "integer":
            return int(value)
        return value

    def read(self, settings: Mapping[str, Any], default: Any) -> Any:
        """The value a tenant has (``default`` when unset), for code that uses it: a
        value stored before it was checked is a ConfigError saying how to fix it."""
        value = settings.get(self.name, default)
        try:
            return self.validate(value)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; fix it with `crmkit settings set {self.name} VALUE`"
            ) from None

    def _reason(self, value: Any) -> str | None:
        if self.kind == "boolean":
            return None if isinstance(value, bool) else "not true or false"
        if self.kind in ("integer", "number"):
            return self._number_reason(value)
        if self.kind == "text":
            return self._text_reason(value)
        if not isinstance(value, dict):
            return "not a mapping"
        return json_problem(value) or (self.check(value) if self.check else None)

    def _number_reason(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "not a number"
        if not math.isfinite(value):
            return "not a finite number"
        if self.kind == "integer" and value != int(value):
            return "not a whole number"
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        return None if low <= value <= high else "out of range"

    def _text_reason(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return "not a text"
        if not int(self.minimum or 0) <= len(value) <= int(self.maximum or 200):
            return "too short" if len(value) < int(self.minimum or 0) else "too long"
        if any(ord(c) < 32 for c in value):
            return "holds a control character"
        if self.pattern and not re.fullmatch(self.pattern, value):
            return "not in the expected form"
        return None


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` is not plain JSON that every database stores (None when it is)."""
    if depth > 20:
        return "nested too deeply"
    if value is None or isinstance(value, (bool, str)):
        return "holds a NUL character" if isinstance(value, str) and "\0" in value else None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**63 else "a number beyond 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else "not a finite number"
    if isinstance(value, (list, tuple)):
        return next((p for p in (json_problem(v, depth + 1) for v in value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "a mapping with keys that are not text"
        return next((p for p in (json_problem(v, depth + 1) for v in value.values()) if p), None)
    return f"a {type(value).__name__}, not a JSON value"


class SettingRegistry:
    """The declared settings, each credited to the plugin that declared it."""

    def __init__(self) -> None:
        self._settings: dict[str, Setting] = {}
        self.providers: dict[str, str] = {}

    def register(self, setting: Setting, provider: str) -> None:
        if not isinstance(setting, Setting):
            raise PluginError(f"plugin {provider!r} registered {setting!r}, which is not a Setting")
        known = self.providers.get(setting.name)
        if known is not None and self._settings[setting.name] != setting:
            raise PluginError(
                f"setting {setting.name!r} is declared differently by {known!r} and {provider!r}"
            )
        self._settings[setting.name] = setting
        self.providers.setdefault(setting.name, provider)

    def get(self, name: str) -> Setting | None:
        return self._settings.get(name)

    def all(self) -> list[Setting]:
        return [self._settings[name] for name in sorted(self._settings)]

    def checked(self, values: Mapping[str, Any], *, stacklevel: int = 3) -> dict[str, Any]:
        """``values`` as they are stored; ConfigError naming the first refused one."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"settings are a mapping of names to values, not {shown(values)}")
        out: dict[str, Any] = {}
        unknown: list[str] = []
        for name, value in values.items():
            setting = self._settings.get(name) if isinstance(name, str) else None
            if setting is not None:
                out[name] = setting.validate(value)
                continue
            if not isinstance(name, str) or not name.strip() or len(name) > 100:
                raise ConfigError(f"setting name {name!r} must be a text of 1 to 100 characters")
            problem = json_problem(value)
            if problem:
                raise ConfigError(f"setting {name} = {shown(value)} is refused: {problem}")
            out[name] = value
            unknown.append(name)
        if unknown:
            warnings.warn(
                f"no installed plugin declares setting(s) {', '.join(unknown)}; stored as given",
                UnknownSettingWarning,
                stacklevel=stacklevel,
            )
        return out

    def unknown(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self._settings]
