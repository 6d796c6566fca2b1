"""crmkit's default phone line types as a default plugin: phonenumbers' offline metadata.

Registered ``trylast``, so a real lookup provider's ``crmkit_phone_line_type`` answers
first; one that returns None passes to this.
"""

from __future__ import annotations

from crmkit.markers import hookimpl
from crmkit.phones import offline_line_type


@hookimpl(trylast=True)
def crmkit_phone_line_type(number: str) -> str | None:
    return offline_line_type(number)
