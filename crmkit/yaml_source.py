"""YAML documents that remember where each value came from.

Pack manifests, scenario files and rulesets are written by hand; an error in one must
name the file and the line. PyYAML's plain ``safe_load`` forgets positions, so the text
is composed into nodes once and loaded from them; :meth:`YamlSource.line` then finds the
line of any path of keys and indexes (a pydantic error location, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
import yaml

from crmkit.errors import SourceError


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML document: its data and the node tree that knows the lines."""

    source: str
    data: Any
    root: yaml.Node | None

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line (1-based) of the deepest node ``path`` reaches: for a mapping key,
        the line of the key (where an unknown or wrong key is written)."""
        node = self.root
        if node is None:
            return None
        mark = node.start_mark
        for part in path:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        child, mark = value, key.start_mark
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                mark = child.start_mark
            if child is None:
                break
            node = child
        return mark.line + 1

    def error(self, path: Sequence[str | int], reason: str) -> SourceError:
        return SourceError(self.source, reason, self.line(path))

    def validate(self, model: type[pydantic.BaseModel], what: str) -> Any:
        """``model`` validated from the whole document; the first problem becomes a
        :class:`SourceError` with its line and dotted location."""
        if not isinstance(self.data, dict):
            raise SourceError(self.source, f"{what} is a mapping of keys", self.line(()))
        try:
            return model.model_validate(self.data)
        except pydantic.ValidationError as exc:
            path, message = describe_validation(exc)
            raise self.error(path, located(path, message)) from None


def describe_validation(exc: pydantic.ValidationError) -> tuple[list[str | int], str]:
    """The location and a plain-words reason of a pydantic error's first problem."""
    first = exc.errors()[0]
    path: list[str | int] = [p for p in first["loc"] if isinstance(p, (str, int))]
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "is required"
    return path, message


def located(path: Sequence[str | int], message: str) -> str:
    """``message`` prefixed with its dotted location: ``rules[2].then: is required``."""
    shown = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in path).lstrip(".")
    return f"{shown}: {message}" if shown else message


# libyaml's parser, where PyYAML was built with it, composes seven times faster (every
# CRM and every CLI command loads each pack's files); the pure-Python one still parses a
# text libyaml refuses, so that errors read the same everywhere.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            node: yaml.Node | None = yaml.compose(text, Loader=_FAST_LOADER)
            return node
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_yaml(text: str, source: str) -> YamlSource:
    """Parse ``text``; a syntax error becomes a :class:`SourceError` with its line."""
    try:
        root = _compose(text)
        loader = yaml.SafeLoader("")
        try:
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError(
            source, f"not valid YAML: {problem}", mark.line + 1 if mark else None
        ) from None
    return YamlSource(source, data, root)
