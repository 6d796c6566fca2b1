"""Hypothesis example counts: a quick profile for everyday runs, the full one for CI's
reliability run.

The profiles are registered when this module is imported (crmkit's own suite imports it
through :mod:`crmkit.testing.suite`, which also loads ``quick``):

* ``quick``: 10 examples for a test that does not say how many (Hypothesis' default
  is 100), and a tenth of the full count for one that does, through :func:`examples`.
* ``full``: Hypothesis' defaults, and every test's full count exactly
  (``pytest --hypothesis-profile=full``).

A test states its full count once::

    @settings(max_examples=examples(3000), deadline=None)
"""

from __future__ import annotations

import math

from hypothesis import settings

QUICK = "quick"
FULL = "full"
#: Hypothesis' own default count, which the full profile keeps.
FULL_DEFAULT = 100
QUICK_DEFAULT = 10
#: Never fewer examples than this.
SMALLEST = 1

settings.register_profile(FULL, max_examples=FULL_DEFAULT)
settings.register_profile(QUICK, max_examples=QUICK_DEFAULT)


def examples(full: int) -> int:
    """The example count for a test whose full count is ``full``, under the loaded profile.

    The count scales as the profile's default does against Hypothesis' default of 100:
    ``full`` under ``full`` (or any profile of 100), a tenth of it rounded up (at
    least one) under ``quick``.
    """
    loaded = settings.default
    share = (loaded.max_examples if loaded is not None else FULL_DEFAULT) / FULL_DEFAULT
    if share == 1:
        return full
    return max(min(full, SMALLEST), math.ceil(full * share))


__all__ = ["FULL", "QUICK", "examples"]
