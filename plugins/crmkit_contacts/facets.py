"""The contacts pack's lead status facet, and the event that converts a lead."""

from __future__ import annotations

from crmkit.plugin_api import Facet, FacetValue

LEAD_STATUS = Facet(
    name="lead_status",
    label="Lead status",
    values=(
        FacetValue("new", "New", "blue"),
        FacetValue("contacted", "Contacted", "teal"),
        FacetValue("qualified", "Qualified", "orange"),
        FacetValue("converted", "Converted", "green", auto_only=True),
        FacetValue("unqualified", "Unqualified", "grey"),
    ),
    default="new",
    policy="free",
    description="Where a contact is in the sales funnel of the contacts module.",
)

CONVERTED_EVENT = "lead_converted"
