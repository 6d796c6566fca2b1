"""What ships inside the installed package (tox runs these tests against the wheel)."""

from __future__ import annotations

from importlib.metadata import distribution
from importlib.resources import files

import pytest


@pytest.mark.parametrize(
    ("package", "resource"),
    [
        ("crmkit.rulesets", "17hats/contact_types.yaml"),
        ("crmkit.templates", "17hats/contact_card.txt.j2"),
        ("crmkit.conditions", "grammar.lark"),
        ("crmkit.storage.migrations", "script.py.mako"),
        ("crmkit.storage.migrations.versions", "0001_initial_schema.py"),
        ("crmkit.demo_data", "contacts.json"),
        ("crmkit.demo_data", "events.json"),
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
