"""The funnel's role facet and what each role may receive."""

from __future__ import annotations

from crmkit.plugin_api import Facet, FacetValue

ROLE = Facet(
    name="role",
    label="Role",
    values=(
        FacetValue("lead", "Lead", "blue"),
        FacetValue("prospect", "Prospect", "orange"),
        FacetValue("client", "Client", "green"),
    ),
    default="lead",
    policy="forward_only",
    description="Where a contact is in the sales funnel; conversion only moves forward.",
)

# Activities (event kinds, and "project" for being a project's primary contact) and the
# roles that may receive them. Activities not listed are open to every role.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "private_material_shared": ("prospect", "client"),
    "private_message_sent": ("prospect", "client"),
    "estimate_sent": ("prospect", "client"),
    "proposal_sent": ("prospect", "client"),
    "invoice_sent": ("client",),
    "project": ("client",),
}


def refusal(role: str, activity: str) -> str | None:
    """Why a contact of ``role`` may not receive ``activity`` (None when it may)."""
    allowed = PERMISSIONS.get(activity)
    if allowed is None or role in allowed:
        return None
    what = "being assigned to a project" if activity == "project" else activity.replace("_", " ")
    return f"only a {' or '.join(allowed)} may receive {what}, and this contact is a {role}"
