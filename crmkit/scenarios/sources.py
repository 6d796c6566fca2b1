"""Which pack version a scenario file belongs to, so that it runs against that version.

A scenario file listed in the ``scenarios:`` of the ``pack.yaml`` beside it belongs to
the pack that manifest describes: ``crmkit rules test PATH`` and pytest then run the
folder's copy of the pack (not the installed one) and pin the pack's own name in the
file's ``packs:`` to the folder's version.
"""

from __future__ import annotations

from pathlib import Path

from crmkit.manifests import MANIFEST, load_pack
from crmkit.packs import Pack


def owning_pack(path: Path) -> Pack | None:
    """The pack whose manifest (in the file's folder) lists the scenario file ``path``,
    or None. A broken manifest raises its :class:`~crmkit.errors.SourceError`."""
    manifest = path.parent / MANIFEST
    if not manifest.is_file():
        return None
    pack = load_pack(path.parent)
    resolved = path.resolve()
    if any(Path(str(s)).resolve() == resolved for s in pack.scenarios):
        return pack
    return None
