"""Columns that plugins add to contact imports and exports.

A transfer column is a list of names per contact that a plugin keeps in its own
tables (a pack's groups, for example). A plugin registers one through
``crmkit_register_transfer_columns``; from then on:

* an import maps a column to it by its name or a synonym (as it maps ``tags``): the
  cell holds names separated by ``,`` or ``;``, each checked by :attr:`TransferColumn.clean`,
  and :attr:`TransferColumn.write` gets the batch's (contact, names) pairs in the
  import's own transaction, so a batch that fails writes none of them;
* an export asks :attr:`TransferColumn.read` for each page of contacts and writes the
  names as one more column after ``tags``, so importing the export reads them back.

Without the plugin the name is no target: a mapping that names it fails naming the
column, and a header that would have suggested it stays unmapped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import Connection

from crmkit.errors import PluginError
from crmkit.storage.scope import TenantScope
from crmkit.transfer.mapping import ATTRIBUTES, LISTS, SPECIAL

# (contact id, the names its row gave), for the contacts of one import batch.
Wanted = Sequence[tuple[int, Sequence[str]]]
ColumnWriter = Callable[[Connection, TenantScope, Wanted, datetime], Collection[int]]
ColumnReader = Callable[[Connection, TenantScope, Sequence[int]], Mapping[int, Sequence[str]]]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = frozenset((*ATTRIBUTES, *SPECIAL, *LISTS, "facets", "fields"))


@dataclass(frozen=True)
class TransferColumn:
    """A list column a plugin adds to imports and exports.

    ``name`` is the target and the export's header (a lower-case word); ``synonyms``
    are other headers that suggest it; ``tables`` the tables ``write`` grows (on
    PostgreSQL a large import analyses them as it goes, with the core's).
    ``clean(name)`` returns one name of a cell as it is stored, or raises
    ``ValueError`` with the reason (the import reports it against the cell and skips
    that name). ``write(connection, scope, wanted, now)`` stores the names of
    ``wanted`` (contact id, names) in the import's transaction and returns the
    contacts it changed (they count as updated). ``read(connection, scope,
    contact_ids)`` returns each contact's names in the order to export them. The
    functions go to import worker processes with the mapping: make them module level
    functions (or other objects that pickle).
    """

    name: str
    clean: Callable[[str], str]
    write: ColumnWriter
    read: ColumnReader
    synonyms: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


class ColumnRegistry:
    """The transfer columns the installed plugins registered, by name."""

    def __init__(self) -> None:
        self._columns: dict[str, TransferColumn] = {}
        self.providers: dict[str, str] = {}

    @property
    def columns(self) -> Mapping[str, TransferColumn]:
        """The columns in registration order (read-only)."""
        return MappingProxyType(self._columns)

    def register(self, column: TransferColumn, provider: str) -> None:
        if not isinstance(column, TransferColumn):
            raise PluginError(
                f"plugin {provider!r} registered {column!r} as a transfer column: "
                "register a crmkit.plugin_api.TransferColumn"
            )
        name = column.name
        if not _NAME.fullmatch(name) or name in _RESERVED:
            raise PluginError(
                f"plugin {provider!r} registered a transfer column named {name!r}: use a "
                "lower-case word that is not a built-in import target"
            )
        if name in self._columns:
            raise PluginError(
                f"transfer column {name!r} is registered by both "
                f"{self.providers[name]!r} and {provider!r}"
            )
        bad = [t for t in column.tables if not isinstance(t, str) or not _TABLE.fullmatch(t)]
        if bad:
            raise PluginError(
                f"plugin {provider!r}: transfer column {name!r} names bad tables {bad!r}"
            )
        self._columns[name] = column
        self.providers[name] = provider
