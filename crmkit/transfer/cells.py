"""Cell text that is safe to hand to a spreadsheet, and short enough to show.

A spreadsheet runs a CSV cell starting with ``= + - @``, a tab or a carriage return as a
formula (CSV injection), so exported and reported cells that start with one get a
leading single quote, as OWASP advises. The quote is removed again when a CSV file is
imported. To keep every value intact, a value that already starts with quotes followed
by one of those characters (``'=x``) gets one more quote too: export adds exactly one
quote to what matches ``'*[=+\\-@\\t\\r]`` and import removes exactly one from what
matches ``'+[=+\\-@\\t\\r]``.
"""

from __future__ import annotations

import re
from typing import Any

# Characters a spreadsheet reads as the start of a formula.
FORMULA_START = "=+-@\t\r"
_NEEDS_ESCAPE = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
# Values shown in previews, summaries and error reports are cut to this many characters.
SHOWN_CHARACTERS = 200


def escape_formula(value: Any) -> Any:
    """``value`` as a spreadsheet shows it as text (non-text values are left alone)."""
    if isinstance(value, str) and _NEEDS_ESCAPE.match(value):
        return "'" + value
    return value


def unescape_formula(text: str) -> str:
    """The value :func:`escape_formula` turned into ``text``."""
    return text[1:] if _ESCAPED.match(text) else text


def shorten(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"
