"""The plugin system: entry points, switches, and errors that name the bad plugin."""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from crmkit import CRM, hookimpl
from crmkit.errors import PluginError
from crmkit.facets import Facet, FacetValue
from crmkit.plugins import build_plugin_manager


def test_first_party_packs_register_through_the_crmkit_entry_point_group() -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="crmkit")}
    assert names.get("17hats") == "crmkit_17hats"
    pm = build_plugin_manager()
    assert pm.has_plugin("17hats")
    assert pm.has_plugin("crmkit.default_actions")


def test_block_switch_drops_an_entry_point_plugin(tmp_path: Any) -> None:
    crm = CRM(f"sqlite:///{tmp_path / 'x.db'}", env={"CRMKIT_BLOCK_PLUGINS": "17hats"})
    assert "17hats" not in [p.name for p in crm.packs.all()]
    assert "funnel" in [p.name for p in crm.packs.all()]
    assert crm.pm.has_plugin("crmkit.default_actions")


def test_allow_list_keeps_only_the_named_plugins() -> None:
    assert not build_plugin_manager(env={"CRMKIT_PLUGINS": "someone-else"}).has_plugin("17hats")
    assert build_plugin_manager(env={"CRMKIT_PLUGINS": "17hats"}).has_plugin("17hats")


def test_trace_switch_prints_hook_calls(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    CRM(f"sqlite:///{tmp_path / 'x.db'}", env={"CRMKIT_TRACE_PLUGINS": "1"})
    assert "crmkit_register_packs" in capsys.readouterr().err


class UnknownHook:
    @hookimpl
    def crmkit_register_widgets(self, register: Callable[..., None]) -> None:
        """Not a crmkit hook."""


class UnmarkedTypo:
    def crmkit_register_facet(self, register: Callable[..., None]) -> None:
        """A typo of crmkit_register_facets, without the marker."""


def test_a_plugin_implementing_an_unknown_hook_is_named() -> None:
    with pytest.raises(
        PluginError, match="plugin 'UnknownHook' implements unknown hook 'crmkit_register_widgets'"
    ):
        build_plugin_manager([UnknownHook()], load_entry_points=False)
    with pytest.raises(
        PluginError, match="'UnmarkedTypo' implements unknown hook 'crmkit_register_facet'"
    ):
        build_plugin_manager([UnmarkedTypo()], load_entry_points=False)


class BadSignature:
    @hookimpl
    def crmkit_register_facets(self, register: object, colour: object) -> None:
        """Asks for an argument the hook does not have."""


def test_a_hook_with_a_wrong_signature_is_named() -> None:
    with pytest.raises(PluginError, match="BadSignature"):
        build_plugin_manager([BadSignature()], load_entry_points=False)


def test_two_plugins_with_one_name_are_refused() -> None:
    class Twin:
        pass

    with pytest.raises(PluginError, match="two plugins are named 'Twin'"):
        build_plugin_manager([Twin(), Twin()], load_entry_points=False)


def test_an_entry_point_that_fails_to_import_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint(
        name="broken-pack", value="crmkit_no_such_module", group="crmkit"
    )
    monkeypatch.setattr("crmkit.plugins.entry_points", lambda group: [broken])
    with pytest.raises(
        PluginError, match=r"plugin 'broken-pack'.*failed to import: ModuleNotFoundError"
    ):
        build_plugin_manager()


def test_an_entry_point_with_a_name_clash_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = [
        importlib.metadata.EntryPoint(name="17hats", value="crmkit_17hats", group="crmkit"),
        importlib.metadata.EntryPoint(name="17hats", value="crmkit_17hats", group="crmkit"),
    ]
    monkeypatch.setattr("crmkit.plugins.entry_points", lambda group: twice)
    with pytest.raises(PluginError, match="'17hats'"):
        build_plugin_manager()


def test_two_plugins_registering_one_facet_are_both_named(tmp_path: Any) -> None:
    class Dup:
        @hookimpl
        def crmkit_register_facets(self, register: Callable[[Facet], None]) -> None:
            register(Facet("contact_type", "Type", (FacetValue("a", "A"),), "a"))

    with pytest.raises(Exception, match="registered by both '17hats' and 'Dup'"):
        CRM(f"sqlite:///{tmp_path / 'x.db'}", plugins=[Dup()])


def test_a_register_hook_that_raises_names_its_plugin(tmp_path: Any) -> None:
    class Crashing:
        @hookimpl
        def crmkit_register_packs(self, register: Callable[..., None]) -> None:
            raise KeyError("oops")

    # A plugin whose packs fail is set aside, named, and the CRM starts without it.
    crm = CRM(f"sqlite:///{tmp_path / 'x.db'}", plugins=[Crashing()])
    (broken,) = crm.packs.broken
    assert "plugin 'Crashing' failed in crmkit_register_packs: KeyError" in str(broken)
    with pytest.raises(
        PluginError, match="plugin 'CrashingFacets' failed in crmkit_register_facets"
    ):

        class CrashingFacets:
            @hookimpl
            def crmkit_register_facets(self, register: Callable[..., None]) -> None:
                raise KeyError("oops")

        CRM(f"sqlite:///{tmp_path / 'x.db'}", plugins=[CrashingFacets()])


def test_a_module_plugin_is_registered_under_its_module_name() -> None:
    module = ModuleType("my_plugin")
    pm = build_plugin_manager([module], load_entry_points=False)
    assert pm.has_plugin("my_plugin")


LATE_PLUGIN = """
from crmkit import hookimpl
from crmkit.facets import Facet, FacetValue

helper = len  # a builtin among the module's names is no hook


@hookimpl(specname="crmkit_register_facets")
def facets(register):
    register(Facet(name="late", label="Late", values=(FacetValue("yes", "Yes", "green"),),
                   default="yes", policy="free"))
"""


def test_a_plugin_installed_while_the_process_runs_is_found_by_its_next_crm(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert not build_plugin_manager().has_plugin("late")
    # What installing a distribution writes into a folder already on the import path.
    (site / "late_plugin.py").write_text(LATE_PLUGIN)
    info = site / "late_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: late-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[crmkit]\nlate = late_plugin\n")
    monkeypatch.delitem(sys.modules, "late_plugin", raising=False)
    pm = build_plugin_manager()
    assert pm.has_plugin("late")
    # A module's hook named by specname (not by its own name) is found, and nothing else.
    impls = [impl.function.__name__ for impl in pm.hook.crmkit_register_facets.get_hookimpls()]
    assert "facets" in impls
    assert [c for c in pm.get_hookcallers(pm.get_plugin("late")) or []] == [
        pm.hook.crmkit_register_facets
    ]
