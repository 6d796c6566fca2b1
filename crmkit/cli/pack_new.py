"""``crmkit pack new NAME``: a pip-installable pack folder whose own tests pass.

The scaffold is the smallest pack a vendor grows from: a pyproject with crmkit's entry
point, a plugin module that registers the pack, ``pack.yaml`` with one ruleset, one
scenario that exercises its rule, and one pytest test using crmkit's fixtures.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import click

from crmkit.cli.output import console
from crmkit.plugins import installed_entry_points

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "crmkit-{dist}"
version = "0.1.0"
description = "A crmkit rule pack: {name}"
requires-python = ">=3.10"
dependencies = ["crmkit"]

# crmkit finds the pack through this entry point.
[project.entry-points.crmkit]
{name} = "crmkit_{name}"

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.setuptools]
packages = ["crmkit_{name}"]

[tool.setuptools.package-data]
crmkit_{name} = ["pack/*.yaml"]

[tool.pytest.ini_options]
# The scenario files are test items too (crmkit's pytest plugin collects them).
testpaths = ["tests", "crmkit_{name}/pack"]
"""

PLUGIN = '''\
"""crmkit-{dist}: the {name} pack, described by ``pack/pack.yaml``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from crmkit import hookimpl
from crmkit.manifests import load_pack
from crmkit.packs import Pack


@hookimpl
def crmkit_register_packs(register: Callable[[Pack], None]) -> None:
    register(load_pack(files("crmkit_{name}").joinpath("pack")))
'''

MANIFEST = """\
name: {name}
version: "0.1.0"
description: What the {name} pack does
rulesets: [{name}.yaml]
scenarios: [{name}.scenarios.yaml]
"""

RULESET = """\
description: The {name} pack's rules
rules:
  - name: a signup tags the contact
    when: event.kind == signed_up
    then:
      - tag: signed_up
"""

SCENARIOS = """\
packs: [{name}]
scenarios:
  - name: a signup tags the contact
    given:
      ada: {{first_name: Ada}}
    when:
      - {{event: signed_up, contact: ada}}
    then:
      ada:
        tags: [signed_up]
"""

TEST = '''\
"""The {name} pack's own tests, with crmkit's pytest fixtures."""

from __future__ import annotations

import pytest

from crmkit import CRM, Tenant
from crmkit.rules.checker import check_packs


def test_the_rules_have_no_problems(crmkit_crm: CRM) -> None:
    assert check_packs(crmkit_crm, [crmkit_crm.packs.resolve("{name}")]) == []


@pytest.mark.crmkit_packs("{name}")
def test_a_signup_tags_the_contact(crmkit_tenant: Tenant) -> None:
    ada = crmkit_tenant.add_contact({{"first_name": "Ada"}})
    crmkit_tenant.record_event(ada.id, "signed_up")
    assert "signed_up" in crmkit_tenant.get_contact(ada.id).tags
'''


def scaffold(name: str, parent: Path) -> Path:
    """Write the pack folder ``crmkit-NAME`` under ``parent``; return its path.

    Refuses (changing nothing) a name that is not a lower-case identifier, one an
    installed plugin has, or a folder that already exists.
    """
    if not NAME.fullmatch(name):
        raise click.UsageError(
            f"pack name {name!r}: use lower-case letters, digits and _ (such as "
            "'followup'), starting with a letter, at most 40 characters"
        )
    # Installed, the pack's plugin would clash with a plugin of that name (or module).
    taken = {ep.name for ep in installed_entry_points()}
    if name in taken or importlib.util.find_spec(f"crmkit_{name}") is not None:
        raise click.UsageError(
            f"pack name {name!r} is taken: an installed plugin is named {name!r} or "
            f"crmkit_{name}; choose another name"
        )
    dist = name.replace("_", "-")
    root = parent / f"crmkit-{dist}"
    if root.exists():
        raise click.UsageError(f"{root} already exists: choose another name or --path")
    module = root / f"crmkit_{name}"
    files = {
        root / "pyproject.toml": PYPROJECT,
        module / "__init__.py": PLUGIN,
        module / "pack" / "pack.yaml": MANIFEST,
        module / "pack" / f"{name}.yaml": RULESET,
        module / "pack" / f"{name}.scenarios.yaml": SCENARIOS,
        root / "tests" / f"test_{name}.py": TEST,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(name=name, dist=dist), encoding="utf-8")
    return root


@click.group("pack")
def pack_group() -> None:
    """Write a new pack."""


@pack_group.command("new")
@click.argument("name")
@click.option(
    "--path",
    "parent",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="The folder to create the pack folder in.",
)
def new(name: str, parent: Path) -> None:
    """Scaffold a pip-installable pack NAME: pyproject, plugin module, pack.yaml, one
    rule, one scenario and one test, all passing."""
    root = scaffold(name, parent)
    console.print(f"created {root}", highlight=False, soft_wrap=True)
    console.print(
        f"next: pip install -e '{root}[test]' && pytest {root}; "
        f"crmkit rules check {root / f'crmkit_{name}' / 'pack'}",
        highlight=False,
        soft_wrap=True,
    )
