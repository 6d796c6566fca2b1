"""crmkit's schema migrations (Alembic), and the folders plugins contribute.

The core's revisions are in ``versions/``. A plugin that owns tables contributes a
folder of its own revisions through ``crmkit_register_migrations``: one Alembic branch
per plugin ("multiple bases"), with its own ``branch_labels``, whose first revision
``depends_on`` the core revision that made the tables it refers to. ``crmkit init``
upgrades every branch to its head (``heads``) in one transaction (see ``env.py``).
"""

from __future__ import annotations

import os
import sys

from crmkit.errors import PluginError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable


def migration_location(folder: Traversable | str | os.PathLike[str], provider: str) -> str:
    """The file-system path of a plugin's migration folder, checked to be one."""
    path = os.fspath(folder) if isinstance(folder, (str, os.PathLike)) else str(folder)
    if not os.path.isdir(path):
        raise PluginError(
            f"plugin {provider!r} registered migrations in {path!r}, which is not a folder "
            "(an installed package's folder of Alembic revision scripts)"
        )
    return os.path.abspath(path)
