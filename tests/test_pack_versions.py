"""Pack versions: side by side, locked per tenant, upgrades recorded; pack manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import FrozenClock, PackPlugin, invoker, snapshot

from crmkit import CRM, plugins
from crmkit.errors import ConfigError, SourceError, UnknownPackError
from crmkit.manifests import load_pack

V1 = "rules:\n  - name: won\n    when: event.kind == deal\n    then: [{tag: v1}]\n"
V2 = (
    "rules:\n  - name: won\n    when: event.kind == deal\n"
    "    then: [{tag: v2}, {set: {stage: won}}]\n"
)


def make_crm(db_url: str, tmp_path: Path, packs: dict[str, str], clock: FrozenClock) -> CRM:
    tmp_path.mkdir(exist_ok=True)
    crm = CRM(db_url, plugins=[PackPlugin(tmp_path, packs)], clock=clock)
    crm.migrate()
    return crm


def test_versions_side_by_side_pinned_upgraded_and_recorded(
    db_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    crm = make_crm(db_url, tmp_path, {"deals@1.0.0": V1, "deals@2.0.0": V2}, clock)
    old = crm.configure_tenant("old", ["deals@1.0.0"], actor="setup")
    new = crm.configure_tenant("new", ["deals"])
    for tenant in (old, new):
        contact = tenant.add_contact({"first_name": "Ada"})
        tenant.record_event(contact.id, "deal")
    assert old.get_contact(1).tags == ["v1"] and new.get_contact(1).tags == ["v2"]
    (tagged,) = old.explain(1, "tags")
    assert (tagged.pack, tagged.pack_version, tagged.cause) == ("deals", "1.0.0", "deals@1.0.0:won")

    clock.advance(days=1)
    assert crm.upgrade_pack("old", "deals", actor="ops (Grace)") == ("1.0.0", "2.0.0")
    old.add_contact({"first_name": "Bo"})
    old.record_event(2, "deal")
    assert old.get_contact(2).tags == ["v2"]
    assert [t.cause for t in old.explain(2)] == ["deals@2.0.0:won", "deals@2.0.0:won"]
    # The earlier transitions still name the version that made them.
    assert old.explain(1, "tags")[0].pack_version == "1.0.0"

    history = crm.pack_history("old")
    assert [(h["pack"], h["from_version"], h["to_version"], h["actor"]) for h in history] == [
        ("deals", None, "1.0.0", "setup"),
        ("deals", "1.0.0", "2.0.0", "ops (Grace)"),
    ]
    assert history[1]["at"] == clock()

    before = snapshot(crm)
    with pytest.raises(UnknownPackError, match="pack 'deals' has no version '9.0.0'"):
        crm.upgrade_pack("old", "deals", "9.0.0")
    with pytest.raises(ConfigError, match="tenant 'old' does not use pack 'other'"):
        crm.upgrade_pack("old", "other")
    assert snapshot(crm) == before
    # Moving to the version it has records nothing.
    assert crm.upgrade_pack("old", "deals") == ("2.0.0", "2.0.0")
    assert len(crm.pack_history("old")) == 2


def test_a_newer_install_does_not_move_a_tenant_until_it_upgrades(
    db_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    first = make_crm(db_url, tmp_path / "a", {"deals@1.0.0": V1}, clock)
    first.configure_tenant("acme", ["deals"])
    first.close()
    later = make_crm(db_url, tmp_path / "b", {"deals@1.0.0": V1, "deals@2.0.0": V2}, clock)
    acme = later.tenant("acme")
    acme.add_contact({"first_name": "Ada"})
    acme.record_event(1, "deal")
    assert acme.get_contact(1).tags == ["v1"]
    # Reconfiguring with the plain name keeps the locked version.
    later.configure_tenant("acme", ["deals"])
    assert [p.ref for p in acme.runtime(later.db.connect()).packs] == ["deals@1.0.0"]
    later.upgrade_pack("acme", "deals")
    acme.record_event(1, "deal", id="second")
    assert acme.get_contact(1).tags == ["v1", "v2"]
    # An uninstalled locked version is a clear error, not a silent move.
    gone = make_crm(db_url, tmp_path / "c", {"deals@2.0.0": V2}, clock)
    gone.configure_tenant("beta", ["deals"])
    only_v3 = make_crm(db_url, tmp_path / "d", {"deals@3.0.0": V1}, clock)
    with pytest.raises(UnknownPackError, match="pack 'deals' has no version '2.0.0'"):
        only_v3.tenant("beta").get_contact(1)


def test_packs_cli_upgrade_and_history(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = PackPlugin(tmp_path, {"deals@1.0.0": V1, "deals@2.0.0": V2})
    original = plugins.build_plugin_manager
    monkeypatch.setattr(
        "crmkit.plugins.build_plugin_manager", lambda extra, **k: original([*extra, plugin], **k)
    )
    invoke = invoker(db_url, monkeypatch, "acme")
    invoke("init", "--packs", "deals@1.0.0")
    assert '"used_by_tenant": true' in invoke("packs", "--json").replace("\n ", "")
    out = invoke("packs", "upgrade", "deals", "--actor", "Grace")
    assert "deals: 1.0.0 -> 2.0.0" in out
    history = invoke("packs", "history")
    assert "Grace" in history and "(added)" in history and "2.0.0" in history
    assert "no version '7'" in invoke("packs", "upgrade", "deals", "--to", "7", code=1)


# ---------------------------------------------------------------- manifests
def write_pack(folder: Path, manifest: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(manifest, encoding="utf-8")
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


MANIFEST = """\
name: followup
version: "1.2.0"
description: Follow up quiet leads
facets: [stage]
rulesets: [followup.yaml]
scenarios: [followup.scenarios.yaml]
templates: templates
search_keys: [channel]
settings: {followup_days: 7}
fields:
  - {name: budget, label: Budget, type: number, section: info}
