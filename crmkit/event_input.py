"""Checking ingest items: a direct check for the plain shape, :class:`EventIn` for the rest.

Validating a model costs about as much per event as matching its rules, and nearly every
item of an ingest has the same plain shape: an integer contact, a kind, a JSON object
of data, a string id, no time or a ``datetime``. :func:`plain_event` checks exactly that
shape and accepts an item only when :class:`~crmkit.schemas.EventIn` would accept it
with the same values (a hypothesis test holds the two to it); anything else, valid or
not, goes through the model, which also words the errors.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from crmkit.clock import as_utc
from crmkit.schemas import (
    EVENT_ID_MAX,
    EVENT_KIND_MAX,
    EVENT_KIND_PATTERN,
    json_problem,
    nul_problem,
)
from crmkit.storage.types import INT64_MAX

_KIND = re.compile(EVENT_KIND_PATTERN.removeprefix("^").removesuffix("$"))
_KEYS = frozenset({"contact", "kind", "data", "id", "at"})
# Ids whose ends are plain ASCII: the model strips whitespace from both ends, and only
# for these is it certain that stripping changes nothing.
_PLAIN_END = frozenset(chr(c) for c in range(0x21, 0x7F))


class PlainEvent(NamedTuple):
    contact: int
    kind: str
    data: dict[str, Any]
    id: str | None
    at: datetime | None


def plain_event(item: Mapping[str, Any]) -> PlainEvent | None:
    """The item's values if it has the plain shape and is valid; None sends it to the model."""
    if not _KEYS.issuperset(item):
        return None
    contact = item.get("contact")
    kind = item.get("kind")
    if type(contact) is not int or not 0 < contact <= INT64_MAX:
        return None
    if type(kind) is not str or len(kind) > EVENT_KIND_MAX or _KIND.fullmatch(kind) is None:
        return None
    data = item.get("data", {})
    if type(data) is not dict or json_problem(data) is not None:
        return None
    event_id = item.get("id")
    if event_id is not None and (
        type(event_id) is not str
        or not 0 < len(event_id) <= EVENT_ID_MAX
        or event_id[0] not in _PLAIN_END
        or event_id[-1] not in _PLAIN_END
        or nul_problem(event_id, "id") is not None
    ):
        return None
    at = item.get("at")
    if at is not None:
        if type(at) is not datetime:
            return None
        at = as_utc(at)
    return PlainEvent(contact, kind, dict(data), event_id, at)


def read_json(text: str) -> Any:
    """Parse one JSON document; any way it can fail is a ValueError with a one-line
    reason (not only malformed text: nesting too deep for the parser's recursion, and
    integers too long for Python to convert)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("not JSON that can be read: nested too deeply") from None
    except ValueError:
        # Python refuses to convert integers of more than 4,300 digits (sys.int_info).
        raise ValueError("not JSON that can be read: a number has too many digits") from None


def read_json_lines(lines: Iterable[bytes]) -> Iterator[Any]:
    """The items of a JSON Lines file given as its raw lines (blank lines skipped).

    A line that cannot be read (not UTF-8, not JSON, too deep, a number too long) is
    yielded as a ValueError naming its line, for ingest to count as a failed item; the
    lines after it are read as usual.
    """
    for number, raw in enumerate(lines, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield ValueError(
                f"line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})"
            )
            continue
        if not line.strip():
            continue
        try:
            yield read_json(line)
        except ValueError as exc:
            yield ValueError(f"line {number}: {exc}")
