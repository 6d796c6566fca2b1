"""What erasing a contact wipes from the contacts pack: its email and phone in segments.

Where a segment's condition or description spells them out (whole, in any case), they
are replaced by :data:`crmkit.erasure.ERASED`. Names are left alone: a name is shared
by other contacts, and a search on it is about all of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from crmkit.plugin_api import ERASED, TenantScope, literal_pattern
from crmkit_contacts.tables import SegmentRow

_S = SegmentRow.__table__.c


def scrub_saved_searches(conn: Connection, scope: TenantScope, literals: Iterable[str]) -> int:
    """Replace ``literals`` in the tenant's saved searches; return how many changed."""
    pattern = literal_pattern(literals)
    if pattern is None:
        return 0
    rows = conn.execute(scope.select(_S.name, _S.condition, _S.description)).all()
    changed = 0
    for name, condition, description in rows:
        clean = pattern.sub(ERASED, condition), pattern.sub(ERASED, description or "")
        if clean == (condition, description or ""):
            continue
        conn.execute(
            scope.update(SegmentRow)
            .where(_S.name == name)
            .values(condition=clean[0], description=clean[1])
        )
        changed += 1
    return changed
