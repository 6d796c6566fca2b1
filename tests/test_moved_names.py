"""Names that moved into their packs keep their old import paths for this release."""

from __future__ import annotations

import importlib

import pytest

from crmkit.moved import MOVED


@pytest.mark.parametrize(
    ("old", "name"), [("crmkit.portal", "Portal"), ("crmkit.searches", "SavedSearches")]
)
def test_an_old_import_path_still_gives_the_moved_name_with_a_warning(old: str, name: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to {MOVED[old]}\.{name}"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(MOVED[old]), name)


def test_a_name_that_never_existed_is_still_an_attribute_error() -> None:
    module = importlib.import_module("crmkit.portal")
    with pytest.raises(AttributeError, match="NoSuchThing"):
        module.NoSuchThing  # noqa: B018
