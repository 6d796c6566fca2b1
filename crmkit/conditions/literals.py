"""The literal values of the condition language: strings with their escapes, numbers,
and relative times, each checked so that a value the databases or the rule engines
cannot hold is refused where it is written, with its column, and never reaches them.

A refusal is a :class:`LiteralError` with the reason and the offset of the fault in the
literal; the parser turns it into a :class:`~crmkit.errors.ConditionError` at the right
column.
"""

from __future__ import annotations

import math
import re
import unicodedata

from crmkit.storage.types import INT64_MAX

# A relative time reaches back at most this far: further is surely a typo, and far
# enough breaks date arithmetic (a date before year 1).
MAX_SPAN_DAYS = 36_525
MAX_SPAN_TEXT = "100 years"
UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0}

_SIMPLE = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "a": "\a",
    "0": "\0",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
}
_ESCAPE = re.compile(r"\\(.?)", re.S)
_HEX = re.compile(r"[0-9a-fA-F]+")
_DIGITS = {"x": 2, "u": 4, "U": 8}


class LiteralError(ValueError):
    """A literal the language cannot hold; ``offset`` is where in it the fault is."""

    def __init__(self, reason: str, offset: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


def check_text(value: str, offset: int = 0) -> str:
    """``value`` if it is text every database can encode (UTF-8: no lone surrogates). A
    NUL is let through: SQLite searches for it, PostgreSQL's guard refuses it clearly."""
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise LiteralError(
                f"U+{ord(char):04X} is half of a surrogate pair, not a character", offset + index
            )
    return value


def unescape(raw: str) -> str:
    """The text of a string literal's inside: JSON's escapes and Python's (``\\xHH``,
    ``\\N{NAME}``, ``\\UHHHHHHHH``); a ``\\uD83D\\uDE00`` pair is one character. An
    unknown or incomplete escape is refused, never kept as it is."""
    out: list[str] = []
    position = 0
    while True:
        found = _ESCAPE.search(raw, position)
        if found is None:
            out.append(raw[position:])
            break
        out.append(raw[position : found.start()])
        char, position = _escape(raw, found.start(), found.group(1))
        out.append(char)
    return _join_pairs("".join(out), raw)


def _escape(raw: str, start: int, kind: str) -> tuple[str, int]:
    """The character the escape at ``start`` stands for, and where the text goes on."""
    after = start + 2
    if kind in _SIMPLE:
        return _SIMPLE[kind], after
    if kind in _DIGITS:
        width = _DIGITS[kind]
        digits = raw[after : after + width]
        if len(digits) < width or not _HEX.fullmatch(digits):
            example = {"x": "\\x41", "u": "\\u00e9", "U": "\\U0001F600"}[kind]
            raise LiteralError(f"\\{kind} needs {width} hex digits (e.g. {example})", start)
        code = int(digits, 16)
        if code > 0x10FFFF:
            raise LiteralError(f"\\{kind}{digits} is beyond the last character U+10FFFF", start)
        return chr(code), after + width
    if kind == "N":
        end = raw.find("}", after)
        if not raw.startswith("{", after) or end < 0:
            raise LiteralError("\\N needs a character name in braces (e.g. \\N{EM DASH})", start)
        name = raw[after + 1 : end]
        try:
            return unicodedata.lookup(name), end + 1
        except KeyError:
            raise LiteralError(f"\\N{{{name}}}: no character has this name", start) from None
    shown = f"\\{kind}" if kind else "\\ at the end"
    raise LiteralError(f"unknown escape {shown!r} in a string (write \\\\ for a backslash)", start)


def _join_pairs(text: str, raw: str) -> str:
    """``text`` with each surrogate pair made one character; a lone half is refused."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if "\ud800" <= char <= "\udbff" and index + 1 < len(text):
            low = text[index + 1]
            if "\udc00" <= low <= "\udfff":
                out.append(chr(0x10000 + ((ord(char) - 0xD800) << 10) + ord(low) - 0xDC00))
                index += 2
                continue
        if "\ud800" <= char <= "\udfff":
            at = raw.lower().find(f"\\u{ord(char):04x}")
            raise LiteralError(
                f"\\u{ord(char):04X} is half of a surrogate pair, not a character (write a "
                "character beyond U+FFFF as a pair, e.g. \\uD83D\\uDE00, or as \\U0001F600)",
                max(at, 0),
            )
        out.append(char)
        index += 1
    return "".join(out)


def number(raw: str) -> int | float:
    """The number ``raw`` writes; finite, and a whole number within 64 bits."""
    if any(c in raw for c in ".eE"):
        value = float(raw)
        if not math.isfinite(value):
            raise LiteralError(f"the number {raw} is too large (beyond about 1.8e308)")
        return value
    whole = int(raw)
    if not -INT64_MAX - 1 <= whole <= INT64_MAX:
        raise LiteralError(f"the number {raw} is beyond 64 bits")
    return whole


def span(raw: str | float, unit: str) -> float:
    """The amount of a relative time (``30 days``): positive, finite, at most 100 years."""
    amount = float(raw)
    if amount < 0:
        raise LiteralError("use a positive amount before the unit")
    if not amount * UNIT_DAYS[unit] <= MAX_SPAN_DAYS:  # also false for inf and nan
        raise LiteralError(
            f"{raw if isinstance(raw, str) else f'{raw:g}'} {unit}s is more than "
            f"{MAX_SPAN_TEXT} ({MAX_SPAN_DAYS:,} days)"
        )
    return amount
