"""What ships inside the installed package (tox runs these tests against the wheel)."""

from __future__ import annotations

import importlib.util
from importlib.metadata import distribution
from importlib.resources import files
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("package", "resource"),
    [
        ("crmkit_17hats", "pack/pack.yaml"),
        ("crmkit_17hats", "pack/contact_types.yaml"),
        ("crmkit_17hats", "pack/contact_types.scenarios.yaml"),
        ("crmkit_17hats", "pack/templates/contact_card.txt.j2"),
        ("crmkit_leadklozer", "pack/scoring.yaml"),
        ("crmkit_leadklozer", "migrations/leadklozer_0001_score_state.py"),
        ("crmkit.templates", "profile.html.j2"),
        ("crmkit.conditions", "grammar.lark"),
        ("crmkit.storage.migrations", "script.py.mako"),
        ("crmkit.storage.migrations.versions", "0001_initial_schema.py"),
        ("crmkit_demo", "data/contacts.json"),
        ("crmkit_demo", "data/events.json"),
    ],
)
def test_rulesets_templates_and_data_ship_inside_the_package(package: str, resource: str) -> None:
    assert files(package).joinpath(resource).is_file()


def test_the_distribution_declares_its_plugin_and_command() -> None:
    dist = distribution("crmkit")
    entry_points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert entry_points[("crmkit", "17hats")] == "crmkit_17hats"
    assert entry_points[("console_scripts", "crmkit")] == "crmkit.cli.main:main"
    assert files("crmkit").joinpath("py.typed").is_file()


def test_every_package_of_the_source_tree_is_installed() -> None:
    """The wheel lists its packages by name: a new folder left out of pyproject.toml
    would pass in a checkout and fail for every user."""
    source = Path(__file__).resolve().parents[1] / "crmkit"
    names = sorted(
        ".".join(init.parent.relative_to(source.parent).parts)
        for init in source.rglob("__init__.py")
    )
    assert "crmkit.replay" in names
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    assert missing == []
