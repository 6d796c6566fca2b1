"""Facet definitions are checked when a plugin registers them."""

from __future__ import annotations

import pytest

from crmkit.errors import ConfigError, PolicyError
from crmkit.facets import Facet, FacetValue

VALUES = (
    FacetValue("lead", "Lead"),
    FacetValue("prospect", "Prospect"),
    FacetValue("client", "Client"),
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default": "boss"}, "default 'boss' is not one of its values"),
        ({"values": ()}, "has no values"),
        ({"values": (FacetValue("a", "A"), FacetValue("a", "A2"))}, "'a' is declared twice"),
        ({"values": (FacetValue("a", "A", "chartreuse"),), "default": "a"}, "unknown colour"),
        ({"name": "not valid"}, "must be an identifier"),
        ({"policy": "sideways"}, "unknown policy"),
    ],
)
def test_bad_facet_definitions_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"name": "role", "label": "Role", "values": VALUES, "default": "lead"}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        Facet(**args)  # type: ignore[arg-type]


def test_forward_only_refuses_every_backward_move_on_every_path() -> None:
    role = Facet("role", "Role", VALUES, "lead", policy="forward_only")
    role.check_change("lead", "client", "manual")
    role.check_change("lead", "prospect", "import")
    for cause in ("manual", "rule", "import"):
        with pytest.raises(PolicyError, match="'client' to 'lead' is refused"):
            role.check_change("client", "lead", cause)  # type: ignore[arg-type]


def test_a_rules_only_facet_refuses_manual_and_import_changes() -> None:
    top = Facet(
        "top_10",
        "Top 10%",
        (FacetValue("no", "No"), FacetValue("yes", "Yes")),
        "no",
        manual_allowed=False,
    )
    top.check_change("no", "yes", "rule")
    for cause in ("manual", "import"):
        with pytest.raises(PolicyError, match="set by rules only"):
            top.check_change("no", "yes", cause)  # type: ignore[arg-type]
