"""crmkit's job queue as a default plugin: its table's migrations (the ``jobs`` branch)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.resources import files

from crmkit import hookimpl

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable


@hookimpl
def crmkit_register_migrations(register: Callable[[Traversable | str], None]) -> None:
    register(files("crmkit.jobs").joinpath("migrations"))
