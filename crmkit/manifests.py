"""Pack manifests: a pack described by a ``pack.yaml`` file beside its rulesets.

```yaml
name: followup
version: 1.2.0
description: Follow up quiet leads
facets: [contact_type]             # facets the rules use (registered by any plugin)
rulesets: [followup.yaml]          # run in this order
scenarios: [followup.scenarios.yaml]
templates: templates               # a folder of Jinja2 templates, optional
search_keys: [channel]
settings: {followup_after_days: 7}
fields:
  - {name: budget, label: Budget, type: number, section: details}
```

Paths are relative to the manifest's folder. A plugin registers the pack with
``register(load_pack(files("my_plugin") / "pack"))``. Every problem is a
:class:`~crmkit.errors.SourceError` naming the manifest and the line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crmkit.errors import ConfigError, SourceError
from crmkit.field_types import FieldSpec
from crmkit.packs import Pack, check_pack_name, check_search_key, check_version
from crmkit.yaml_source import parse_yaml

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable

MANIFEST = "pack.yaml"


class FieldEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str
    type: str = "text"
    section: str = "custom"
    choices: list[str] = Field(default_factory=list)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str = ""
    rulesets: list[str] = Field(default_factory=list)
    scenarios: list[str] = Field(default_factory=list)
    facets: list[str] = Field(default_factory=list)
    templates: str | None = None
    search_keys: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    fields: list[FieldEntry] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        # YAML reads 1.10 as the number 1.1: only a quoted version says what was meant.
        if isinstance(value, (int, float)):
            raise ValueError(f"write the version in quotes ('{value}'): YAML reads it as a number")
        return value


def _resolve(folder: Traversable, relative: str) -> Traversable:
    target = folder
    for part in relative.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"{relative!r} must be a plain path inside the pack's folder")
        target = target.joinpath(part)
    return target


def load_pack(folder: Traversable, manifest: str = MANIFEST) -> Pack:
    """The pack described by ``folder/manifest`` (a ``pathlib.Path`` or an
    ``importlib.resources`` folder)."""
    resource = folder.joinpath(manifest)
    source = str(resource)
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(source, f"cannot read the pack manifest: {exc}") from None
    document = parse_yaml(text, source)
    spec: Manifest = document.validate(Manifest, "a pack manifest")

    def files(key: str, names: list[str], folders: bool = False) -> tuple[Traversable, ...]:
        found = []
        for index, name in enumerate(names):
            try:
                target = _resolve(folder, name)
            except ValueError as exc:
                raise document.error((key, index), f"{key}: {exc}") from None
            exists = target.is_dir() if folders else target.is_file()
            if not exists:
                kind = "folder" if folders else "file"
                raise document.error((key, index), f"{key}: no {kind} {name!r} beside the manifest")
            found.append(target)
        return tuple(found)

    def checked(path: tuple[str | int, ...], check: Callable[..., None], *args: str) -> None:
        try:
            check(*args)
        except ConfigError as exc:
            raise document.error(path, str(exc)) from None

    checked(("name",), check_pack_name, spec.name)
    checked(("version",), check_version, spec.name, spec.version)
    for index, key in enumerate(spec.search_keys):
        checked(("search_keys", index), check_search_key, spec.name, key)
    templates = files("templates", [spec.templates], folders=True)[0] if spec.templates else None
    fields = []
    for index, entry in enumerate(spec.fields):
        try:
            fields.append(
                FieldSpec(entry.name, entry.label, entry.type, entry.section, tuple(entry.choices))
            )
        except ConfigError as exc:
            raise document.error(("fields", index), str(exc)) from None
    try:
        return Pack(
            name=spec.name,
            version=spec.version,
            rulesets=files("rulesets", spec.rulesets),
            scenarios=files("scenarios", spec.scenarios),
            facets=tuple(spec.facets),
            templates=templates,
            description=spec.description,
            settings=dict(spec.settings),
            search_keys=tuple(spec.search_keys),
            fields=tuple(fields),
        )
    except ConfigError as exc:
        # Name, version and search keys were checked above: what is left is the fields.
        raise document.error(("fields",), str(exc)) from None
