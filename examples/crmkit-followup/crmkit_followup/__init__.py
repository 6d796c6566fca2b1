"""crmkit-followup: an example vendor pack.

It brings one facet, ``followup`` (none > due > answered), and the ``followup`` pack
described by ``pack/pack.yaml``: sending a quote makes a follow-up due and schedules a
text from the pack's template; an answer closes it; a follow-up due for longer than the
tenant's ``followup_stale_days`` (default 7) gets the tag ``stale`` at the next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from crmkit import hookimpl
from crmkit.facets import Facet, FacetValue
from crmkit.manifests import load_pack
from crmkit.packs import Pack

FOLLOWUP = Facet(
    name="followup",
    label="Follow-up",
    values=(
        FacetValue("none", "None", "grey"),
        FacetValue("due", "Due", "orange", auto_only=True),
        FacetValue("answered", "Answered", "green"),
    ),
    default="none",
    policy="forward_only",
    description="Where the contact is in following up a quote.",
)


@hookimpl
def crmkit_register_facets(register: Callable[[Facet], None]) -> None:
    register(FOLLOWUP)


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_followup").joinpath("pack")))