"""


def test_a_manifest_describes_a_pack(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path / "pack",
        MANIFEST,
        {"followup.yaml": V1, "followup.scenarios.yaml": "", "templates/hello.txt.j2": "Hi"},
    )
    pack = load_pack(folder)
    assert (pack.ref, pack.description, pack.facets) == (
        "followup@1.2.0",
        "Follow up quiet leads",
        ("stage",),
    )
    assert [r.name for r in pack.rulesets] == ["followup.yaml"]
    assert [s.name for s in pack.scenarios] == ["followup.scenarios.yaml"]
    assert pack.templates is not None and pack.templates.joinpath("hello.txt.j2").is_file()
    assert pack.settings == {"followup_days": 7} and pack.search_keys == ("channel",)
    assert [(f.name, f.type, f.section) for f in pack.fields] == [("budget", "number", "info")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('version: "1.2.0"', "version: 1.10"), r"line 2: version: .*in quotes"),
        (('version: "1.2.0"', "version: banana"), r"line 2: pack 'followup': version 'banana'"),
        (("name: followup", "name: follow up"), r"line 1: invalid pack name 'follow up'"),
        (("facets: [stage]", "facets: stage"), r"line 4: facets: Input should be a valid list"),
        (("rulesets: [followup.yaml]", "rulesets: [nope.yaml]"), r"line 5: rulesets: no file"),
        (("rulesets: [followup.yaml]", "rulesets: [../x.yaml]"), r"line 5: .*plain path inside"),
        (("templates: templates", "templates: missing"), r"line 7: templates: no folder"),
        (("type: number", "type: money"), r"line 11: field 'budget': unknown type 'money'"),
        (("settings:", "colour: red\nsettings:"), r"line 9: colour: unknown key"),
        (("fields:", "fields: [\n"), r"line 1[12]: not valid YAML"),
    ],
)
def test_a_malformed_manifest_names_the_file_and_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    folder = write_pack(
        tmp_path / "pack",
        MANIFEST.replace(*change),
        {"followup.yaml": V1, "followup.scenarios.yaml": "", "templates/a.j2": ""},
    )
    with pytest.raises(SourceError, match=message) as info:
        load_pack(folder)
    assert str(info.value).startswith(str(folder / "pack.yaml"))


def test_a_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read the pack manifest"):
        load_pack(tmp_path)
