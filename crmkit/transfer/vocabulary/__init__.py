"""The headers other products write in their exports, kept as data: one YAML file per
product in this folder.

Each file names its ``product``, a ``signature`` (headers that together say a file
came from it: at least ``min`` of them, 3 unless the file says, must be present; the
product with most present wins, or one named in ``over`` loses to this one) and
``columns``: a target (as ``--map`` takes it, or ``-`` for a column known and left
out) to the headers the product writes for it. Headers are compared by
:func:`header_key`: in any case, without accents, spaces or punctuation, so
``E-mail 1 - Value``, ``Straße geschäftlich`` and ``PostalCode`` match however a
product spells them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import yaml

from crmkit.errors import ConfigError

# A product is named when at least this many of its signature headers are present.
MIN_SIGNATURE = 3
# The generic vocabulary: consulted last, never named as a product.
GENERIC = "spreadsheet"


def header_key(text: str) -> str:
    """A header as the vocabulary compares it: folded case, no accents, letters and
    digits only (``Straße geschäftlich`` -> ``strassegeschaftlich``)."""
    folded = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return re.sub(r"[\W_]+", "", plain)


@dataclass(frozen=True)
class Product:
    """One product's vocabulary: header key to target text."""

    name: str
    source: str
    signature: frozenset[str]
    min_signature: int
    columns: dict[str, str]
    over: frozenset[str] = frozenset()

    def matches(self, keys: set[str]) -> int:
        """How many of the product's signature headers ``keys`` holds."""
        return len(self.signature & keys)


def _load(source: str, text: str) -> Product:
    data = yaml.safe_load(text)
    where = f"vocabulary {source}"
    if not isinstance(data, dict) or not isinstance(data.get("product"), str):
        raise ConfigError(f"{where}: expected a mapping with 'product', 'signature', 'columns'")
    columns: dict[str, str] = {}
    for target, headers in (data.get("columns") or {}).items():
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise ConfigError(f"{where}: {target}: expected a list of headers")
        for header in headers:
            # The first target listed for a header wins (a file lists each header once).
            columns.setdefault(header_key(header), str(target))
    signature = data.get("signature") or []
    if not isinstance(signature, list):
        raise ConfigError(f"{where}: 'signature' must be a list of headers")
    return Product(
        name=data["product"],
        source=source,
        signature=frozenset(header_key(str(h)) for h in signature),
        min_signature=int(data.get("min", MIN_SIGNATURE)),
        columns=columns,
        over=frozenset(str(name) for name in data.get("over") or []),
    )


@lru_cache(maxsize=1)
def products() -> tuple[Product, ...]:
    """Every product's vocabulary, by file name; the generic one last."""
    folder = files(__name__)
    found = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".yaml")),
        key=lambda entry: (entry.name == f"{GENERIC}.yaml", entry.name),
    )
    return tuple(_load(entry.name, entry.read_text(encoding="utf-8")) for entry in found)


def recognise(header: Sequence[str]) -> Product | None:
    """The product whose export ``header`` most looks like, or None."""
    keys = {header_key(name) for name in header}
    found = {
        product.name: (product, count)
        for product in products()
        if product.name != GENERIC and (count := product.matches(keys)) >= product.min_signature
    }
    for product, _ in list(found.values()):
        for beaten in product.over:
            found.pop(beaten, None)
    if not found:
        return None
    return max(found.values(), key=lambda pair: pair[1])[0]


def target_for(header: str, product: Product | None) -> str | None:
    """The target text the vocabularies give ``header``: the recognised product's
    first, then the generic one's, then any other product's; None if none knows it."""
    key = header_key(header)
    if not key:
        return None
    ordered = [p for p in products() if p is product]
    ordered += [p for p in products() if p.name == GENERIC]
    ordered += [p for p in products() if p is not product and p.name != GENERIC]
    for candidate in ordered:
        found = candidate.columns.get(key)
        if found is not None:
            return found
    return None
