"""The cause the pack's own tick changes are recorded with."""

from __future__ import annotations

from typing import Any

from crmkit.plugin_api import ChangeContext

PACK = "leadklozer"


def pack_cause(context: ChangeContext, rule: str) -> dict[str, Any]:
    """A rule cause of this pack, at the version the tenant uses."""
    version = next((p.version for p in context.runtime.packs if p.name == PACK), None)
    return {"cause_type": "rule", "pack": PACK, "pack_version": version, "rule": rule}
