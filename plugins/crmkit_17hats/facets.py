"""The 17hats contact type facet (its values and fixed colours)."""

from __future__ import annotations

from crmkit.plugin_api import Facet, FacetValue

CONTACT_TYPE = Facet(
    name="contact_type",
    label="Contact type",
    values=(
        FacetValue("hot_lead", "Hot Lead", "orange"),
        FacetValue("client", "Client", "green"),
        FacetValue("cold_prospect", "Cold Prospect", "blue"),
        FacetValue("other", "Other", "grey"),
    ),
    default="other",
    policy="free",
    colours_fixed=True,
    description="How 17hats sorts contacts; the colours are part of the product.",
)
